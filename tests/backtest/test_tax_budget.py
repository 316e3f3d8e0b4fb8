"""The tax budget in a backtest: the run's own lots and the simulated year's realised gains reach the planner
(backtest.tax_inputs, the mirror of execution.tax_inputs), so `tax.max_realized_gain` trims sells as `plan`
trims them, and a backtest day's plan is the plan `plan` makes from a journal holding the same fills."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pytest

from reconciler.backtest import engine
from reconciler.backtest.data import PriceTable
from reconciler.backtest.engine import Settings, StrategyRun, run_strategy
from reconciler.backtest.strategies import Strategy, parse_strategy
from reconciler.backtest.tax_inputs import realized_in_year
from reconciler.core.lots import TaxBook, YearTax
from reconciler.core.models import CostModel, Desired, Observation, PortfolioPlan
from reconciler.core.planner import plan_portfolio
from reconciler.core.tax_rules import TaxRates, TaxSettings
from reconciler.execution.tax_inputs import with_tax_inputs
from reconciler.journal.lot_book import BookedFill, book_fill, lot_rule
from reconciler.journal.store import Journal
from reconciler.runtime import Runtime
from tests.backtest.conftest import BT_ALIGNED, equal_weight
from tests.conftest import Workspace

# Weekdays of 2021-2023; A climbs from 100 to 400, B and C stand still: every quarter sells A at a gain.
DATES = np.array([d for d in np.arange("2021-01-04", "2023-12-30", dtype="datetime64[D]")
                  if d.astype("datetime64[D]").item().weekday() < 5])
N = len(DATES)
CLOSES = np.column_stack([np.linspace(100.0, 400.0, N), np.full(N, 100.0), np.full(N, 50.0)])
PRICES = PriceTable(DATES, ("A", "B", "C"), CLOSES, "daily")
SETTINGS = Settings(costs=CostModel())  # the lot method and rates are the portfolio's tax: block's
RATES = TaxRates(short_term=Decimal("0.35"), long_term=Decimal("0.15"))
# No tax is paid out of the account (the block's rates 0): no forced sale raises cash for a tax bill, so every
# sale is a rebalancing sell the budget may trim (the budget counts gains, not tax).
NO_TAX = TaxRates()
BUDGET = Decimal(1000)
YEARS = (2021, 2022, 2023)


# A's weight climbs past 45% when the budget holds its sells back: a hard band that wide never forces a sale,
# so the budget alone decides (the last test puts the default 10% back).
WIDE = Decimal("0.5")


def _portfolio(budget: Decimal | None, hard_band: Decimal = WIDE, rates: TaxRates = NO_TAX) -> Desired:
    tax = TaxSettings(lots="hifo", rates=rates, max_realized_gain=budget, hard_band=hard_band)
    return equal_weight(("A", "B", "C"), BT_ALIGNED).model_copy(update={"tax": tax})


def _run(budget: Decimal | None, hard_band: Decimal = WIDE) -> StrategyRun:
    portfolio = _portfolio(budget, hard_band)
    return run_strategy(portfolio, PRICES, _quarterly(portfolio), SETTINGS)


def _quarterly(portfolio: Desired) -> Strategy:
    return parse_strategy("calendar:quarterly", portfolio.trading.bands)


@pytest.fixture(scope="module")
def budgeted() -> StrategyRun:
    return _run(BUDGET)


@pytest.mark.parametrize("year", YEARS)
def test_without_a_budget_each_year_realises_more_than_the_budget(year: int) -> None:
    assert realized_in_year(_run(None).book, year) > BUDGET


@pytest.mark.parametrize("year", YEARS)
def test_with_a_budget_each_year_realises_at_most_the_budget(budgeted: StrategyRun, year: int) -> None:
    assert realized_in_year(budgeted.book, year) <= BUDGET


@pytest.mark.parametrize("year", YEARS)
def test_the_budget_starts_again_on_january_first(budgeted: StrategyRun, year: int) -> None:
    """Each year uses most of its own budget: the gains of the year before do not count against it."""
    assert realized_in_year(budgeted.book, year) > BUDGET / 2


@pytest.fixture(scope="module")
def hard_banded() -> StrategyRun:
    """The default hard band (10%): A may not drift past 1/3 + 10%, whatever the budget."""
    return _run(BUDGET, TaxSettings().hard_band)


def test_the_hard_band_keeps_each_holding_within_it_after_a_trimmed_plan(hard_banded: StrategyRun) -> None:
    after = [float(hard_banded.weights[day][0]) for day in hard_banded.pre_trade]
    assert max(after) <= 1 / 3 + 0.10 + 1e-9


def test_the_sells_the_hard_band_forces_pass_the_budget(hard_banded: StrategyRun) -> None:
    assert realized_in_year(hard_banded.book, 2022) > BUDGET


def test_the_short_term_hold_acts_in_a_backtest() -> None:
    """With avoid_short_term_days at 365 every lot of A with a gain is held until it turns long-term: the
    first year, when all lots are short-term, sells none of them (without the hold it realises the most)."""
    tax = TaxSettings(lots="hifo", rates=NO_TAX, avoid_short_term_days=365, hard_band=WIDE)
    portfolio = equal_weight(("A", "B", "C"), BT_ALIGNED).model_copy(update={"tax": tax})
    run = run_strategy(portfolio, PRICES, _quarterly(portfolio), SETTINGS)
    assert run.book.years.get(2021, YearTax()).short == 0


def test_a_run_without_tax_settings_does_not_trim() -> None:
    plain = equal_weight(("A", "B", "C"), BT_ALIGNED)
    run = run_strategy(plain, PRICES, _quarterly(plain), SETTINGS)
    assert realized_in_year(run.book, 2021) == realized_in_year(_run(None).book, 2021)


@dataclass
class _Recording(TaxBook):
    """The backtest's own book, recording each fill as the journal's ledger would book it."""

    fills: list[BookedFill] = field(default_factory=list)

    def buy(self, symbol: str, day: date, quantity: Decimal, cost: Decimal) -> None:
        self.fills.append(_fill(symbol, "buy", day, quantity, cost / quantity))
        super().buy(symbol, day, quantity, cost)

    def sell(self, symbol: str, day: date, quantity: Decimal, proceeds: Decimal) -> None:
        self.fills.append(_fill(symbol, "sell", day, quantity, proceeds / quantity))
        super().sell(symbol, day, quantity, proceeds)


def _fill(symbol: str, side: str, day: date, quantity: Decimal, price: Decimal) -> BookedFill:
    at = datetime(day.year, day.month, day.day, 21, tzinfo=UTC)
    zero = Decimal(0)
    return BookedFill("eq", f"{symbol}-{side}-{day}", symbol, side, quantity, price, zero, zero, at)


@dataclass
class _Day:
    desired: Desired
    obs: Observation
    plan: PortfolioPlan


def test_a_trimmed_backtest_day_plans_as_plan_does_from_the_journal(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fills before a day the budget trimmed, booked by the live ledger (journal.lot_book) in a real
    journal; `plan`'s tax inputs (execution.tax_inputs) read from it give the backtest's own plan."""
    days: list[_Day] = []

    def recorded(desired: Desired, obs: Observation, costs: CostModel) -> PortfolioPlan:
        plan = plan_portfolio(desired, obs, costs)
        days.append(_Day(desired, obs, plan))
        return plan

    monkeypatch.setattr(engine, "plan_portfolio", recorded)
    monkeypatch.setattr(engine, "TaxBook", _Recording)
    portfolio = _portfolio(BUDGET)
    run = run_strategy(portfolio, PRICES, _quarterly(portfolio), SETTINGS, policy=lambda plan, when: [])
    assert isinstance(run.book, _Recording)
    # A day of 2022 the budget trimmed, after some of that year's budget was spent.
    day = next(d for d in days if d.obs.taken_at.year == 2022 and d.obs.realized_gain
               and any("tax budget" in n for n in d.plan.notes))
    journal: Journal = Runtime(workspace.config, workspace.journal_url).journal
    rule = lot_rule(portfolio.tax)
    with journal.tx() as c:
        for fill in run.book.fills:
            if fill.at < day.obs.taken_at:
                book_fill(c, fill, rule)
    bare = day.obs.model_copy(update={"lots": None, "realized_gain": None})
    [(_, live)] = with_tax_inputs(journal, [(day.desired, bare)])
    assert plan_portfolio(day.desired, live, CostModel()).actions == day.plan.actions


def test_a_tax_bill_is_paid_in_full_whatever_the_budget() -> None:
    """The sale that raises cash for a tax bill is forced: a budget of $1 does not trim it (the hard band
    makes 2021-2022 realise gains, so 2022's and 2023's first days pay a bill out of sold holdings)."""
    portfolio = _portfolio(Decimal(1), TaxSettings().hard_band, RATES)
    run = run_strategy(portfolio, PRICES, _quarterly(portfolio), SETTINGS)
    assert [e.message for e in run.events if e.kind == "shortfall"] == []
