"""The report of bench/apply_scale.py: the grid's table, the paper runs and every target, MET or MISSED."""

from __future__ import annotations

import argparse
import math

import apply_common
from apply_alpaca import Cell
from apply_common import EXTRAPOLATE_TO, ORDERS_PER_ACCOUNT
from apply_paper import Overhead, PaperRun


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("MET" if ok else "MISSED")


def fmt_rate(x: float) -> str:
    return "-" if not x or math.isnan(x) else f"{x:,.1f}"


def grid_table(cells: list[Cell], journal_kind: str) -> None:
    print(f"\n=== apply at scale: Alpaca adapter → emulator (separate process), journal {journal_kind} ===")
    head = (f"{'accounts':>8} {'workers':>7} {'plan s':>8} {'apply s':>8} {'orders at broker':>17}"
            f" {'req/order':>9} {'apply o/s':>10} {'baseline o/s':>12} {'ratio':>6} {'CPU ms/order':>12} "
            " items")
    print(head)
    print("-" * len(head))
    for c in cells:
        plan_s = f"{c.plan.seconds:.2f}" if c.plan else "-"
        apply_s = "-" if not c.apply else ("timeout" if c.apply.code is None else f"{c.apply.seconds:.2f}")
        got = f"{c.got.orders}/{c.orders}" + ("" if c.got.ok(c.size) else " !") if c.got else "-"
        rpo = f"{c.got.requests / max(c.got.orders, 1):.1f}" if c.got else "-"
        ratio = c.rate / c.base_rate if c.rate and not math.isnan(c.base_rate) else math.nan
        items = ", ".join(f"{k} {v}" for k, v in sorted(c.outcomes.items())) or "-"
        code = "" if not c.apply or c.apply.code in (0, None) else f" (exit {c.apply.code})"
        cpu = f"{c.apply.cpu / c.orders * 1000:.1f}" if c.apply and c.orders else "-"
        print(f"{c.size:>8} {c.workers:>7} {plan_s:>8} {apply_s:>8} {got:>17} {rpo:>9} {fmt_rate(c.rate):>10}"
              f" {fmt_rate(c.base_rate):>12} {'-' if math.isnan(ratio) else f'{ratio:.2f}':>6} {cpu:>12}  "
              f"{items}{code}")


