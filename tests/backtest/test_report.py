"""The backtest report answers its question: the after-tax value if everything were sold at the end, each rule
against the baseline (buy and hold), the best value per row marked, one answering sentence; the per-year table
labels its columns, writes losses as -$2,924.99 and ends with totals; charts read in money units."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from reconciler.backtest import charts
from reconciler.backtest.data import PriceTable
from reconciler.backtest.engine import Settings, run_strategy
from reconciler.backtest.metrics import compute
from reconciler.backtest.report import Report, answer, render_text, write_chart_report
from reconciler.backtest.strategies import parse_strategy
from tests.builders import desired

TAXES = Settings(tax_short=Decimal("0.35"), tax_long=Decimal("0.15"), lot_method="hifo")


def _prices() -> PriceTable:
    """Three years: A rises, then holds; B rises, halves, recovers. Rebalancing buys B high in the first two
    years and sells those lots (HIFO) below cost in the third, a year of losses only; buy-and-hold keeps large
    gains."""
    dates = np.busday_offset(np.datetime64("2011-01-03"), np.arange(756), roll="forward")
    t = np.linspace(0.0, 1.0, 756)
    a = np.interp(t, [0, 1 / 3, 2 / 3, 1], [100, 200, 300, 300])
    b = np.interp(t, [0, 1 / 3, 2 / 3, 1], [100, 150, 75, 150])
    return PriceTable(dates, ("A", "B"), np.ascontiguousarray(np.stack([a, b], axis=1)), "synthetic")


def _report(specs: list[str], settings: Settings = TAXES, prices: PriceTable | None = None) -> Report:
    target = desired({"A": "0.5", "B": "0.5"}, name="ab", account="ab")
    prices = prices or _prices()
    runs = [run_strategy(target, prices, parse_strategy(s, target.trading.bands), settings) for s in specs]
    return Report("ab", "synthetic", settings, "none", 0.0, runs, [compute(r) for r in runs])


@dataclass
class _Cell:
    tag: str
    classes: str
    text: str = ""


@dataclass
class _Tables(HTMLParser):
    """The page's tables by class: rows of cells (tag, class, text); and the answer paragraph."""

    tables: dict[str, list[tuple[str, list[_Cell]]]] = field(default_factory=dict)
    answer: str = ""
    details: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()
        self._table = ""
        self._cell: _Cell | None = None
        self._in_answer = False
        self._open_details = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("class") or ""
            self.tables[self._table] = []
            if self._open_details:
                self.details.append(self._table)
        elif tag == "tr":
            self.tables[self._table].append((a.get("class") or "", []))
        elif tag in ("td", "th"):
            self._cell = _Cell(tag, a.get("class") or "")
            self.tables[self._table][-1][1].append(self._cell)
        elif tag == "p" and a.get("class") == "answer":
            self._in_answer = True
        elif tag == "details":
            self._open_details += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._cell = None
        elif tag == "p":
            self._in_answer = False
        elif tag == "details":
            self._open_details -= 1

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.text += data
        if self._in_answer:
            self.answer += data


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, _Tables, str]:
    report = _report(["never", "calendar:quarterly", "threshold:abs=0.05"])
    path = tmp_path_factory.mktemp("report") / "r.html"
    write_chart_report(report, path)
    text = path.read_text()
    parsed = _Tables()
    parsed.feed(text)
    return report, parsed, text


def _row(tables: _Tables, table: str, label: str) -> tuple[str, list[_Cell]]:
    return next(r for r in tables.tables[table] if r[1] and r[1][0].text == label)


def test_liquidation_taxes_unrealized_gains_at_the_long_term_rate() -> None:
    report = _report(["never"])
    run, m = report.runs[0], report.metrics[0]
    assert run.unrealized > 0
    assert m.liquidation_tax == pytest.approx(float(run.unrealized) * 0.15)
    assert m.after_tax_value == pytest.approx(float(run.final_value) - float(run.unrealized) * 0.15)


