"""Calendar anchors (`at=start|end`) and data of any frequency: look dates computed by hand on monthly, weekly
and daily rows, through the schedule and through a whole run; partial first and last periods;
annualisation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from reconciler.backtest.data import PriceTable
from reconciler.backtest.engine import Settings, run_strategy
from reconciler.backtest.metrics import compute, frequency, periods_per_year
from reconciler.backtest.schedule import look_days
from reconciler.backtest.strategies import Anchor, Every, parse_strategy
from reconciler.core.models import CostModel
from reconciler.core.rules import Bands
from reconciler.errors import BacktestError
from tests.backtest.conftest import BT_ALIGNED, equal_weight

Dates = np.ndarray[Any, np.dtype[np.datetime64]]


def month_ends(first: str, last: str) -> Dates:
    """Calendar month ends from the month `first` to the month `last` (YYYY-MM), as month-end data is
    dated."""
    months = np.arange(np.datetime64(first, "M"), np.datetime64(last, "M") + 1)
    out: Dates = (months + 1).astype("datetime64[D]") - np.timedelta64(1, "D")
    return out


def fridays(first: str, last: str) -> Dates:
    out: Dates = np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + 1, 7)
    return out


def weekdays(first: str, last: str) -> Dates:
    out: Dates = np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + 1)
    return out[np.is_busday(out)]


def looks(dates: Dates, every: Every, at: Anchor) -> list[str]:
    return [str(d) for d in dates[look_days(dates, every, at)]]


MONTHLY = month_ends("1990-01", "1992-06")  # funded 1990-01-31; the data ends with a quarter, mid-year


@pytest.mark.parametrize(
    ("every", "at", "expected"),
    [
        (
            "quarterly",
            "start",
            [
                "1990-04-30",
                "1990-07-31",
                "1990-10-31",
                "1991-01-31",
                "1991-04-30",
                "1991-07-31",
                "1991-10-31",
                "1992-01-31",
                "1992-04-30",
            ],
        ),
        (
            "quarterly",
            "end",
            [
                "1990-03-31",
                "1990-06-30",
                "1990-09-30",
                "1990-12-31",
                "1991-03-31",
                "1991-06-30",
                "1991-09-30",
                "1991-12-31",
                "1992-03-31",
                "1992-06-30",
            ],
        ),
        ("annual", "start", ["1991-01-31", "1992-01-31"]),
        ("annual", "end", ["1990-12-31", "1991-12-31"]),  # 1992 stops in June: never looked at
    ],
)
def test_monthly_rows_look_at_the_first_or_last_month_of_each_period(every: Every, at: Anchor,
                                                                      expected: list[str]) -> None:
    assert looks(MONTHLY, every, at) == expected


def test_a_first_partial_year_is_looked_at_on_its_last_month_with_at_end() -> None:
    assert looks(month_ends("1990-07", "1992-05"), "annual", "end") == ["1990-12-31", "1991-12-31"]


def test_a_first_partial_year_waits_for_the_next_year_with_at_start() -> None:
    assert looks(month_ends("1990-07", "1992-05"), "annual", "start") == ["1991-01-31", "1992-01-31"]


def test_monthly_rows_looked_at_monthly_look_every_month_after_funding_either_way() -> None:
    assert looks(MONTHLY, "monthly", "end") == looks(MONTHLY, "monthly", "start")


def test_weekly_rows_look_at_the_first_friday_of_each_month_with_at_start() -> None:
    assert looks(fridays("2021-12-03", "2022-02-25"), "monthly", "start") == ["2022-01-07", "2022-02-04"]


def test_weekly_rows_look_at_the_last_friday_of_each_month_with_at_end() -> None:
    # 2022-02-25 is not February's last weekday (Monday the 28th is): February is never looked at.
    assert looks(fridays("2021-12-03", "2022-02-25"), "monthly", "end") == ["2021-12-31", "2022-01-28"]


def test_weekly_rows_ending_on_a_months_last_weekday_look_at_that_month() -> None:
    assert looks(fridays("2022-03-04", "2022-04-29"), "monthly", "end") == ["2022-03-25", "2022-04-29"]


def test_daily_rows_look_at_each_months_last_trading_day_with_at_end() -> None:
    assert looks(weekdays("2022-01-03", "2022-03-31"), "monthly", "end") == ["2022-01-31", "2022-02-28",
                                                                              "2022-03-31"]


def test_daily_rows_look_at_each_months_first_trading_day_with_at_start() -> None:
    assert looks(weekdays("2022-01-03", "2022-03-31"), "monthly", "start") == ["2022-02-01", "2022-03-01"]


def test_daily_rows_weekly_at_end_look_on_fridays_and_not_on_a_week_cut_short() -> None:
    assert looks(weekdays("2022-01-03", "2022-01-19"), "weekly", "end") == ["2022-01-07", "2022-01-14"]


def test_daily_rows_ending_before_the_years_last_trading_day_do_not_look_at_that_year() -> None:
    assert looks(weekdays("2021-06-01", "2022-12-28"), "annual", "end") == ["2021-12-31"]


def test_a_run_trades_on_exactly_the_at_end_look_dates() -> None:
    """Two holdings, one rising 10% a month: every look finds drift, so the days with turnover are the
    looks."""
    n = len(MONTHLY)
    closes = np.column_stack([1.1 ** np.arange(n), np.ones(n)]) * 50.0
    prices = PriceTable(MONTHLY, ("A", "B"), closes, "monthly")
    portfolio = equal_weight(("A", "B"), BT_ALIGNED)
    strategy = parse_strategy("calendar:quarterly,at=end", portfolio.trading.bands)
    run = run_strategy(portfolio, prices, strategy, Settings(costs=CostModel(slippage_bps=Decimal(0))))
    assert [str(d) for d in MONTHLY[run.turnover > 0]] == looks(MONTHLY, "quarterly", "end")


def test_calendar_threshold_takes_the_anchor() -> None:
    strategy = parse_strategy("calendar-threshold:annual,abs=0.05,at=end", Bands())
    assert (strategy.every, strategy.at) == ("annual", "end")


def test_the_anchor_defaults_to_start() -> None:
    assert parse_strategy("calendar:quarterly", Bands()).at == "start"


@pytest.mark.parametrize("spec", ["threshold:at=end", "never:at=end", "calendar:annual,at=middle"])
def test_an_anchor_where_it_means_nothing_is_refused(spec: str) -> None:
    with pytest.raises(BacktestError, match="at="):
        parse_strategy(spec, Bands())


@pytest.mark.parametrize(
    ("dates", "unit", "per_year"),
    [(MONTHLY, "months", 12), (fridays("2020-01-03", "2022-12-30"), "weeks", 52.2),
     (weekdays("2020-01-01", "2022-12-30"), "trading days", 261)],
)
def test_the_rows_unit_and_periods_per_year_are_read_from_the_dates(dates: Dates, unit: str,
                                                                     per_year: float) -> None:
    assert (frequency(dates), round(periods_per_year(dates) / per_year, 1)) == (unit, 1.0)


def test_monthly_volatility_is_annualised_with_twelve_periods_a_year() -> None:
    rng = np.random.default_rng(7)
    n = len(MONTHLY)
    prices = PriceTable(MONTHLY, ("A",), 100 * np.exp(np.cumsum(rng.normal(0, 0.04, (n, 1)), axis=0)), "m")
    portfolio = equal_weight(("A",), BT_ALIGNED)
    run = run_strategy(portfolio, prices, parse_strategy("never", Bands()), Settings(costs=CostModel()))
    monthly = np.diff(run.equity) / run.equity[:-1]
    expected = float(np.std(monthly, ddof=1)) * np.sqrt(periods_per_year(MONTHLY))
    assert compute(run).volatility == pytest.approx(expected, rel=1e-12)