def report(cells: list[Cell], paper: list[PaperRun], args: argparse.Namespace, journal_kind: str,
           cost: Overhead | None = None) -> None:
    if cost is not None:
        total = cost.journal_ms + cost.policy_ms
        print(f"\njournal + policy CPU per order ({journal_kind}): journal {cost.journal_ms:.2f} ms +"
              f" policies {cost.policy_ms:.2f} ms = {total:.2f} ms; bare driver, same two commits:"
              f" {cost.bare_ms:.2f} ms ({cost.journal_ms / cost.bare_ms:.1f}x); target <= 1.5 ms:"
              f" {verdict(total <= 1.5)}")
    if cells:
        grid_table(cells, journal_kind)
    sizes = sorted({c.size for c in cells})
    best: dict[int, Cell] = {}
    for n in sizes:
        row = [c for c in cells if c.size == n and c.ok]
        if row:
            best[n] = max(row, key=lambda c: c.rate)
    if best:
        print("\nper size, at the best worker count:")
        for n, c in best.items():
            assert c.apply is not None and c.plan is not None
            print(f"  {n:>6} accounts: {c.workers} workers, apply {c.apply.seconds:.2f} s = {c.rate:,.1f}"
                  f" orders/s, {c.apply.seconds / n * 1000:.1f} ms per account (plan {c.plan.seconds:.2f} s, "
                  f"{c.plan.seconds / n * 1000:.1f} ms per account); baseline {fmt_rate(c.base_rate)}"
                  " orders/s")
    if paper:
        print("\npaper broker (SQLite journal):")
        for p in paper:
            a = "-" if p.apply is None else ("timeout" if p.apply.code is None else f"{p.apply.seconds:.2f}"
                                             " s")
            code = "" if p.apply is None or p.apply.code in (0, None) else f" (exit {p.apply.code})"
            print(f"  {args.paper_accounts} accounts × {ORDERS_PER_ACCOUNT}, {p.mode}: plan"
                  f" {p.plan.seconds:.2f} s, apply {a}{code}; {p.orders} orders in the books ({p.filled}"
                  f" filled, {p.duplicates} duplicates)")

    print("\nTARGETS")
    lines: list[tuple[str, bool | None]] = []
    all_ok = all(c.ok for c in cells) if cells else None
    lines.append((f"every cell: exactly accounts × {ORDERS_PER_ACCOUNT} orders at the broker, no duplicates, "
                  f"apply exit 0 ({sum(c.ok for c in cells)}/{len(cells)} cells)", all_ok))
    for n in sizes:
        c = best.get(n)
        if c is None:
            lines.append((f"{n} accounts: apply ≥ 50 % of baseline orders/s — no successful cell", False))
            continue
        frac = c.rate / c.base_rate if not math.isnan(c.base_rate) else math.nan
        lines.append((f"{n} accounts, {c.workers} workers: apply {c.rate:,.1f} orders/s is "
                      f"{'?' if math.isnan(frac) else f'{frac:.0%}'} of baseline {fmt_rate(c.base_rate)} "
                      f"(target ≥ 50 %)", None if math.isnan(frac) else frac >= 0.5))
    if 200 in sizes:
        c = best.get(200)
        lines.append((f"200 accounts × 10: {fmt_rate(c.rate if c else 0)} orders/s (target ≥ 100)",
                      bool(c and c.rate >= 100)))
    else:
        lines.append(("200 accounts × 10: ≥ 100 orders/s — size 200 not measured", None))
    for n in sizes:
        row = sorted((c for c in cells if c.size == n), key=lambda c: c.workers)
        if len(row) < 2:
            continue
        slower = [
            f"{b.workers} workers {fmt_rate(b.rate)} < {a.workers} workers {fmt_rate(a.rate)}"
            for i, a in enumerate(row) for b in row[i + 1:]
            if b.rate < a.rate * (1 - args.tolerance)
        ]
        rates = ", ".join(f"{c.workers}: {fmt_rate(c.rate)}" for c in row)
        lines.append((f"{n} accounts: more workers never slower (orders/s {rates})"
                      + (f"; slower: {'; '.join(slower)}" if slower else ""), not slower))
    if best:
        n = max(best)
        c = best[n]
        assert c.apply is not None and c.plan is not None
        total = c.plan.seconds + c.apply.seconds
        linear = total * EXTRAPOLATE_TO / n
        estimate, how = linear, f"linear from {n}: {linear / 60:.1f} min"
        measured = [m for m in sorted(best) if m != n]
        if measured:
            m = measured[-1]
            cm = best[m]
            assert cm.apply is not None and cm.plan is not None
            small = cm.plan.seconds + cm.apply.seconds
            k = math.log(total / small) / math.log(n / m)
            fitted = total * (EXTRAPOLATE_TO / n) ** k
            how += f"; power law from {m} and {n} (exponent {k:.2f}): {fitted / 60:.1f} min"
            estimate = max(estimate, fitted)
        lines.append((f"{EXTRAPOLATE_TO:,} accounts × 10, plan + apply at {c.workers} workers, extrapolated: "
                      f"{how} (target ≤ 30 min)", estimate <= 30 * 60))
    if len(best) >= 2:
        lo, hi = min(best), max(best)
        a_lo, a_hi = best[lo].apply, best[hi].apply
        assert a_lo is not None and a_hi is not None
        per_lo, per_hi = a_lo.seconds / lo, a_hi.seconds / hi
        ratio = per_hi / per_lo
        lines.append((f"per-account apply time: {per_hi * 1000:.1f} ms at {hi} / {per_lo * 1000:.1f} ms at"
                      f" {lo} = {ratio:.2f} (target ≤ 1.2)", ratio <= 1.2))
    else:
        lines.append(("per-account apply time ratio ≤ 1.2 — needs two sizes", None))
    if paper:
        for p in paper:
            good = (
                p.apply is not None
                and p.apply.code == 0
                and p.orders == args.paper_accounts * ORDERS_PER_ACCOUNT
                and not p.duplicates
            )
            secs = "-" if p.apply is None or p.apply.code is None else f"{p.apply.seconds:.2f} s"
            lines.append((f"paper {args.paper_accounts} × 10, {p.mode}: apply {secs} (plan"
                          f" {p.plan.seconds:.2f} s; target < 15 s, all orders booked once)",
                          good and p.apply is not None and p.apply.seconds < 15))
    else:
        lines.append(("paper 500 × 10 < 15 s — not run (--paper)", None))
    for what, ok in lines:
        print(f"  {verdict(ok):>6}  {what}")
    problems = apply_common.problems
    if problems:
        print(f"\nPROBLEMS ({len(problems)}), product output kept in the work directory:")
        for p in problems:
            print("  - " + p.replace("\n", "\n    "))
