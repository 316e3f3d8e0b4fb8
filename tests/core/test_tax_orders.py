"""Taxes wired into the planner (core.tax_orders): each sell's lots, gains and estimated tax with the
portfolio's totals, symbols whose lots disagree left without figures, sells trimmed to the year's budget down
to the hard band, lots about to turn long-term held back; portfolios without `tax:` planned as before."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from reconciler.clock import FixedClock
from reconciler.core.ledger import HeldLot
from reconciler.core.lots import Lot
from reconciler.core.models import CostModel, Desired, Observation, PortfolioPlan
from reconciler.core.planner import plan_portfolio
from reconciler.core.rules import Bands, Commission, Trading, Withdrawal
from reconciler.core.tax_orders import budget_left, hard_band, lots_by_symbol, sell_taxes
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


# --- the pieces, one rule each ------------------------------------------------------------------------------

def _banded(absolute: str | None) -> Desired:
    bands = Bands(absolute=None if absolute is None else D(absolute))
    return desired({"VTI": "1"}, trading=Trading(bands=bands))


def test_the_hard_band_is_tax_hard_band_for_a_portfolio_without_an_absolute_band() -> None:
    assert hard_band(_banded(None), TaxSettings(hard_band=D("0.10"))) == D("0.10")


def test_the_hard_band_is_tax_hard_band_when_the_portfolios_own_band_is_tighter() -> None:
    assert hard_band(_banded("0.05"), TaxSettings(hard_band=D("0.10"))) == D("0.10")


def test_the_hard_band_is_never_tighter_than_the_portfolios_own_band() -> None:
    assert hard_band(_banded("0.15"), TaxSettings(hard_band=D("0.10"))) == D("0.15")


def test_without_max_realized_gain_there_is_no_budget() -> None:
    assert budget_left(TaxSettings(), _obs(None, realized=D(700))) is None


def test_the_budget_left_is_the_years_budget_less_the_gains_realised_this_year() -> None:
    assert budget_left(TaxSettings(max_realized_gain=D(5000)), _obs(None, realized=D(700))) == D(4300)


def test_with_no_gains_realised_this_year_the_whole_budget_is_left() -> None:
    assert budget_left(TaxSettings(max_realized_gain=D(5000)), _obs(None, realized=None)) == D(5000)


def test_a_lots_unit_cost_is_its_cost_basis_over_its_quantity() -> None:
    assert lots_by_symbol([HeldLot("VTI", date(2020, 1, 2), D(4), D(1000))]) == {
        "VTI": [Lot(date(2020, 1, 2), D(4), D(250))]}


def test_lots_are_grouped_by_symbol_oldest_first() -> None:
    got = lots_by_symbol([NEW, BND, OLD])
    assert {s: [lot.acquired for lot in lots] for s, lots in got.items()} == {
        "BND": [date(2023, 1, 1)], "VTI": [date(2020, 1, 2), date(2023, 6, 1)]}


def test_an_emptied_lot_holds_nothing_to_sell_and_is_left_out() -> None:
    assert lots_by_symbol([HeldLot("VTI", date(2020, 1, 2), D(0), D(0)), BND]) == {
        "BND": [Lot(date(2023, 1, 1), D(60), D(100))]}


def test_a_lot_of_a_fraction_of_a_share_is_kept() -> None:
    assert lots_by_symbol([HeldLot("BTC", date(2024, 1, 1), D("0.5"), D(20000))]) == {
        "BTC": [Lot(date(2024, 1, 1), D("0.5"), D(40000))]}


# --- a trimmed sell is an order like any other --------------------------------------------------------------

COSTS = CostModel(slippage_bps=D(10), commission=Commission(per_order=D(1), bps=D(5)), price_tick=D("0.01"),
                  commission_step=D("0.5"))
FRACTIONAL = Trading(fractional=True, quantity_step=D("0.0001"))


def test_a_trimmed_sell_is_priced_and_funds_buys_as_the_planners_own_sell_of_that_size() -> None:
    """The budget trims VTI 40 → 30; a plan without taxes whose targets sell exactly 30 makes the same sell
    (leg, notional, commission) and, its proceeds counted at worst the same way, the same buy."""
    taxed = desired({"VTI": "0.5", "BND": "0.5"}, trading=FRACTIONAL).model_copy(
        update={"tax": TaxSettings(rates=RATES, max_realized_gain=D(1500))})
    untaxed = desired({"VTI": "0.55", "BND": "0.45"}, trading=FRACTIONAL)
    trimmed = plan_portfolio(taxed, _obs([OLD, NEW, BND]), COSTS)
    assert trimmed.actions == plan_portfolio(untaxed, _obs([OLD, NEW, BND]), COSTS).actions


def test_a_trim_to_the_hard_band_is_rounded_up_to_the_step_not_to_whole_shares() -> None:
    """Fractional shares: at least the 20 units over the hard band are sold, and not a whole share more."""
    d = desired({"VTI": "0.5", "BND": "0.5"}, trading=FRACTIONAL).model_copy(
        update={"tax": TaxSettings(rates=RATES, max_realized_gain=D(0), hard_band=D("0.09999"))})
    assert _sold(plan_portfolio(d, _obs([OLD, NEW, BND]), CostModel())) == D("20.0020")


def test_a_holding_cents_past_the_hard_band_still_sells_back_within_it() -> None:
    """VTI 50 cents over its target plus the hard band: one share is sold, whatever the budget."""
    tax = TaxSettings(rates=RATES, max_realized_gain=D(0), hard_band=D("0.199975"))
    assert _sold(_plan(tax, [OLD, NEW, BND])) == D(1)


def test_a_sell_trimmed_to_nothing_is_left_out_of_the_plan() -> None:
    """Within the hard band (25%) and a budget of 0: no sell at all, not a sell of 0."""
    tax = TaxSettings(rates=RATES, max_realized_gain=D(0), hard_band=D("0.25"))
    assert [a.side for a in _plan(tax, [OLD, NEW, BND]).actions] == []


# Two sells: AAA and VTI each 35% against 25% (sell 20 each), BND 30% against 50% (buy).
PAIR_PRICES = {"AAA": 100, "VTI": 100, "BND": 100}
PAIR_POSITIONS = {"AAA": 70, "VTI": 70, "BND": 60}
AAA_GAIN = HeldLot("AAA", date(2020, 1, 2), D(70), D(3500))  # long-term, gain 50 a unit
VTI_GAIN = HeldLot("VTI", date(2020, 1, 2), D(70), D(3500))
VTI_LOSS = HeldLot("VTI", date(2020, 1, 2), D(70), D(7070))  # a loss of 1 a unit


def _pair(tax: TaxSettings, lots: list[HeldLot]) -> PortfolioPlan:
    d = desired({"AAA": "0.25", "VTI": "0.25", "BND": "0.5"}).model_copy(update={"tax": tax})
    obs = observation(PAIR_PRICES, PAIR_POSITIONS).model_copy(update={"lots": lots})
    return plan_portfolio(d, obs, CostModel())


def test_a_sell_after_one_trimmed_to_nothing_is_kept_and_numbered_first() -> None:
    pp = _pair(TaxSettings(rates=RATES, max_realized_gain=D(0)), [AAA_GAIN, VTI_LOSS, BND])
    assert [(a.leg, a.symbol, a.side, a.quantity) for a in pp.actions if a.side == "sell"] == [
        (1, "VTI", "sell", D(20))]


def test_a_symbol_whose_lots_disagree_does_not_stop_the_next_sell_from_being_trimmed() -> None:
    """AAA's lots hold 50 of its 70 units; VTI's gain of 50 a unit is trimmed to the budget of 500."""
    aaa_short = HeldLot("AAA", date(2020, 1, 2), D(50), D(2500))
    pp = _pair(TaxSettings(rates=RATES, max_realized_gain=D(500)), [aaa_short, VTI_GAIN, BND])
    assert {a.symbol: a.quantity for a in pp.actions if a.side == "sell"} == {"AAA": D(20), "VTI": D(10)}


def test_a_symbol_whose_lots_disagree_has_no_row_and_the_next_sell_has_its_own() -> None:
    aaa_short = HeldLot("AAA", date(2020, 1, 2), D(50), D(2500))
    tax = _pair(TaxSettings(rates=RATES), [aaa_short, VTI_GAIN, BND]).tax
    assert tax is not None
    assert [r.symbol for r in tax.sells] == ["VTI"]


def test_a_sell_that_cannot_be_trimmed_says_the_budget_is_exceeded_and_no_more() -> None:
    """Sold back to the band's edge (inner 1), the sell is already the hard band's minimum: nothing is
    trimmed, the note says the gains exceed the budget, and no note speaks of a trimmed sell."""
    d = _desired(TaxSettings(rates=RATES, max_realized_gain=D(0), hard_band=D("0.05")))
    d = d.model_copy(update={"trading": Trading(bands=Bands(inner=D(1)))})
    pp = plan_portfolio(d, _obs([OLD, NEW, BND]), CostModel())
    tax_notes = [n.split(" by ")[0] for n in pp.notes if n.startswith("tax")]
    assert (_sold(pp), tax_notes) == (D(30), ["tax budget: realized gains exceed the 0 left this year"])


def test_with_every_sell_unaccounted_for_a_spent_budget_says_nothing() -> None:
    """VTI's lots disagree with its position, so no sell is judged: no note about a budget spent already."""
    pp = _plan(TaxSettings(rates=RATES, max_realized_gain=D(0)), [OLD, BND], realized=D(100))
    assert [n for n in pp.notes if n.startswith("tax")] == []


