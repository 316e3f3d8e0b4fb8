"""The README's performance tables, generated from the benchmarks' recorded results (bench/results/*.json).

Each generated block sits between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` in README.md, NAME being a
result file (or `targets`, issue 23's table gathered from several); the text around the blocks is written by
hand. A docs test (tests/test_bench_readme.py) fails when a block differs from what this script renders, so
the README cannot show a figure no benchmark recorded. Every target a figure misses is rendered as a link to
its explanation (`#why-KEY`), and the same test fails when the README has no `<a id="why-KEY"></a>` for it,
or keeps one no missed target links to. `make bench-readme` (bench/readme_run.py) runs every benchmark, then
this script.

    python bench/readme_tables.py           rewrite the blocks in README.md
    python bench/readme_tables.py --check   exit 1, naming the blocks, when README.md differs
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import RESULTS, ROOT, load

README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- bench:(?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- /bench:(?P=name) -->)", re.S)


def _verdict(ok: bool, why: str) -> str:
    """✔, or "missed" linking to the README's explanation of that miss (`<a id="why-WHY"></a>`)."""
    return "✔" if ok else f"**missed** ([why](#why-{why}))"


def _conditions(doc: dict[str, Any]) -> str:
    """The form and the load average the result was measured in, when it says (results before issue 23 §2
    did not)."""
    parts = []
    if "form" in doc:
        parts.append(f"{doc['form']} form")
    if "load" in doc:
        low, high = min(doc["load"]), max(doc["load"])
        parts.append(f"load average {low:.1f}" + (f"–{high:.1f}" if high != low else ""))
    return ", ".join(parts)


def _where(doc: dict[str, Any], how: str = "CPU seconds, best of several runs") -> str:
    notes = "; ".join(x for x in (how, _conditions(doc)) if x)
    return f"Measured at commit `{doc['commit']}` on {doc['machine']}" + (f" ({notes})." if notes else ".")


def _scaled(limit: float, done: int, full: int, unit: str = "s") -> str:
    """A time target at the size measured: the README's target at its own size, in proportion otherwise (the
    quick form's sizes)."""
    if done == full:
        return f"< {limit:g} {unit}"
    return f"< {limit * done / full:.2g} {unit} ({limit:g} {unit} at {full:,}, in proportion)"


PLAN_FULL = 10_000 * 50  # holdings of the README's typical and worst cases (issue 23's targets)
PLAN_BIG_TARGET = 19.0  # 1 × 5,000 at the README's commit before issue 23 (no target of its own: not worse)


def plan_scale(doc: dict[str, Any]) -> str:
    f = doc["figures"]
    t, w, big, up = f["typical"], f["worst"], f["big"], f["startup"]
    n = t["portfolios"] * t["holdings"]
    t_limit, w_limit = 1 * n / PLAN_FULL, 3 * n / PLAN_FULL
    rows = [
        "| case | time | per holding | ratio to a Decimal valuation pass | target |",
        "|---|---|---|---|---|",
        f"| {t['portfolios']:,} portfolios × {t['holdings']} holdings, drifted ±10% around targets (typical)"
        f" | {t['seconds']:.2f} s | {t['seconds'] / n * 1e6:.1f} µs | {t['ratio']:.1f}× |"
        f" {_scaled(1, n, PLAN_FULL)} {_verdict(t['seconds'] < t_limit, 'plan-typical-time')},"
        f" ≤ 5× {_verdict(t['ratio'] <= 5, 'plan-typical-ratio')} |",
        f"| {w['portfolios']:,} portfolios × {w['holdings']} holdings, random holdings ({w['orders']:,}"
        f" orders) | {w['seconds']:.2f} s | {w['seconds'] / n * 1e6:.1f} µs | {w['ratio']:.1f}× |"
        f" {_scaled(3, n, PLAN_FULL)} {_verdict(w['seconds'] < w_limit, 'plan-worst')} |",
        f"| 1 portfolio × {big['holdings']:,} holdings | {big['seconds'] * 1000:.0f} ms | |"
        f" {big['ratio']:.1f}× | ≤ {PLAN_BIG_TARGET:g}× (no worse than before issue 23)"
        f" {_verdict(big['ratio'] <= PLAN_BIG_TARGET, 'plan-big')} |",
        f"| `reconciler --help` start-up (wall) | {up['seconds'] * 1000:.0f} ms (bare Python "
        f"{up['bare_python_seconds'] * 1000:.0f} ms) | | {up['ratio']:.1f}× | "
        f"< 0.3 s {_verdict(up['seconds'] < 0.3, 'startup')} |",
    ]
    return "\n".join([_where(doc), "", *rows]) + "\n"


