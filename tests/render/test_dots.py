"""The plan comment's chart (issue 27, section 1): now, after and target with the band, one row per holding on
a shared axis, short."""

from __future__ import annotations

from decimal import Decimal

from reconciler.core.models import Holding
from reconciler.render.dots import LEGEND, ROWS, WIDTH, dot_plot
from tests.builders import portfolio

D = Decimal


def held(symbol: str, now: str, after: str, target: str, band: str = "0.05") -> Holding:
    return Holding(symbol=symbol, price=D(1), quantity_before=D(1), quantity_after=D(1), weight_before=D(now),
                   weight_target=D(target), weight_after=D(after), band=D(band))


def _row(text: str, symbol: str) -> str:
    (line,) = [line for line in text.splitlines() if line.startswith(symbol + " ")]
    return line[len("cash") + 2:][:WIDTH + 1]  # the dots of the row, after the label


CHART = dot_plot(
    portfolio("p", holdings=[held("VTI", "0", "0.3", "0.3"), held("BND", "0.4", "0.22", "0.25")])
)


def test_now_is_an_open_dot_where_the_weight_is_now() -> None:
    assert _row(CHART, "BND").index("○") == WIDTH  # 40% on an axis ending at 40%


def test_after_is_a_full_dot_where_the_orders_take_the_weight() -> None:
    assert _row(CHART, "BND").index("●") == 22  # 22% of 40% on 40 characters


def test_the_band_brackets_the_target() -> None:
    row = _row(CHART, "BND")
    assert (row.index("["), row.index("┃"), row.index("]")) == (20, 25, 30)  # 20%, 25% and 30% of 40%


def test_the_chart_ends_with_its_legend() -> None:
    assert CHART.splitlines()[-1] == LEGEND


def test_the_numbers_beside_each_row_say_now_after_and_target_with_the_band() -> None:
    assert CHART.splitlines()[1].endswith("40.00% → 22.00%  target 25.00% ±5.00 pp")


def test_a_large_portfolio_draws_its_largest_holdings_and_groups_the_rest() -> None:
    many = [held(f"S{n:03d}", "0.01", "0.01", "0.01") for n in range(60)]
    lines = dot_plot(portfolio("p", holdings=many)).splitlines()
    assert len(lines) == 1 + ROWS + 2 + 1  # axis, rows, "other" and cash, legend
