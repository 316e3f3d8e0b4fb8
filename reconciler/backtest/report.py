"""What a backtest shows: the answer (does a rule leave more than the baseline after costs and taxes, if sold
at the end?), a side-by-side table, the same figures as JSON, and charts (reconciler/backtest/charts.py) as a
PNG or in a self-contained HTML page that opens offline."""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler import files
from reconciler.backtest.columns import WIDTH, layout
from reconciler.backtest.engine import Settings, StrategyRun
from reconciler.backtest.metrics import Metrics, frequency, years_between
from reconciler.errors import BacktestError

if TYPE_CHECKING:
    from rich.console import Console

MAX_EVENTS = 20

REPORT = files.Kind("report", files.REPORT.max_bytes, "choose a writable path for --report", BacktestError)


@dataclass(frozen=True)
class Report:
    """Every run of a backtest with what was asked, so each output (text, JSON, HTML) renders the same."""

    portfolio: str
    source: str
    settings: Settings
    costs_text: str
    risk_free: float
    runs: list[StrategyRun]
    metrics: list[Metrics]
    # the portfolio trades fractions (trading.fractional): no whole-share rounding note
    fractional: bool = False
    # Which cost model the run used: `configured` (the broker's in reconciler.yaml, with any flags), `none`
    # (--no-costs) or `journal` (--costs-from-journal: `learned` holds the fit, learned_costs.Fit.as_dict).
    costs_model: str = "configured"
    learned: dict[str, Any] | None = None
    # For a portfolio with `tax:`: where the lot method and rates come from (request.taxed); None: the flags.
    tax_source: str | None = None

    @property
    def start(self) -> date:
        """The first day of the runs."""
        return date.fromisoformat(str(self.runs[0].dates[0]))

    @property
    def end(self) -> date:
        """The last day of the runs, the day 'if sold' figures are taken on."""
        return date.fromisoformat(str(self.runs[0].dates[-1]))

    @property
    def days(self) -> int:
        """How many rows of prices the runs covered."""
        return len(self.runs[0].dates)

    @property
    def unit(self) -> str:
        """What a row of the prices is: trading days, weeks, months..."""
        return frequency(self.runs[0].dates)

    @property
    def years(self) -> float:
        """The runs' span in years, the basis of every annualised figure."""
        return years_between(self.runs[0].dates)

    @property
    def baseline(self) -> int:
        """The strategy the others are measured against: the first buy-and-hold (never), else the first."""
        return next((k for k, run in enumerate(self.runs) if run.strategy.kind == "never"), 0)

    @property
    def taxed(self) -> bool:
        """Whether taxes were charged, so tax rows are shown only when they mean something."""
        return bool(self.settings.tax_short or self.settings.tax_long)

    def header(self) -> list[str]:
        """The lines above the table that say what was run: prices, money flows, costs and taxes."""
        s = self.settings
        flows = "none"
        if s.contribution > 0:
            flows = f"contributions of ${s.contribution:,.2f} {s.contribution_every}"
        elif s.contribution < 0:
            flows = f"withdrawals of ${-s.contribution:,.2f} {s.contribution_every}"
        taxes = (
            f"{s.lot_method.upper()} lots, short-term {s.tax_short:.1%}, long-term {s.tax_long:.1%}"
            if self.taxed
            else f"none (realized gains tracked with {s.lot_method.upper()} lots)"
        )
        if self.tax_source is not None:
            taxes += f", {self.tax_source}"
        return [
            f"Backtest of {self.portfolio} on {self.source}: {self.start} → {self.end},"
            f" {self.days:,} {self.unit} ({self.years:.1f} years)",
            f"Start with ${s.initial_cash:,.2f}; cash flows: {flows}",
            f"Costs: {self.costs_text}; taxes: {taxes}",
        ]


def _pct(x: float) -> str:
    return f"{x:.2%}" if math.isfinite(x) else "n/a"


def _money(x: float) -> str:
    """Money as the plan writes it; a loss with its sign first: -$2,924.99."""
    text = f"${abs(x):,.2f}"
    return f"-{text}" if x < 0 and text != "$0.00" else text  # never $-2.00, nor -$0.00


def _signed_money(x: float) -> str:
    return f"+${x:,.2f}" if x > 0 else _money(x)