def backtest_vs_peers(doc: dict[str, Any]) -> str:
    f = doc["figures"]
    v = f["versions"]
    names = {"monthly": "monthly calendar", "threshold": "relative threshold 20%"}
    rows = [
        f"| strategy | reconciler | bt {v['bt']} | vectorbt {v['vectorbt']} | bt / reconciler "
        "| reconciler / vectorbt |",
        "|---|---|---|---|---|---|",
    ]
    for kind, r in f["rows"].items():
        rows.append(
            f"| {names.get(kind, kind)} | {r['ours_seconds']:.3f} s | {r['bt_seconds']:.3f} s | "
            f"{r['vectorbt_seconds']:.3f} s | {r['bt_over_ours']:.1f}× (≥ 20×"
            f" {_verdict(r['bt_over_ours'] >= 20, f'backtest-{kind}-bt')}) | {r['ours_over_vectorbt']:.2f}×"
            f" (≤ 2× {_verdict(r['ours_over_vectorbt'] <= 2, f'backtest-{kind}-vectorbt')}) |"
        )
    agree = max(r["agree"] for r in f["rows"].values())
    head = (f"{_where(doc)} {f['stocks']} stocks × {f['days']:,} days; the three final values agree to "
            f"{agree:.0e}.")
    tail = []
    if "scaling" in f:
        big = f["scaling"].get("500x8000")
        if big:
            tail = ["", f"Scaling on generated prices: 500 assets × 8,000 days takes {big['monthly']:.1f} s"
                        f" (monthly) and {big['threshold']:.1f} s (threshold)."]
    return "\n".join([head, "", *rows, *tail]) + "\n"


def hostile_broker(doc: dict[str, Any]) -> str:
    rows = ["| adapter | case | seconds to give up | × a sound observation | peak RSS growth | target |",
            "|---|---|---|---|---|---|"]
    for adapter, cases in doc["figures"].items():
        for case, r in cases.items():
            ok = r["seconds"] < 30 and r["rss_growth_mb"] < 200
            rows.append(f"| {adapter} | {case} | {r['seconds']:.1f} s | {r['over_sound']:.0f}× | "
                        f"{r['rss_growth_mb']:.0f} MB | < 30 s, < 200 MB {_verdict(ok, 'hostile')} |")
    return "\n".join([_where(doc, "wall seconds"), "", *rows]) + "\n"


def executor_throughput(doc: dict[str, Any]) -> str:
    f = doc["figures"]
    share = f["achieved"] / f["rate"]
    line = (f"A {f['orders']:,}-order plan through the Alpaca adapter to the emulator limited to"
            f" {f['rate']:g} requests/s (429 + `Retry-After` beyond it; {f['filled']:,} filled, exit"
            f" {f['exit']}):"
            f" {f['requests']:,} requests in {f['seconds']:.1f} s = {f['achieved']:.1f} req/s,"
            f" **{share:.2f} of the allowed rate** (target ≥ {f['target_share']:.2f}"
            f" {_verdict(share >= f['target_share'] and f['exit'] == 0, 'executor-rate')}),"
            f" **{f['limited']} 429s** (target 0 {_verdict(f['limited'] == 0, 'executor-429')});"
            f" the bare-request baseline through the same limiter reaches {f['baseline_rate']:.1f} req/s.")
    return "\n".join([_where(doc, "wall seconds"), "", line]) + "\n"


def apply_alpaca_scale(doc: dict[str, Any]) -> str:
    f = doc["figures"]
    best: dict[int, dict[str, Any]] = {}
    for c in f["cells"]:
        if c["ok"] and c["orders_per_second"] > best.get(c["accounts"], {}).get("orders_per_second", 0):
            best[c["accounts"]] = c
    rows = ["| accounts | workers | plan | apply | orders/s | per account | bare-HTTP baseline, same run |"
            " share of the baseline (target ≥ 50%) |", "|---|---|---|---|---|---|---|---|"]
    first = min(best) if best else None
    for n, c in sorted(best.items()):
        per = c["apply_seconds"] / n * 1000
        rate = f"{c['orders_per_second']:,.0f}"
        if n == 200:
            rate += f" (target ≥ 100 {_verdict(c['orders_per_second'] >= 100, 'alpaca-rate')})"
        if first is not None and n != first:
            growth = per / (best[first]["apply_seconds"] / first * 1000)
            per_text = (f"{per:.0f} ms ({growth:.2f}× of {first}: target ≤ 1.2×"
                        f" {_verdict(growth <= 1.2, 'alpaca-per-account')})")
        else:
            per_text = f"{per:.0f} ms"
        share = c["orders_per_second"] / c["baseline_orders_per_second"]
        rows.append(f"| {n:,} | {c['workers']} | {c['plan_seconds']:.1f} s | {c['apply_seconds']:.1f} s |"
                    f" {rate} | {per_text} | {c['baseline_orders_per_second']:,.0f} orders/s |"
                    f" {share:.0%} {_verdict(share >= 0.5, 'alpaca-baseline')} |")
    failed = [c for c in f["cells"] if not c["ok"]]
    tail = ["", f"{len(failed)} of {len(f['cells'])} cells failed (an order missing or sent twice, or the"
            " apply exited non-zero)."] if failed else []
    return "\n".join([_where(doc, f"wall seconds; {f['journal']} journal"), "", *rows, *tail]) + "\n"


