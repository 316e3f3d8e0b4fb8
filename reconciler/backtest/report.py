"""What a backtest shows: a side-by-side table, the same figures as JSON, and charts (PNG, or HTML that embeds
them with the table). Charts use matplotlib's Agg backend: static, offline, no browser or JavaScript needed."""

from __future__ import annotations

import base64
import io
import json
import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler import files
from reconciler.backtest.engine import Settings, StrategyRun
from reconciler.backtest.metrics import Metrics, drawdowns, wealth_index, years_between
from reconciler.errors import BacktestError

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from rich.console import Console

MAX_EVENTS = 20

REPORT = files.Kind("report", files.REPORT.max_bytes, "choose a writable path for --report", BacktestError)


@dataclass(frozen=True)
class Report:
    portfolio: str
    source: str
    settings: Settings
    costs_text: str
    risk_free: float
    runs: list[StrategyRun]
    metrics: list[Metrics]

    @property
    def start(self) -> date:
        return date.fromisoformat(str(self.runs[0].dates[0]))

    @property
    def end(self) -> date:
        return date.fromisoformat(str(self.runs[0].dates[-1]))

    @property
    def days(self) -> int:
        return len(self.runs[0].dates)

    @property
    def years(self) -> float:
        return years_between(self.runs[0].dates)

    @property
    def taxed(self) -> bool:
        return bool(self.settings.tax_short or self.settings.tax_long)

    def header(self) -> list[str]:
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
        return [
            f"Backtest of {self.portfolio} on {self.source}: {self.start} → {self.end},"
            f" {self.days:,} trading days ({self.years:.1f} years)",
            f"Start with ${s.initial_cash:,.2f}; cash flows: {flows}",
            f"Costs: {self.costs_text}; taxes: {taxes}",
        ]


def _pct(x: float) -> str:
    return f"{x:.2%}" if math.isfinite(x) else "n/a"


def _money(x: float) -> str:
    return f"${x:,.2f}"


ROWS: list[tuple[str, str]] = [
    ("final value", "final_value"),
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
    ("realized gains, short", "realized_short"),
    ("realized gains, long", "realized_long"),
    ("unrealized gains", "unrealized_gains"),
    ("avg deviation", "avg_deviation"),
    ("max deviation", "max_deviation"),
]
MONEY = {"final_value", "costs", "commissions", "slippage", "taxes_paid", "realized_short", "realized_long",
         "unrealized_gains"}
PERCENT = {"cagr", "volatility", "max_drawdown", "turnover_per_year", "avg_deviation", "max_deviation"}


def _cell(key: str, value: Any) -> str:
    if key in MONEY:
        return _money(float(value))
    if key in PERCENT:
        return _pct(float(value))
    if key == "sharpe":
        return f"{value:.2f}"
    return f"{value:,}"


def table_rows(report: Report) -> list[tuple[str, list[str]]]:
    """The comparison table as text cells: one row per figure, one column per strategy."""
    rows = [(label, [_cell(key, getattr(m, key)) for m in report.metrics]) for label, key in ROWS]
    for s in report.runs[0].symbols:
        rows.append((f"avg weight {s}", [_pct(m.average_weights[s]) for m in report.metrics]))
    return rows


def event_lines(report: Report) -> list[str]:
    lines = []
    for run in report.runs:
        for kind in ("blocked", "rejected", "shortfall"):
            events = [e for e in run.events if e.kind == kind]
            if events:
                first = events[0]
                label = {"blocked": "plans blocked by policy", "rejected": "orders rejected", "shortfall": "shortfalls"}
                lines.append(
                    f"{run.strategy.name}: {len(events)} {label[kind]}; first on {first.day}: {first.message}"
                )
    return lines


def render_text(report: Report, out: Console) -> None:
    from rich.table import Table

    for line in report.header():
        out.print(line, markup=False)
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("", no_wrap=True)
    for run in report.runs:
        table.add_column(run.strategy.name, justify="right", no_wrap=True)
    for label, cells in table_rows(report):
        table.add_row(label, *cells)
    out.print()
    out.print(table)
    if report.taxed:
        out.print()
        years = sorted({y for run in report.runs for y in run.book.years})
        taxes = Table(show_header=True, header_style="bold", box=None, pad_edge=False, title="Realized gains and tax")
        taxes.add_column("year")
        for run in report.runs:
            taxes.add_column(run.strategy.name, justify="right", no_wrap=True)
        for y in years:
            cells = []
            for run in report.runs:
                t = run.book.years.get(y)
                cells.append("" if t is None else f"{_money(float(t.short + t.long))} / {_money(float(t.tax))}")
            taxes.add_row(str(y), *cells)
        out.print(taxes)
    notes = event_lines(report)
    if notes:
        out.print()
        for line in notes:
            out.print(line, markup=False)
    out.print()
    out.print(
        "CAGR, volatility, Sharpe and drawdown are time-weighted (cash flows excluded, costs and taxes included);"
        " turnover counts the lesser of buys and sells; deviation is the share of the account off target.",
        markup=False,
    )


def _num(d: Decimal) -> float:
    return float(d)