ROWS: list[tuple[str, str]] = [
    ("after-tax value if sold", "after_tax_value"),
    ("final value", "final_value"),
    ("  tax if sold", "liquidation_tax"),
    ("CAGR", "cagr"),
    ("volatility", "volatility"),
    ("Sharpe", "sharpe"),
    ("max drawdown", "max_drawdown"),
    ("turnover / year", "turnover_per_year"),
    ("rebalances", "rebalances"),
    ("orders", "orders"),
    ("total costs", "costs"),
    ("  commissions", "commissions"),
    ("  slippage", "slippage"),
    ("taxes paid", "taxes_paid"),
    ("  tax saved by harvesting", "tax_saved"),
    ("realized gains, short", "realized_short"),
    ("realized gains, long", "realized_long"),
    ("unrealized gains", "unrealized_gains"),
    ("avg deviation", "avg_deviation"),
    ("max deviation", "max_deviation"),
]
MONEY = {"final_value", "costs", "commissions", "slippage", "taxes_paid", "realized_short", "realized_long",
         "unrealized_gains", "liquidation_tax", "after_tax_value", "tax_saved"}
PERCENT = {"cagr", "volatility", "max_drawdown", "turnover_per_year", "avg_deviation", "max_deviation"}
# Which way is better, for the figures where one way is: the report marks the best strategy on these rows only
# (more turnover or more realized gains is neither better nor worse in itself).
BETTER: dict[str, int] = {
    "after_tax_value": 1, "final_value": 1, "cagr": 1, "sharpe": 1, "max_drawdown": 1,
    "volatility": -1, "costs": -1, "taxes_paid": -1, "liquidation_tax": -1, "avg_deviation": -1,
    "max_deviation": -1,
}


@dataclass(frozen=True)
class Row:
    """One figure across the strategies, with the columns that hold its best value."""

    label: str
    cells: list[str]
    best: frozenset[int] = frozenset()  # the columns holding the best value, where a row has a better way
    key: str = ""


def _cell(key: str, value: Any) -> str:
    if key in MONEY:
        return _money(float(value))
    if key in PERCENT:
        return _pct(float(value))
    if key == "sharpe":
        return f"{value:.2f}"
    return f"{value:,}"


def _best(key: str, values: list[float]) -> frozenset[int]:
    if key not in BETTER or len(values) < 2:
        return frozenset()
    finite = [v * BETTER[key] for v in values if math.isfinite(v)]
    if not finite or min(finite) == max(finite):
        return frozenset()
    top = max(finite)
    return frozenset(k for k, v in enumerate(values) if math.isfinite(v) and v * BETTER[key] == top)


def summary_rows(report: Report) -> list[Row]:
    """The figures of each strategy, then the answer row: after-tax value against the baseline's."""
    rows = []
    for label, key in ROWS:
        values = [getattr(m, key) for m in report.metrics]
        rows.append(Row(label, [_cell(key, v) for v in values], _best(key, [float(v) for v in values]), key))
    base = report.metrics[report.baseline].after_tax_value
    diffs = [m.after_tax_value - base for m in report.metrics]
    name = report.runs[report.baseline].strategy.name
    best = _best("after_tax_value", diffs)
    rows.insert(1, Row(f"after tax vs {name}", [
        "baseline" if k == report.baseline else _signed_money(d) for k, d in enumerate(diffs)
    ], best, "vs_baseline"))
    if base > 0:
        rows.insert(2, Row("  in percent", [
            "" if k == report.baseline else f"{d / base:+.2%}" for k, d in enumerate(diffs)
        ], best, "vs_baseline_pct"))
    return rows


def weight_rows(report: Report) -> list[Row]:
    """Per symbol, each strategy's average weight."""
    return [
        Row(f"avg weight {s}", [_pct(m.average_weights[s]) for m in report.metrics])
        for s in report.runs[0].symbols
    ]


def table_rows(report: Report) -> list[tuple[str, list[str]]]:
    """The comparison table as text cells: one row per figure, one column per strategy."""
    return [(r.label, r.cells) for r in summary_rows(report) + weight_rows(report)]


def answer(report: Report) -> str:
    """One sentence: does the best rule leave more than the baseline, after costs and taxes, if sold at the
    end?"""
    names = [run.strategy.name for run in report.runs]
    b = report.baseline
    base, base_name = report.metrics[b], names[b]
    if report.runs[b].strategy.kind == "never":
        base_name += " (buy and hold)"
    after = "after costs and taxes" if report.taxed else ("after costs (no tax: give --tax-short and"
                                                          " --tax-long)")
    others = [k for k in range(len(names)) if k != b]
    if not others:
        return f"Only {base_name} ran: add a --strategy to compare a rule against it."
    k = max(others, key=lambda i: report.metrics[i].after_tax_value)
    best = report.metrics[k]
    diff = best.after_tax_value - base.after_tax_value
    share = f" ({diff / base.after_tax_value:+.2%})" if base.after_tax_value > 0 else ""
    risk = f", with a max drawdown of {_pct(best.max_drawdown)} against {_pct(base.max_drawdown)}"
    if diff > 0:
        beat = sum(1 for i in others if report.metrics[i].after_tax_value > base.after_tax_value)
        return (
            f"Yes: {after}, {names[k]} leaves {_money(best.after_tax_value)} if sold on {report.end},"
            f" {_signed_money(diff)}{share} against {base_name}{risk};"
            f" {beat} of {len(others)} rules beat it."
        )
    return (
        f"No: {after}, no rule beats {base_name}, which leaves {_money(base.after_tax_value)} if sold on"
        f" {report.end}; the closest, {names[k]}, leaves {_money(-diff)} less{share}{risk}."
    )