PAPER_ORDERS, PAPER_TARGET_SECONDS = 5_000, 15  # issue 23 §3: 5,000 paper orders under 15 s
JOURNAL_POLICY_TARGET_MS = 1.5  # issue 23 §3: journal + policy CPU per order


def _paper_run(p: dict[str, Any]) -> tuple[str, bool]:
    """A paper apply's time as shown, and whether it met the target (every order booked once and filled)."""
    secs = p["apply_seconds"]
    ok = secs is not None and secs < PAPER_TARGET_SECONDS * p["orders"] / PAPER_ORDERS
    return ("did not finish" if secs is None else f"{secs:.1f} s"), ok and p["orders"] == p["filled"]


def _journal_policy(o: dict[str, float]) -> tuple[float, bool]:
    """Journal + policy CPU per order, and whether it met the target."""
    total = o["journal"] + o["policy"]
    return total, total <= JOURNAL_POLICY_TARGET_MS


def apply_scale(doc: dict[str, Any]) -> str:
    f = doc["figures"]
    rows = ["| what | measured | target |", "|---|---|---|"]
    for p in f["paper"]:
        shown, ok = _paper_run(p)
        rows.append(f"| paper broker, {p['orders']:,} orders (10 per account) on SQLite, `{p['mode']}` |"
                    f" {shown} (wall; {p['orders']:,} booked, {p['filled']:,} filled) |"
                    f" {_scaled(PAPER_TARGET_SECONDS, p['orders'], PAPER_ORDERS)} {_verdict(ok, 'paper')} |")
    o = f.get("overhead_ms")
    if o:
        total, ok = _journal_policy(o)
        rows.append(f"| journal + policy CPU per order ({f['journal']} journal) | {o['journal']:.2f} + "
                    f"{o['policy']:.2f} = {total:.2f} ms (the bare driver's two commits: {o['bare']:.2f} ms)"
                    f" | ≤ {JOURNAL_POLICY_TARGET_MS} ms {_verdict(ok, 'journal-policy')} |")
    return "\n".join([_where(doc, ""), "", *rows]) + "\n"


def check(doc: dict[str, Any]) -> str:
    import check as guard  # bench/check.py: GUARDED, each ratio's target and direction

    rows = ["| ratio (short form) | recorded | target | `make bench-check` fails at |", "|---|---|---|---|"]
    for name, value in doc["figures"].items():
        g = guard.GUARDED.get(name)
        if g is None:  # a ratio the check no longer measures: tests/test_bench_guard.py names it
            rows.append(f"| {name} | {value:.2f}× | (no longer judged) | |")
            continue
        r = guard.Ratio(name, value, g.target, g.higher_is_better, "", recorded=value)
        sign = "≥" if g.higher_is_better else "≤"
        rows.append(f"| {name} | {value:.2f}× | {sign} {g.target:g}× | {'<' if g.higher_is_better else '>'}"
                    f" {r.limit:.2f}× |")
    return "\n".join([_where(doc, ""), "", *rows]) + "\n"


def _measured_at(doc: dict[str, Any]) -> str:
    cond = _conditions(doc)
    return f"`{doc['commit']}`" + (f", {cond}" if cond else "")