def test_without_loaded_lots_a_sell_has_no_figures_and_says_why() -> None:
    tax = _plan(TaxSettings(rates=RATES), None).tax
    assert tax is not None
    assert (tax.sells, tax.unavailable) == ([], {"VTI": "the account's lots were not loaded"})


def test_a_portfolio_without_a_tax_block_has_no_sell_taxes() -> None:
    pp = _plan(None, [OLD, NEW, BND])
    assert sell_taxes(_desired(None), _obs([OLD, NEW, BND]), pp.actions) is None


# A withdrawal's sells are forced: the cash has to be there on the day, so neither the budget nor the
# short-term hold may trim them (a trim left the withdrawal short while the note said it was raised).
def _withdrawing(tax: TaxSettings, settled: str = "0", positions: dict[str, int] = POSITIONS,
                 lots: tuple[HeldLot, ...] = (OLD, NEW, BND)) -> PortfolioPlan:
    d = _desired(tax).model_copy(update={"withdrawals": [Withdrawal(amount=D(5000), date=NOW.date())]})
    obs = observation(PRICES, positions, settled=settled).model_copy(
        update={"lots": list(lots), "realized_gain": D(0)}
    )
    plan = plan_portfolio(d, obs, CostModel())
    assert isinstance(plan, PortfolioPlan)
    return plan