# whole shares that leave half a percent of the account idle on average are worth a note
ROUNDING_CASH = 0.005


def rounding_lines(report: Report) -> list[str]:
    """Where whole-share rounding changed a run: trades skipped as under one share, cash left idle."""
    if report.fractional:
        return []
    lines = []
    for run, m in zip(report.runs, report.metrics, strict=True):
        if m.skipped_by_rounding or m.excess_cash >= ROUNDING_CASH:
            lines.append(
                f"{run.strategy.name}: whole shares skipped {m.skipped_by_rounding:,} trades smaller than one"
                f" share and left {m.excess_cash:.2%} of the account in cash beyond its target on average"
                f" ({_money(m.final_excess_cash)} at the end)"
            )
    if lines:
        lines.append("To trade fractions of a share, set `fractional: true` under the portfolio's"
                     " `trading:`.")
    return lines


_EVENT_LABELS = {
    "blocked": "plans blocked by policy", "shrunk": "buys shrunk to the cash there",
    "skipped": "orders skipped (no cash or quote for them)", "rejected": "orders rejected",
    "shortfall": "shortfalls",
}


def event_lines(report: Report) -> list[str]:
    """One line per kind of trouble a run met (blocked, rejected, shortfall), so a quiet result is explained.
    One line per kind of trouble a run met (blocked, rejected, shortfall), so a quiet result is explained."""
    lines = rounding_lines(report)
    for run in report.runs:
        for kind, label in _EVENT_LABELS.items():
            events = [e for e in run.events if e.kind == kind]
            if events:
                first = events[0]
                lines.append(
                    f"{run.strategy.name}: {len(events)} {label}; first on {first.day}: {first.message}"
                )
    return lines


def year_cells(report: Report) -> list[tuple[str, list[tuple[str, str]]]]:
    """Per calendar year with realized gains in any run: per strategy (gain, tax), empty where it realized
    none. The one computation of the yearly figures, for the text table and the HTML page alike."""
    years = sorted({y for run in report.runs for y in run.book.years})
    out = []
    for y in years:
        cells = []
        for run in report.runs:
            t = run.book.years.get(y)
            cells.append(("", "") if t is None else (_money(float(t.short + t.long)), _money(float(t.tax))))
        out.append((str(y), cells))
    return out


def render_text(report: Report, out: Console) -> None:
    """The report on a terminal: the answer first, then the table, the taxes per year and the notes."""
    names = [run.strategy.name for run in report.runs]
    width = min(WIDTH, out.width) if out.is_terminal else WIDTH

    def lines(text: list[str]) -> None:
        for line in text:  # soft_wrap: rich neither wraps nor crops a line at its own idea of the width
            out.print(line, markup=False, highlight=False, soft_wrap=True)

    lines(report.header())
    # one line, as notes
    out.print(answer(report), markup=False, highlight=False, soft_wrap=True, style="bold")
    out.print()
    lines(layout("", names, table_rows(report), width))
    if report.taxed:
        out.print()
        rows = [(y, [f"{gain} / {tax}" if gain else "" for gain, tax in cells])
                for y, cells in year_cells(report)]
        lines(["Realized gains and tax", *layout("year", names, rows, width)])
    notes = event_lines(report)
    if notes:
        out.print()
        lines(notes)  # one line each, unwrapped: a message a user may search for
    out.print()
    lines(textwrap.wrap(
        "CAGR, volatility, Sharpe and drawdown are time-weighted (cash flows excluded, costs and taxes"
        " included); turnover counts the lesser of buys and sells; deviation is the share of the account off"
        " target; average weights are measured before each day's trades.", width
    ))


def write_chart_report(report: Report, path: Path) -> None:
    """A PNG of the charts, or an HTML page with the answer, the tables and the charts (self-contained,
    offline)."""
    suffix = path.suffix.lower()
    if suffix not in (".png", ".html", ".htm"):
        raise BacktestError(
            f"unknown report type {path.suffix!r}", where=f"--report {path}",
            fix="name the file .html or .png"
        )
    try:
        from reconciler.backtest import charts
        from reconciler.backtest.page import html

        if suffix == ".png":
            files.write_bytes(path, charts.png(report), REPORT, "--report")
        else:
            files.write_text(path, html(report, charts.svgs(report)), REPORT, "--report")
    except ImportError:
        raise BacktestError(
            "charts need matplotlib", where=f"--report {path}", fix="pip install 'reconciler[backtest]'"
        ) from None