def targets(folder: Path) -> str:
    """Issue 23's table: each figure with its target and verdict, from the results the sections below render
    in full."""
    plan, peers, paper = (load(name, folder) for name in ("plan_scale", "backtest_vs_peers", "apply_scale"))
    rows = ["| figure | measured | target | verdict | benchmark, measured at |", "|---|---|---|---|---|"]
    pf = plan["figures"]
    n = pf["typical"]["portfolios"] * pf["typical"]["holdings"]
    size = f"{pf['typical']['portfolios']:,} × {pf['typical']['holdings']}"
    at = f"`bench/plan_scale.py`, {_measured_at(plan)}"
    for key, label, limit, why in (("typical", "typical", 1, "plan-typical-time"),
                                   ("worst", "worst case", 3, "plan-worst")):
        c = pf[key]
        rows.append(f"| plan {size}, {label} | {c['seconds']:.2f} s | {_scaled(limit, n, PLAN_FULL)} |"
                    f" {_verdict(c['seconds'] < limit * n / PLAN_FULL, why)} | {at} |")
        if key == "typical":
            rows.append(f"| plan {size}, typical, over the valuation pass | {c['ratio']:.1f}× | ≤ 5× |"
                        f" {_verdict(c['ratio'] <= 5, 'plan-typical-ratio')} | {at} |")
    big = pf["big"]
    rows.append(f"| plan 1 × {big['holdings']:,}, over the valuation pass | {big['ratio']:.1f}× |"
                f" ≤ {PLAN_BIG_TARGET:g}× | {_verdict(big['ratio'] <= PLAN_BIG_TARGET, 'plan-big')} | {at} |")
    at = f"`bench/backtest_vs_peers.py`, {_measured_at(peers)}"
    for kind, r in peers["figures"]["rows"].items():
        rows.append(f"| backtest {kind}, bt's time over ours | {r['bt_over_ours']:.1f}× | ≥ 20× |"
                    f" {_verdict(r['bt_over_ours'] >= 20, f'backtest-{kind}-bt')} | {at} |")
        rows.append(f"| backtest {kind}, ours over vectorbt's | {r['ours_over_vectorbt']:.2f}× | ≤ 2× |"
                    f" {_verdict(r['ours_over_vectorbt'] <= 2, f'backtest-{kind}-vectorbt')} | {at} |")
    af = paper["figures"]
    at = f"`bench/apply_scale.py --paper`, {_measured_at(paper)}"
    for p in af["paper"]:
        shown, ok = _paper_run(p)
        rows.append(f"| paper, {p['orders']:,} orders, `{p['mode']}` | {shown} |"
                    f" {_scaled(PAPER_TARGET_SECONDS, p['orders'], PAPER_ORDERS)} |"
                    f" {_verdict(ok, 'paper')} | {at} |")
    o = af.get("overhead_ms")
    if o:
        total, ok = _journal_policy(o)
        rows.append(f"| journal + policy CPU per order | {total:.2f} ms | ≤ {JOURNAL_POLICY_TARGET_MS} ms |"
                    f" {_verdict(ok, 'journal-policy')} | {at} |")
    return "\n".join(rows) + "\n"


def _dollars(x: float) -> str:
    return f"-${-x:,.0f}" if round(x) < 0 else f"${x:,.0f}"


BACKTEST_ROWS: list[tuple[str, str, Callable[[Any], str]]] = [
    ("final value", "final_value", _dollars),
    ("CAGR", "cagr", lambda x: f"{x:.2%}"),
    ("Sharpe", "sharpe", lambda x: f"{x:.2f}"),
    ("max drawdown", "max_drawdown", lambda x: f"{x:.2%}"),
    ("turnover / year", "turnover_per_year", lambda x: f"{x:.2%}"),
    ("rebalances", "rebalances", lambda x: f"{x:,}"),
    ("total costs", "costs", _dollars),
    ("taxes paid", "taxes_paid", _dollars),
    ("avg deviation from target", "avg_deviation", lambda x: f"{x:.2%}"),
]


def backtest_table(strategies: list[dict[str, Any]]) -> list[str]:
    """The README's backtest results table: one column per strategy, figures as the text table rounds them."""
    rows = ["| | " + " | ".join(s["name"] for s in strategies) + " |", "|---" * (len(strategies) + 1) + "|"]
    rows += [
        f"| {label} | " + " | ".join(fmt(s[key]) for s in strategies) + " |"
        for label, key, fmt in BACKTEST_ROWS
    ]
    return rows


def backtest_example(doc: dict[str, Any]) -> str:
    f = doc["figures"]
    head = (f"A real run of that command at commit `{doc['commit']}` ({f['start']} → {f['end']},"
            f" {f['rows']:,} {f['rows_are']}; {f['seconds']:.1f} s wall for all {len(f['strategies'])}"
            f" strategies on {doc['machine']}):")
    return "\n".join([head, "", *backtest_table(f["strategies"])]) + "\n"