def _sells(plan: PortfolioPlan) -> dict[str, D]:
    return {a.symbol: a.quantity for a in plan.actions if a.side == "sell"}


def test_a_withdrawal_is_raised_in_full_whatever_the_tax_budget() -> None:
    assert _sells(_withdrawing(TaxSettings(max_realized_gain=D(0)))) == _sells(_withdrawing(TaxSettings()))


def test_a_withdrawals_sells_raise_at_least_its_amount_under_a_budget_of_nothing() -> None:
    plan = _withdrawing(TaxSettings(max_realized_gain=D(0)))
    assert sum((a.notional - a.est_commission for a in plan.actions if a.side == "sell"), D(0)) >= 5000


def test_a_withdrawal_is_raised_in_full_whatever_the_short_term_hold() -> None:
    # NEW turns long-term on 2024-06-01, inside a 200-day window from NOW (2024-01-02).
    held = _withdrawing(TaxSettings(avoid_short_term_days=200))
    assert _sells(held) == _sells(_withdrawing(TaxSettings()))


def test_the_plan_says_a_withdrawals_sells_are_not_trimmed() -> None:
    notes = _withdrawing(TaxSettings(max_realized_gain=D(0))).notes
    assert any("withdrawal's sells are not trimmed" in n for n in notes)


def test_a_withdrawal_whose_cash_is_there_leaves_the_budget_in_force() -> None:
    # 5,000 of cash is the withdrawal: VTI's sell (64% against 40% of 25,000) is the bands' own, and trimmed.
    heavy = {"VTI": 160, "BND": 40}
    lots = (OLD, HeldLot("VTI", date(2023, 6, 1), D(60), D(5400)),
            HeldLot("BND", date(2023, 1, 1), D(40), D(4000)))
    free = _withdrawing(TaxSettings(), settled="5000", positions=heavy, lots=lots)
    trimmed = _withdrawing(TaxSettings(max_realized_gain=D(0)), settled="5000", positions=heavy, lots=lots)
    assert _sells(trimmed)["VTI"] < _sells(free)["VTI"]