def as_json(report: Report) -> str:
    """The same figures as the table, plus realized gains per year and the first events of each kind."""
    s = report.settings
    doc: dict[str, Any] = {
        "portfolio": report.portfolio,
        "prices": report.source,
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "days": report.days,
        "years": report.years,
        "initial_cash": _num(s.initial_cash),
        "contribution": _num(s.contribution),
        "contribution_every": s.contribution_every,
        "costs": {
            "slippage_bps": _num(s.costs.slippage_bps),
            "commission_per_order": _num(s.costs.commission.per_order),
            "commission_per_share": _num(s.costs.commission.per_share),
            "commission_bps": _num(s.costs.commission.bps),
        },
        "taxes": {"lots": s.lot_method, "short_rate": _num(s.tax_short), "long_rate": _num(s.tax_long)},
        "risk_free": report.risk_free,
        "strategies": [],
    }
    for run, m in zip(report.runs, report.metrics, strict=True):
        doc["strategies"].append(
            {
                "name": run.strategy.name,
                "metrics": m.as_dict(),
                "realized_by_year": {
                    str(y): {"short": _num(t.short), "long": _num(t.long), "tax": _num(t.tax)}
                    for y, t in sorted(run.book.years.items())
                },
                "tax_accrued_at_end": _num(run.tax_accrued),
                "final_positions": {k: _num(v) for k, v in run.positions.items()},
                "final_cash": _num(run.cash),
                "events": [
                    {"day": e.day.isoformat(), "kind": e.kind, "message": e.message}
                    for e in run.events[:MAX_EVENTS]
                ],
            }
        )
    return json.dumps(doc, indent=2)


def figure(report: Report) -> Figure:
    """Equity curves, drawdowns, and one stacked weights chart per strategy."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib.figure import Figure

    runs = report.runs
    cols = 2 if len(runs) > 1 else 1
    grid_rows = math.ceil(len(runs) / cols)
    fig = Figure(figsize=(13, 7 + 3.2 * grid_rows), layout="constrained")
    spec = fig.add_gridspec(2 + grid_rows, cols, height_ratios=[3, 2] + [2.4] * grid_rows)
    dates = runs[0].dates.astype("datetime64[D]")
    ax_eq = fig.add_subplot(spec[0, :])
    ax_dd = fig.add_subplot(spec[1, :], sharex=ax_eq)
    for run in runs:
        ax_eq.plot(dates, np.maximum(run.equity, 1e-9), linewidth=1.1, label=run.strategy.name)
        ax_dd.plot(dates, drawdowns(wealth_index(run)) * 100, linewidth=0.9, label=run.strategy.name)
    ax_eq.set_yscale("log")
    ax_eq.set_ylabel("account value ($, log)")
    ax_eq.set_title(f"{report.portfolio}: account value", loc="left")
    ax_eq.legend(loc="upper left", fontsize=8)
    ax_eq.grid(True, alpha=0.3)
    ax_dd.set_ylabel("drawdown (%)")
    ax_dd.set_title("drawdown of the time-weighted return", loc="left")
    ax_dd.grid(True, alpha=0.3)
    symbols = runs[0].symbols
    colors = matplotlib.colormaps["tab20"].resampled(max(len(symbols), 1))
    stride = max(1, len(dates) // 1500)  # a point every few days is plenty for an area chart
    for k, run in enumerate(runs):
        ax = fig.add_subplot(spec[2 + k // cols, k % cols], sharex=ax_eq)
        w = run.weights[::stride].T * 100
        ax.stackplot(dates[::stride], w, colors=[colors(i) for i in range(len(symbols))], linewidth=0)
        ax.set_ylim(0, 100)
        ax.set_title(f"weights: {run.strategy.name}", loc="left", fontsize=9)
        ax.set_ylabel("%")
        if k == 0 and len(symbols) <= 20:
            ax.legend(symbols, fontsize=6, ncol=5, loc="lower left", framealpha=0.6)
    return fig


def write_chart_report(report: Report, path: Path) -> None:
    """A PNG of the charts, or an HTML page with the table, the yearly taxes and the charts (self-contained)."""
    suffix = path.suffix.lower()
    if suffix not in (".png", ".html", ".htm"):
        raise BacktestError(
            f"unknown report type {path.suffix!r}", where=f"--report {path}", fix="name the file .html or .png"
        )
    try:
        fig = figure(report)
    except ImportError:
        raise BacktestError(
            "charts need matplotlib", where=f"--report {path}", fix="pip install 'reconciler[backtest]'"
        ) from None
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    if suffix == ".png":
        files.write_bytes(path, buffer.getvalue(), REPORT, "--report")
    else:
        files.write_text(path, _html(report, base64.b64encode(buffer.getvalue()).decode()), REPORT, "--report")


def _year_cells(run: StrategyRun, year: int) -> tuple[str, str] | None:
    t = run.book.years.get(year)
    return None if t is None else (_money(float(t.short + t.long)), _money(float(t.tax)))


def _html(report: Report, png_b64: str) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("reconciler.backtest", "templates"), autoescape=select_autoescape())
    years = sorted({y for run in report.runs for y in run.book.years})
    yearly = [(y, [_year_cells(run, y) for run in report.runs]) for y in years]
    return env.get_template("report.html.j2").render(
        report=report,
        header=report.header(),
        names=[run.strategy.name for run in report.runs],
        rows=table_rows(report),
        yearly=yearly,
        events=event_lines(report),
        chart=png_b64,
    )
