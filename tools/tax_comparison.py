"""The tax comparison of docs/backtest.md, run again: the shipped S&P data (`--dataset sp500`), 2000-2022,
$100,000 and $500 a month, the example workspace's costs, taxes at 35% short-term and 15% long-term; each
column a portfolio of examples/backtest and a lot method. Prints the Markdown table the docs show.

    python tools/tax_comparison.py            # from the repository's root, with the backtest extra installed

Each run is the real CLI (`reconciler backtest ... --format json`) in a subprocess, one after another.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORKSPACE = ROOT / "examples" / "backtest"
STRATEGIES = ("calendar:quarterly", "threshold:rel=0.25")
COMMON = (
    "--dataset", "sp500", "--start", "2000-01-01", "--cash", "100000", "--contribution", "500",
    "--every", "monthly", "--format", "json",
)
TAXED = ("--tax-short", "0.35", "--tax-long", "0.15")
# The same rules' trades with no tax paid: what drift did. --tax-what-if: the portfolios' tax: blocks say 35%
# and 15%, and without it the backtest refuses a flag that disagrees with its portfolio's block.
UNTAXED = ("--tax-short", "0", "--tax-long", "0", "--tax-what-if")
# (column, portfolio, --lots)
COLUMNS = (
    ("tax: none (FIFO)", "sp500-20", "fifo"),
    ("HIFO", "sp500-20", "hifo"),
    ("HIFO + budget", "sp500-20-budget", "hifo"),
    ("HIFO + harvesting", "sp500-20-taxed", "hifo"),
    ("HIFO + budget + harvesting", "sp500-20-budget-harvest", "hifo"),
)


def _dollars(x: float) -> str:
    return f"-${-x:,.0f}" if x < 0 else f"${x:,.0f}"


# (row, the figure of one strategy's JSON)
ROWS = (
    ("final value (taxes paid, before the tax if sold)", lambda s: _dollars(s["metrics"]["final_value"])),
    ("taxes paid", lambda s: _dollars(s["metrics"]["taxes_paid"])),
    ("tax if sold at the end", lambda s: _dollars(s["metrics"]["liquidation_tax"])),
    ("after-tax value if sold", lambda s: _dollars(s["metrics"]["after_tax_value"])),
    ("after-tax CAGR (if sold at the end)", lambda s: f"{s['after_tax_cagr'] * 100:.2f}%"),
    ("CAGR (taxes paid included)", lambda s: f"{s['metrics']['cagr'] * 100:.2f}%"),
    ("realized gains, largest year", lambda s: _dollars(max(
        y["short"] + y["long"] for y in s["realized_by_year"].values()))),
    ("harvests / tax saved by harvesting", lambda s: (
        f"{s['metrics']['harvests']} / {_dollars(s['metrics']['tax_saved'])}" if s["metrics"]["harvests"]
        else "—")),
    ("avg / max deviation", lambda s: f"{s['metrics']['avg_deviation'] * 100:.2f}% /"
     f" {s['metrics']['max_deviation'] * 100:.2f}%"),
    ("rebalances / costs", lambda s: f"{s['metrics']['rebalances']} / {_dollars(s['metrics']['costs'])}"),
)


def run(portfolio: str, lots: str, rates: tuple[str, ...] = TAXED) -> dict[str, Any]:
    """One backtest of both strategies, as the CLI reports it in JSON."""
    cli = str(Path(sys.executable).with_name("reconciler"))
    command = [cli, "-c", "reconciler.yaml", "backtest", portfolio,
               *(arg for s in STRATEGIES for arg in ("--strategy", s)), *COMMON, *rates, "--lots", lots]
    done = subprocess.run(command, cwd=WORKSPACE, capture_output=True, text=True, check=True)
    out: dict[str, Any] = json.loads(done.stdout)
    for s in out["strategies"]:
        # The after-tax value if sold, as a yearly rate: what the money put in grew to, by the same
        # time-weighting as CAGR, scaled by after-tax value / final value at the end.
        ratio = s["metrics"]["after_tax_value"] / s["metrics"]["final_value"]
        s["after_tax_cagr"] = (1 + s["metrics"]["cagr"]) * ratio ** (1 / out["years"]) - 1
    return out


def table() -> str:
    """The Markdown table: a block of rows per strategy, a column per setting."""
    runs = [run(portfolio, lots) for _, portfolio, lots in COLUMNS]
    lines = ["| | " + " | ".join(c for c, _, _ in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for i, name in enumerate(STRATEGIES):
        lines.append(f"| **{name}** |" + " |" * len(COLUMNS))
        for row, figure in ROWS:
            lines.append(f"| {row} | " + " | ".join(figure(r["strategies"][i]) for r in runs) + " |")
    return "\n".join(lines)


def untaxed() -> str:
    """The final values of HIFO and HIFO + budget with no tax at all: the budget's trades, without the tax."""
    runs = [run(portfolio, lots, UNTAXED) for _, portfolio, lots in COLUMNS[1:3]]
    lines = ["| no tax (rates 0) | " + " | ".join(c for c, _, _ in COLUMNS[1:3]) + " |", "|---|---|---|"]
    for i, name in enumerate(STRATEGIES):
        values = (_dollars(r["strategies"][i]["metrics"]["final_value"]) for r in runs)
        lines.append(f"| {name}: final value | " + " | ".join(values) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
    print()
    print(untaxed())