def test_no_tax_rates_owe_nothing_on_a_sale() -> None:
    report = _report(["never"], Settings())
    assert report.metrics[0].after_tax_value == report.metrics[0].final_value


def test_the_answer_sentence_comes_first_and_names_the_baseline(page: tuple[Report, _Tables, str]) -> None:
    report, tables, text = page
    assert re.match(r"(Yes|No): after costs and taxes, ", tables.answer)
    assert "never (buy and hold)" in tables.answer
    assert text.index('class="answer"') < text.index('class="figures"')
    assert tables.answer == answer(report)


def test_when_no_rule_pays_the_answer_says_no_and_by_how_much() -> None:
    """A steady winner beside a flat holding: rebalancing sells the winner and pays tax on it, so it ends
    lower."""
    dates = np.busday_offset(np.datetime64("2011-01-03"), np.arange(504), roll="forward")
    a = 100 * 3 ** np.linspace(0.0, 1.0, 504)
    flat = PriceTable(
        dates, ("A", "B"), np.ascontiguousarray(np.stack([a, np.full(504, 100.0)], axis=1)), "flat"
    )
    report = _report(["never", "calendar:quarterly"], prices=flat)
    diff = report.metrics[0].after_tax_value - report.metrics[1].after_tax_value
    assert answer(report).startswith(
        "No: after costs and taxes, no rule beats never (buy and hold), which leaves"
        f" ${report.metrics[0].after_tax_value:,.2f} if sold on {report.end}; the closest,"
        f" calendar:quarterly, leaves ${diff:,.2f} less ("
    )


def test_the_answer_row_compares_after_tax_values_with_the_baseline(
    page: tuple[Report, _Tables, str],
) -> None:
    report, tables, _ = page
    css, cells = _row(tables, "figures", "after tax vs never")
    assert css == "vs-baseline"
    assert cells[1].text == "baseline"
    diff = report.metrics[1].after_tax_value - report.metrics[0].after_tax_value
    assert cells[2].text == (f"+${diff:,.2f}" if diff > 0 else f"-${-diff:,.2f}")


def test_the_answer_row_gives_the_difference_in_percent_too(page: tuple[Report, _Tables, str]) -> None:
    report, tables, _ = page
    _, cells = _row(tables, "figures", "  in percent")
    base = report.metrics[0].after_tax_value
    assert cells[3].text == f"{(report.metrics[2].after_tax_value - base) / base:+.2%}"


def test_the_best_value_of_a_directed_row_is_marked(page: tuple[Report, _Tables, str]) -> None:
    report, tables, _ = page
    _, cells = _row(tables, "figures", "after-tax value if sold")
    best = max(range(3), key=lambda k: report.metrics[k].after_tax_value)
    assert [c.classes for c in cells[1:]] == ["best" if k == best else "" for k in range(3)]


def test_rows_without_a_better_way_are_not_marked(page: tuple[Report, _Tables, str]) -> None:
    _, tables, _ = page
    _, cells = _row(tables, "figures", "rebalances")
    assert all(c.classes == "" for c in cells)


def test_the_yearly_table_labels_gain_and_tax_under_each_strategy(page: tuple[Report, _Tables, str]) -> None:
    _, tables, _ = page
    second_header = tables.tables["yearly"][1][1]
    assert [c.text for c in second_header] == ["gain", "tax"] * 3


def test_the_yearly_table_ends_with_totals_and_the_sale_at_the_end(page: tuple[Report, _Tables, str]) -> None:
    report, tables, _ = page
    labels = [cells[0].text for _, cells in tables.tables["yearly"][2:]]
    assert labels[-2:] == ["total", f"if sold on {report.end}"]


def test_the_totals_row_adds_the_years(page: tuple[Report, _Tables, str]) -> None:
    report, tables, _ = page
    _, cells = _row(tables, "yearly", "total")
    tax = sum(t.tax for t in report.runs[1].book.years.values())
    assert cells[4].text == f"${tax:,.2f}"


