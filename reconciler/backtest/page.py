"""The backtest report as one HTML page: the answer first, the table with the best values marked, the charts
with their hover data, the realized gains and tax per year with totals, the average weights folded away.
Jinja2 escapes every name (autoescape on: the template's .j2 suffix would turn select_autoescape off); the
hover data goes in as JSON through its tojson filter."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from reconciler.backtest.report import (
    Report,
    _money,
    answer,
    event_lines,
    summary_rows,
    weight_rows,
    year_cells,
)

if TYPE_CHECKING:
    from reconciler.backtest.charts import Chart


@dataclass(frozen=True)
class YearRow:
    """One row of the HTML page's table of realized gains and tax."""

    label: str
    # per strategy: (gain, tax); empty strings where it realized nothing that year
    cells: list[tuple[str, str]]


def year_rows(report: Report) -> list[YearRow]:
    """Realized gains and tax per calendar year, a totals row, and what selling everything at the end would
    add."""
    rows = [YearRow(label, cells) for label, cells in year_cells(report)]
    totals = [
        (_money(sum(float(t.short + t.long) for t in run.book.years.values())),
         _money(sum(float(t.tax) for t in run.book.years.values())))
        for run in report.runs
    ]
    rows.append(YearRow("total", totals))
    rows.append(YearRow(
        f"if sold on {report.end}",
        [(_money(m.unrealized_gains), _money(m.liquidation_tax)) for m in report.metrics],
    ))
    return rows


def _breakable(name: str) -> Markup:
    """A strategy's name, escaped, that a narrow column header may break after its colon and commas."""
    return escape(name).replace(":", Markup(":<wbr>")).replace(",", Markup(",<wbr>"))


def html(report: Report, charts: list[Chart]) -> str:
    """The report page; each chart's SVG is embedded as an image, its hover data as JSON for the page's
    script."""
    from jinja2 import Environment, PackageLoader

    # The template is report.html.j2: select_autoescape() goes by the last suffix and would leave it
    # unescaped.
    env = Environment(loader=PackageLoader("reconciler.backtest", "templates"), autoescape=True)
    return env.get_template("report.html.j2").render(
        report=report,
        header=report.header(),
        answer=answer(report),
        names=[run.strategy.name for run in report.runs],
        heads=[_breakable(run.strategy.name) for run in report.runs],
        rows=summary_rows(report),
        weights=weight_rows(report),
        yearly=year_rows(report),
        events=event_lines(report),
        charts=[(base64.b64encode(c.svg.encode()).decode(), c.alt, c.hover) for c in charts],
    )