def requests_per_order(doc: dict[str, Any]) -> str:
    f = doc["figures"]
    rows = [
        "| accounts × orders per account | polling | trade_updates stream | target |",
        "|---|---|---|---|",
    ]
    cells = {(c["accounts"], c["orders_per_account"], c["stream"]): c for c in f["cells"]}
    for (accounts, orders, streamed), c in cells.items():
        if streamed:
            continue
        s = cells[(accounts, orders, True)]
        judged = f"{accounts}x{orders}" == f["judged"]
        target = f"≤ {f['target']} {_verdict(s['per_order'] <= f['target'], 'requests')}" if judged else ""
        rows.append(f"| {accounts} × {orders} | {c['per_order']:.2f} ({c['requests']:,} for {c['orders']:,})"
                    f" | {s['per_order']:.2f} ({s['requests']:,}) | {target} |")
    where = _where(doc, "request counts, not times")
    return "\n".join([where, "", *rows]) + "\n"


def whatif(doc: dict[str, Any]) -> str:
    f = doc["figures"]
    where = _where(doc, "wall seconds, best of several runs")
    ok = f["cold_seconds"] < f["target_seconds"]
    line = (f"{f['symbols']} symbols × {f['rows']:,} trading days, old and new targets:"
            f" {f['cold_seconds']:.1f} s in a fresh interpreter, imports included"
            f" (< {f['target_seconds']:.0f} s {_verdict(ok, 'whatif')}), of which {f['seconds']:.1f} s the"
            " work."
            " The section it renders:")
    return "\n".join([where, "", line, "", f["excerpt"].rstrip("\n")]) + "\n"


def sweep_scale(doc: dict[str, Any]) -> str:
    f = doc["figures"]
    n, jobs = f["points"], f["jobs"]
    loads = f["load_one"] + f["load_all"]
    form = f"{doc['form']} form, " if "form" in doc else ""
    head = (f"Measured at commit `{doc['commit']}` on {doc['machine']} ({form}wall seconds, best of"
            f" {len(f['runs_one'])} alternating runs; 1-minute load average {min(loads):.1f} to"
            f" {max(loads):.1f} before them: the machine was shared). {n} points on {f['stocks']} stocks ×"
            f" {f['days']:,} days ({f['years']:.0f} years).")
    rows = [
        "| workers | time | per point | speed-up | per core |",
        "|---|---|---|---|---|",
        f"| 1 | {f['seconds_one']:.1f} s | {f['seconds_one'] / n * 1000:.0f} ms | 1.00× | 1.00 |",
        f"| {jobs} | {f['seconds_all']:.1f} s | {f['seconds_all'] / n * 1000:.0f} ms |"
        f" {f['speedup']:.2f}× | {f['per_core']:.2f} |",
    ]
    tail = (f"CPU seconds of every process: {f['cpu_one']:.1f} on one worker, {f['cpu_all']:.1f} on {jobs}:"
            f" an idle machine's speed-up would be at most {f['idle_bound']:.2f}×.")
    return "\n".join([head, "", *rows, "", tail]) + "\n"


RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "plan_scale": plan_scale, "backtest_vs_peers": backtest_vs_peers, "hostile_broker": hostile_broker,
    "check": check, "backtest_example": backtest_example, "requests_per_order": requests_per_order,
    "apply_scale": apply_scale, "whatif": whatif, "sweep_scale": sweep_scale,
    "executor_throughput": executor_throughput, "apply_alpaca_scale": apply_alpaca_scale,
}
# Blocks gathered from several results (rendered from the folder, not one file).
SUMMARIES: dict[str, Callable[[Path], str]] = {"targets": targets}


def render(text: str, folder: Path = RESULTS) -> str:
    """README text with every generated block rendered from its recorded result."""
    def block(m: re.Match[str]) -> str:
        name = m["name"]
        if name in SUMMARIES:
            return m.group(1) + SUMMARIES[name](folder) + m.group(4)
        if name not in RENDERERS:
            raise SystemExit(f"README.md: no renderer for the block bench:{name} (known:"
                             f" {', '.join([*RENDERERS, *SUMMARIES])})")
        return m.group(1) + RENDERERS[name](load(name, folder)) + m.group(4)

    return BLOCK.sub(block, text)


def stale(text: str, folder: Path = RESULTS) -> list[str]:
    """The names of the blocks whose figures differ from the recorded results."""
    fresh = {m["name"]: m["body"] for m in BLOCK.finditer(render(text, folder))}
    return [m["name"] for m in BLOCK.finditer(text) if fresh[m["name"]] != m["body"]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text = README.read_text()
    if args.check:
        names = stale(text)
        for name in names:
            print(f"README.md: the bench:{name} block differs from bench/results/{name}.json; "
                  "run python bench/readme_tables.py")
        return 1 if names else 0
    README.write_text(render(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
