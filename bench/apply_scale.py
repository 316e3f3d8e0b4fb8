"""Apply at scale: many accounts × 10 orders through the Alpaca adapter, with a PostgreSQL journal and N
workers.

Grid: for each size in --sizes (accounts; default 200,1000, and 5000 on request) and each worker count in
--workers (default 1,2,4,8), on a fresh emulator and a fresh journal database: every account starts all cash
with 10 target symbols (10 buys each); `reconciler plan --out` and `reconciler apply PLAN --all --workers N
--auto-approve` run as subprocesses and are timed (wall clock, process start-up included); the emulator — a
separate process (`reconciler emulator --always-open`, no rate limit, market orders and marketable limits fill
at once), so its CPU never shares a GIL with the apply or with this script — is then asked for every order it
received: exactly accounts × 10, one per (account, symbol), no client_order_id twice. Baseline, in the same
run, for every cell: N bare httpx threads POST the same number of equivalent orders (POST /v2/orders, the
adapter's JSON: a day limit buy at the quote + 0.5 %, a 36-character client_order_id) to a fresh emulator of
the same size; no journal, no policies. The CPU per order is what the apply command and all its worker
processes used (user + system), over the orders.

The journal is PostgreSQL: --pg-url URL, or $RECONCILER_TEST_PG_URL, or else a throwaway cluster started with
.ci/postgres.sh and stopped at exit; each cell gets its own database (CREATE DATABASE, dropped afterwards).
--sqlite uses a fresh SQLite file per cell instead. --paper adds the paper-broker check: 500 accounts × 10
orders on SQLite, `plan --out` then `apply PLAN --auto-approve`, and again (fresh journal) with `--all
--workers 1` and with one worker per core. Writes bench/results/apply_alpaca_scale.json (the grid) and, with
--paper, bench/results/apply_scale.json (the paper check).

Targets (each printed MET or MISSED at the end):
  - apply reaches ≥ 50 % of the baseline's orders/s at the best worker count, for every size;
  - ≥ 100 orders/s at 200 accounts × 10 (best worker count);
  - more workers are never slower: orders/s non-decreasing with the worker count (any count slower than a
    smaller count is named; --tolerance allows for noise, default 0);
  - 10,000 accounts × 10 (plan + apply, best worker count) extrapolated from the largest size measured: ≤ 30
    min (linear, and — with two sizes or more — by the power law fitted to the two largest; judged on the
    larger);
  - per-account apply time (apply wall seconds / accounts, best worker count) at the largest size ≤ 1.2 × that
    at the smallest;
  - paper broker, 500 × 10: apply < 15 s (each mode);
  - journal + policy CPU per order ≤ 1.5 ms, measured in this process on the same journal kind (the intent
    before the send and the broker's answer after, two transactions; the shipped policies judging a
    portfolio's 10 orders together, over 10), printed next to the same two commits through the bare database
    driver;
  - and in every cell: exactly accounts × 10 orders at the broker, no duplicates.

Develop with small sizes: `python bench/apply_scale.py --sizes 20,50 --workers 1,2 --sqlite`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

# The parts, each a concept of its own; the names bench/check.py uses are kept importable from here.
import apply_common  # noqa: E402
from apply_alpaca import Cell, Postgres, credentials_env, run_baseline, run_cell, write_emulator_files  # noqa: E402
from apply_common import (  # noqa: E402,F401
    ORDERS_PER_ACCOUNT,
    cli,
    problem,
    write_paper_config,
    write_portfolios,
)
from apply_paper import Overhead, PaperRun, overhead, paper_check  # noqa: E402
from apply_report import fmt_rate, report  # noqa: E402
from results import commit_line, record  # noqa: E402


def ints(text_: str) -> list[int]:
    return [int(x) for x in text_.split(",") if x.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=ints, default=[200, 1000], help="accounts per cell (default 200,1000)")
    ap.add_argument("--workers", type=ints, default=[1, 2, 4, 8], help="worker counts (default 1,2,4,8)")
    ap.add_argument("--pg-url", default=os.environ.get("RECONCILER_TEST_PG_URL") or None,
                    help="PostgreSQL admin URL (default $RECONCILER_TEST_PG_URL, else a throwaway cluster)")
    ap.add_argument("--sqlite", action="store_true", help="journal on a fresh SQLite file per cell instead")
    ap.add_argument("--paper", action="store_true", help="also run the paper-broker check")
    ap.add_argument("--paper-only", action="store_true", help="run only the paper-broker check")
    ap.add_argument("--paper-accounts", type=int, default=500)
    ap.add_argument("--no-baseline", action="store_true", help="skip the bare-httpx baseline")
    ap.add_argument("--tolerance", type=float, default=0.0,
                    help="'more workers never slower' allows this fraction of noise (default 0)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds allowed each plan or apply")
    ap.add_argument("--workdir", help="keep workspaces, plans and product output here (default: a temporary"
                    " dir)")
    args = ap.parse_args()

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="apply-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    print(commit_line())
    print(f"apply_scale {' '.join(sys.argv[1:])}: {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}; "
          f"work directory: {work}", flush=True)
    cells: list[Cell] = []
    paper: list[PaperRun] = []
    cost: Overhead | None = None
    journal_kind = "SQLite" if args.sqlite else "PostgreSQL"
    pg: Postgres | None = None
    try:
        if not args.paper_only:
            if not args.sqlite:
                pg = Postgres(args.pg_url)
            for n in args.sizes:
                root = work / f"alpaca-{n}"
                root.mkdir(parents=True, exist_ok=True)
                write_portfolios(root, n)
                seed, faults = write_emulator_files(root, n)
                env = credentials_env(n)
                for w in args.workers:
                    cell = Cell(n, w)
                    cells.append(cell)
                    print(f"{n} accounts × {ORDERS_PER_ACCOUNT}, {w} workers ...", flush=True)
                    if pg is not None:
                        name, url = pg.create()
                        journal: tuple[str, str] = (name, url)
                    else:
                        db = root / f"journal-w{w}.db"
                        db.unlink(missing_ok=True)
                        journal = (str(db), f"sqlite:///{db}")
                    try:
                        run_cell(cell, root, seed, faults, journal, env, args.timeout)
                    # the bench's own trouble (an emulator that did not start): go on
                    except Exception as exc:
                        problem(f"{n} accounts, {w} workers: {type(exc).__name__}: {exc}")
                    finally:
                        if pg is not None:
                            pg.drop(journal[0])
                    if not args.no_baseline:
                        try:
                            run_baseline(cell, root, seed, faults)
                        except Exception as exc:
                            problem(f"{n} accounts, {w} workers, baseline: {type(exc).__name__}: {exc}")
                    plan_s = f"{cell.plan.seconds:.2f} s" if cell.plan else "-"
                    apply_s = f"{cell.apply.seconds:.2f} s" if cell.apply else "-"
                    print(f"  plan {plan_s}, apply {apply_s}: {fmt_rate(cell.rate)} orders/s; "
                          f"baseline {fmt_rate(cell.base_rate)} orders/s", flush=True)
        if not args.paper_only or args.sqlite:  # the paper check's journal + policy figure, on its SQLite
            if pg is None and not args.sqlite:
                pg = Postgres(args.pg_url)
            if pg is not None:
                name, url = pg.create()
                try:
                    cost = overhead(url)
                finally:
                    pg.drop(name)
            else:
                db = work / "overhead.db"
                db.unlink(missing_ok=True)
                cost = overhead(f"sqlite:///{db}")
        if args.paper or args.paper_only:
            print(f"paper broker: {args.paper_accounts} accounts × {ORDERS_PER_ACCOUNT} ...", flush=True)
            paper = paper_check(work / "paper", args.paper_accounts, args.timeout)
    finally:
        if pg is not None:
            pg.stop()
    report(cells, paper, args, journal_kind, cost)
    if cells:  # the Alpaca grid and the paper check are two tables: neither run overwrites the other's
        record("apply_alpaca_scale", {
            "journal": journal_kind,
            "cells": [{"accounts": c.size, "workers": c.workers, "orders_per_second": round(c.rate, 1),
                       "baseline_orders_per_second": round(c.base_rate, 1),
                       "plan_seconds": round(c.plan.seconds, 2) if c.plan else None,
                       "apply_seconds": round(c.apply.seconds, 2) if c.apply else None, "ok": c.ok}
                      for c in cells],
        })
    if args.paper or args.paper_only:
        record("apply_scale", {
            "journal": journal_kind,
            "paper": [{"mode": p.mode, "apply_seconds": round(p.apply.seconds, 2) if p.apply else None,
                       "orders": p.orders, "filled": p.filled} for p in paper],
            "overhead_ms": None if cost is None else {"journal": round(cost.journal_ms, 3),
                                                      "policy": round(cost.policy_ms, 3),
                                                      "bare": round(cost.bare_ms, 3)},
        })
    if not args.workdir and not apply_common.problems:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
