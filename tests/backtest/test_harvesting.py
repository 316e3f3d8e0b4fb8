"""Harvesting in the backtester: the same pure step as `plan` (core.wash_guard) on the run's own lots, and the
tax its harvests save in the report's figures."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from reconciler.backtest.data import PriceTable
from reconciler.backtest.engine import Settings, StrategyRun, run_strategy
from reconciler.backtest.metrics import compute
from reconciler.backtest.strategies import parse_strategy
from reconciler.core.models import CostModel, Desired
from reconciler.core.tax_rules import Harvest, TaxRates, TaxSettings
from tests.backtest.conftest import BT_ALIGNED, equal_weight

# Weekdays of 2021-2022; A loses 40% over its first three months and stays there, B and C stand still.
DATES = np.array([d for d in np.arange("2021-01-04", "2022-12-31", dtype="datetime64[D]")
                  if d.astype("datetime64[D]").item().weekday() < 5])
N = len(DATES)
A = np.concatenate([np.linspace(100.0, 60.0, 63), np.full(N - 63, 60.0)])
CLOSES = np.column_stack([A, np.full(N, 100.0), np.full(N, 50.0)])
PRICES = PriceTable(DATES, ("A", "B", "C"), CLOSES, "daily")
SETTINGS = Settings(costs=CostModel())  # the lot method and rates are the portfolio's tax: block's
RATES = TaxRates(short_term=Decimal("0.35"), long_term=Decimal("0.15"))


def _portfolio(tax: TaxSettings | None) -> Desired:
    return equal_weight(("A", "B", "C"), BT_ALIGNED).model_copy(update={"tax": tax})


def _run(tax: TaxSettings | None) -> StrategyRun:
    portfolio = _portfolio(tax)
    strategy = parse_strategy("calendar:monthly", portfolio.trading.bands)
    return run_strategy(portfolio, PRICES, strategy, SETTINGS)


HARVEST = TaxSettings(
    lots="hifo", rates=RATES, substitutes=[["A", "B"]], harvest=Harvest(min_loss=Decimal(1000))
)


def test_a_holding_past_the_threshold_is_harvested() -> None:
    assert compute(_run(HARVEST)).harvests == 1


def test_the_harvest_saves_its_loss_at_the_short_term_rate() -> None:
    """Without costs, B and C at a flat price realise nothing: the year's short-term result is the harvested
    loss alone, and the tax saved is 35% of it."""
    run = _run(HARVEST)
    assert compute(run).tax_saved == pytest.approx(-0.35 * float(run.book.years[2021].short), rel=1e-9)


def test_the_harvested_loss_is_a_loss() -> None:
    assert _run(HARVEST).book.years[2021].short < 0


def test_after_the_harvest_the_substitute_holds_the_groups_weight() -> None:
    run = _run(HARVEST)
    assert run.positions.get("A", Decimal(0)) == 0


def test_without_harvesting_nothing_is_harvested() -> None:
    run = _run(TaxSettings(lots="hifo", rates=RATES, substitutes=[["A", "B"]]))
    assert compute(run).harvests == 0


def test_without_tax_settings_the_run_keeps_no_wash_book() -> None:
    assert _run(None).wash is None
