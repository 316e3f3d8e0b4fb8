"""Taxes wired into the planner (core.tax_orders): each sell's lots, gains and estimated tax with the
portfolio's totals, symbols whose lots disagree left without figures, sells trimmed to the year's budget down
to the hard band, lots about to turn long-term held back; portfolios without `tax:` planned as before."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from reconciler.clock import FixedClock
from reconciler.core.ledger import HeldLot
from reconciler.core.models import CostModel, Desired, Observation, PortfolioPlan
from reconciler.core.planner import plan_portfolio
from reconciler.core.tax_rules import TaxRates, TaxSettings
from reconciler.policy.inputs import policy_input
from reconciler.workspace.models import PolicyParams
from tests.builders import NOW, desired, observation

# 20,000 of equity: VTI 70% against a 50% target (sell 40), BND 30% (buy). NOW is 2024-01-02.
PRICES = {"VTI": 100, "BND": 100}
POSITIONS = {"VTI": 140, "BND": 60}
RATES = TaxRates(short_term=D("0.35"), long_term=D("0.15"))
OLD = HeldLot("VTI", date(2020, 1, 2), D(100), D(5000))  # long-term, gain 50 a unit
NEW = HeldLot("VTI", date(2023, 6, 1), D(40), D(3600))  # short-term, gain 10 a unit
BND = HeldLot("BND", date(2023, 1, 1), D(60), D(6000))


def _desired(tax: TaxSettings | None) -> Desired:
    return desired({"VTI": "0.5", "BND": "0.5"}).model_copy(update={"tax": tax})


def _obs(lots: list[HeldLot] | None, realized: D | None = None, positions: dict[str, int] | None = None
         ) -> Observation:
    obs = observation(PRICES, positions or POSITIONS)
    return obs.model_copy(update={"lots": lots, "realized_gain": realized})


def _plan(tax: TaxSettings | None, lots: list[HeldLot] | None = None, **obs: object) -> PortfolioPlan:
    return plan_portfolio(_desired(tax), _obs(lots, **obs), CostModel())  # type: ignore[arg-type]


def _sold(pp: PortfolioPlan) -> D:
    return sum((a.quantity for a in pp.actions if a.side == "sell"), D(0))


def test_a_portfolio_without_a_tax_block_has_no_tax_figures() -> None:
    assert _plan(None, [OLD, NEW, BND]).tax is None


def test_a_tax_block_without_a_budget_sells_what_the_planner_wants() -> None:
    assert _plan(TaxSettings(lots="hifo", rates=RATES), [OLD, NEW, BND]).actions == _plan(None).actions


def test_a_sell_shows_the_lots_it_closes() -> None:
    (sell,) = _plan(TaxSettings(lots="hifo", rates=RATES), [OLD, NEW, BND]).tax.sells  # type: ignore[union-attr]
    assert [(c.acquired, c.quantity) for c in sell.lots] == [(date(2023, 6, 1), D(40))]


def test_a_sell_shows_its_gain_by_term_and_estimated_tax() -> None:
    (sell,) = _plan(TaxSettings(lots="hifo", rates=RATES), [OLD, NEW, BND]).tax.sells  # type: ignore[union-attr]
    assert (sell.short_term_gain, sell.long_term_gain, sell.tax) == (D(400), D(0), D(400) * D("0.35"))


def test_the_portfolio_totals_its_sells() -> None:
    tax = _plan(TaxSettings(lots="fifo", rates=RATES), [OLD, NEW, BND]).tax
    assert tax is not None
    assert (tax.short_term_gain, tax.long_term_gain, tax.tax) == (D(0), D(2000), D(300))


def test_a_symbol_whose_lots_disagree_has_no_figures_and_says_why() -> None:
    tax = _plan(TaxSettings(rates=RATES), [OLD, BND]).tax  # 100 units in lots, 140 held
    assert tax is not None
    assert "its lots hold 100 units and the broker 140" in tax.unavailable["VTI"]


def test_a_symbol_whose_lots_disagree_is_not_trimmed() -> None:
    tight = TaxSettings(rates=RATES, max_realized_gain=D(0))
    assert _sold(_plan(tight, [OLD, BND])) == D(40)


def test_sells_are_trimmed_to_the_budget() -> None:
    # FIFO closes the long-term lot at 50 a unit: a budget of 1,500 allows 30 of the 40 units.
    assert _sold(_plan(TaxSettings(rates=RATES, max_realized_gain=D(1500)), [OLD, NEW, BND])) == D(30)


def test_gains_realised_earlier_this_year_count_against_the_budget() -> None:
    got = _plan(TaxSettings(rates=RATES, max_realized_gain=D(1500)), [OLD, NEW, BND], realized=D(500))
    assert _sold(got) == D(20)


def test_a_trim_never_leaves_a_holding_past_the_hard_band() -> None:
    # The hard band of 10% keeps VTI at most 60% (12,000): at least 20 units are sold whatever the budget.
    assert _sold(_plan(TaxSettings(rates=RATES, max_realized_gain=D(0)), [OLD, NEW, BND])) == D(20)


def test_the_note_says_the_budget_trimmed_the_sells() -> None:
    notes = _plan(TaxSettings(rates=RATES, max_realized_gain=D(1500)), [OLD, NEW, BND]).notes
    assert any(n.startswith("tax budget: sells trimmed (VTI 40 → 30)") for n in notes)


def test_the_note_states_the_hard_limit() -> None:
    notes = _plan(TaxSettings(rates=RATES, max_realized_gain=D(1500)), [OLD, NEW, BND]).notes
    assert any("within 10% of its target (the hard limit, tax.hard_band)" in n for n in notes)


def test_a_trimmed_sell_funds_fewer_buys() -> None:
    trimmed = _plan(TaxSettings(rates=RATES, max_realized_gain=D(1500)), [OLD, NEW, BND])
    assert trimmed.buy_notional < _plan(None).buy_notional


def test_lots_turning_long_term_soon_are_held_back_down_to_the_hard_band() -> None:
    soon = [HeldLot("VTI", date(2023, 1, 20), D(140), D(7000)), BND]  # long-term on 2024-01-21
    assert _sold(_plan(TaxSettings(rates=RATES, avoid_short_term_days=30), soon)) == D(20)


def test_the_policy_input_carries_each_sells_realised_gain() -> None:
    pp = _plan(TaxSettings(lots="hifo", rates=RATES), [OLD, NEW, BND])
    doc = policy_input(pp, PolicyParams(), phase="plan", now=FixedClock(NOW).now())
    assert doc["actions"][0]["realized_gain"]["short_term"] == 400.0


def test_the_policy_input_carries_the_years_realised_gain() -> None:
    pp = _plan(TaxSettings(rates=RATES, max_realized_gain=D(5000)), [OLD, NEW, BND], realized=D(700))
    doc = policy_input(pp, PolicyParams(), phase="plan", now=FixedClock(NOW).now())
    assert doc["tax"]["year_realized_gain"] == 2700.0


def test_a_portfolio_without_tax_keeps_the_policy_input_it_had() -> None:
    doc = policy_input(_plan(None), PolicyParams(), phase="plan", now=FixedClock(NOW).now())
    assert "tax" not in doc
