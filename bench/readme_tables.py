"""The README's performance tables, generated from the benchmarks' recorded results (bench/results/*.json).

Each generated block sits between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` in README.md, NAME being a
result file; the text around the blocks is written by hand. A docs test (tests/test_bench_readme.py) fails
when a block differs from what this script renders, so the README cannot show a figure no benchmark recorded.

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


def _verdict(ok: bool) -> str:
    return "✔" if ok else "**missed**"


def _where(doc: dict[str, Any]) -> str:
    return f"Measured at commit `{doc['commit']}` on {doc['machine']} (CPU seconds, best of several runs)."


def plan_scale(doc: dict[str, Any]) -> str:
    f = doc["figures"]
    t, w, big, up = f["typical"], f["worst"], f["big"], f["startup"]
    n = t["portfolios"] * t["holdings"]
    rows = [
        "| case | time | per holding | ratio to a Decimal valuation pass | target |",
        "|---|---|---|---|---|",
        f"| {t['portfolios']:,} portfolios × {t['holdings']} holdings, drifted ±10% around targets (typical)"
        f" | {t['seconds']:.2f} s | {t['seconds'] / n * 1e6:.1f} µs | {t['ratio']:.1f}× | < 1 s "
        f"{_verdict(t['seconds'] < 1)}, ≤ 5× {_verdict(t['ratio'] <= 5)} |",
        f"| {w['portfolios']:,} portfolios × {w['holdings']} holdings, random holdings ({w['orders']:,}"
        f" orders) | {w['seconds']:.2f} s | {w['seconds'] / n * 1e6:.1f} µs | {w['ratio']:.1f}× | < 3 s "
        f"{_verdict(w['seconds'] < 3)} |",
        f"| 1 portfolio × {big['holdings']:,} holdings | {big['seconds'] * 1000:.0f} ms | |"
        f" {big['ratio']:.1f}× | |",
        f"| `reconciler --help` start-up (wall) | {up['seconds'] * 1000:.0f} ms (bare Python "
        f"{up['bare_python_seconds'] * 1000:.0f} ms) | | {up['ratio']:.1f}× | "
        f"< 0.3 s {_verdict(up['seconds'] < 0.3)} |",
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
            f" {_verdict(r['bt_over_ours'] >= 20)}) | {r['ours_over_vectorbt']:.2f}× (≤ 2×"
            f" {_verdict(r['ours_over_vectorbt'] <= 2)}) |"
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
                        f"{r['rss_growth_mb']:.0f} MB | < 30 s, < 200 MB {_verdict(ok)} |")
    return (
        "\n".join([_where(doc).replace(" (CPU seconds, best of several runs)", " (wall seconds)"), "", *rows])
        + "\n"
    )


def apply_scale(doc: dict[str, Any]) -> str:
    f = doc["figures"]
    rows = ["| what | measured | target |", "|---|---|---|"]
    for p in f["paper"]:
        secs = p["apply_seconds"]
        ok = secs is not None and secs < 15 and p["orders"] == p["filled"]
        shown = "did not finish" if secs is None else f"{secs:.1f} s"
        rows.append(f"| paper broker, {p['orders']:,} orders (10 per account) on SQLite, `{p['mode']}` |"
                    f" {shown} (wall; {p['orders']:,} booked, {p['filled']:,} filled) | < 15 s {_verdict(ok)}"
                    " |")
    o = f.get("overhead_ms")
    if o:
        total = o["journal"] + o["policy"]
        rows.append(f"| journal + policy CPU per order ({f['journal']} journal) | {o['journal']:.2f} + "
                    f"{o['policy']:.2f} = {total:.2f} ms (the bare driver's two commits: {o['bare']:.2f} ms)"
                    f" | ≤ 1.5 ms {_verdict(total <= 1.5)} |")
    return "\n".join([_where(doc).replace(" (CPU seconds, best of several runs)", ""), "", *rows]) + "\n"


def check(doc: dict[str, Any]) -> str:
    rows = ["| ratio (short form) | recorded |", "|---|---|"]
    rows += [f"| {name} | {value:.2f}× |" for name, value in doc["figures"].items()]
    return "\n".join([_where(doc).replace(" (CPU seconds, best of several runs)", ""), "", *rows]) + "\n"


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
        target = f"≤ {f['target']} {_verdict(s['per_order'] <= f['target'])}" if judged else ""
        rows.append(f"| {accounts} × {orders} | {c['per_order']:.2f} ({c['requests']:,} for {c['orders']:,})"
                    f" | {s['per_order']:.2f} ({s['requests']:,}) | {target} |")
    where = _where(doc).replace(" (CPU seconds, best of several runs)", " (request counts, not times)")
    return "\n".join([where, "", *rows]) + "\n"


def whatif(doc: dict[str, Any]) -> str:
    f = doc["figures"]
    where = _where(doc).replace(" (CPU seconds,", " (wall seconds,")
    ok = f["cold_seconds"] < f["target_seconds"]
    line = (f"{f['symbols']} symbols × {f['rows']:,} trading days, old and new targets:"
            f" {f['cold_seconds']:.1f} s in a fresh interpreter, imports included"
            f" (< {f['target_seconds']:.0f} s {_verdict(ok)}), of which {f['seconds']:.1f} s the work."
            " The section it renders:")
    return "\n".join([where, "", line, "", f["excerpt"].rstrip("\n")]) + "\n"


def sweep_scale(doc: dict[str, Any]) -> str:
    f = doc["figures"]
    n, jobs = f["points"], f["jobs"]
    loads = f["load_one"] + f["load_all"]
    head = (f"Measured at commit `{doc['commit']}` on {doc['machine']} (wall seconds, best of"
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
}


def render(text: str, folder: Path = RESULTS) -> str:
    """README text with every generated block rendered from its recorded result."""
    def block(m: re.Match[str]) -> str:
        name = m["name"]
        if name not in RENDERERS:
            raise SystemExit(f"README.md: no renderer for the block bench:{name} (known:"
                             f" {', '.join(RENDERERS)})")
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