def test_a_loss_is_written_with_its_sign_before_the_dollar(page: tuple[Report, _Tables, str]) -> None:
    report, tables, text = page
    k, year, loss = next(
        (k, y, t.short + t.long)
        for k, run in enumerate(report.runs)
        for y, t in sorted(run.book.years.items())
        if t.short + t.long < 0
    )
    _, cells = _row(tables, "yearly", str(year))
    assert cells[1 + 2 * k].text == f"-${-loss:,.2f}"
    assert "$-" not in text


def test_average_weights_are_folded_away(page: tuple[Report, _Tables, str]) -> None:
    _, tables, _ = page
    assert tables.details == ["weights"]
    assert [cells[0].text for _, cells in tables.tables["weights"][1:]] == ["avg weight A", "avg weight B"]


def test_three_charts_as_svg_images(page: tuple[Report, _Tables, str]) -> None:
    _, _, text = page
    assert text.count('src="data:image/svg+xml;base64,') == 3


def _hovers(text: str) -> list[dict[str, Any]]:
    found = re.findall(r'<script type="application/json" class="hover">(.*?)</script>', text, re.DOTALL)
    return [json.loads(h) for h in found]


def test_each_chart_carries_what_pointing_at_it_shows(page: tuple[Report, _Tables, str]) -> None:
    _, _, text = page
    names = [[line["name"] for line in h["lines"]] for h in _hovers(text)]
    everyone = ["never", "calendar:quarterly", "threshold:abs=0.05"]
    assert names == [everyone[1:], everyone, everyone]  # the baseline is the zero line of the first


def test_hover_positions_run_left_to_right_inside_the_plot(page: tuple[Report, _Tables, str]) -> None:
    _, _, text = page
    for h in _hovers(text):
        xs = h["xs"]
        assert h["left"] <= xs[0] < xs[-1] <= h["right"]
        assert all(a < b for a, b in pairwise(xs))


def test_hover_values_are_the_lines_drawn(page: tuple[Report, _Tables, str]) -> None:
    report, _, text = page
    first = _hovers(text)[0]
    last = report.runs[1].equity[-1] - report.runs[0].equity[-1]
    assert first["lines"][0]["values"][-1] == pytest.approx(last, abs=0.5)


def test_a_strategy_name_is_text_in_the_page_and_in_its_script(tmp_path: Path) -> None:
    report = _report(["never", "calendar:annual"])
    run = report.runs[1]
    run.strategy = dataclasses.replace(run.strategy, name="</script><b>x")
    path = tmp_path / "r.html"
    write_chart_report(report, path)
    assert "</script><b>" not in path.read_text()


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (0, "$0"),
        (250, "$250"),
        (100_000, "$100k"),
        (1_000_000, "$1M"),
        (1_500_000, "$1.5M"),
        (-50_000, "-$50k"),
    ],
)
def test_chart_axes_read_in_money_units(value: float, label: str) -> None:
    assert charts.money_tick(value) == label


def test_a_png_report_has_the_same_panels(tmp_path: Path) -> None:
    path = tmp_path / "r.png"
    write_chart_report(_report(["never", "calendar:annual"]), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_text_report_answers_before_its_table() -> None:
    report = _report(["never", "calendar:annual"])
    out = io.StringIO()
    render_text(report, Console(file=out, width=120, no_color=True, soft_wrap=True))  # as cli.common makes it
    assert out.getvalue().splitlines()[len(report.header())] == answer(report)


def test_without_a_never_strategy_the_first_is_the_baseline() -> None:
    report = _report(["calendar:annual", "threshold:abs=0.05"])
    assert report.baseline == 0


def test_the_first_never_strategy_is_the_baseline_wherever_it_is() -> None:
    report = _report(["calendar:annual", "never"])
    assert report.baseline == 1


def test_a_lone_strategy_says_there_is_nothing_to_compare() -> None:
    assert answer(_report(["never"])) == ("Only never (buy and hold) ran: add a --strategy to compare a rule"
                                          " against it.")
