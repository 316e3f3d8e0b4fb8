"""core.raise_cash: a pending withdrawal's cash is raised in full, from overweights first, and then kept."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from reconciler.core.models import CostModel, Desired, Observation
from reconciler.core.planner import plan_portfolio
from reconciler.core.raise_cash import pending, raised
from reconciler.core.rules import SymbolRule, Withdrawal
from reconciler.errors import ReconcilerError
from tests.builders import NOW, desired, observation

TODAY = NOW.date()
# 100 VTI and 100 BND at 100 each, no cash: equity 20,000, exactly at 50/50.
PRICES = {"VTI": 100, "BND": 100}


def _with(*withdrawals: tuple[str, int], targets: dict[str, str] | None = None, **more: object) -> Desired:
    d = desired(targets or {"VTI": "0.5", "BND": "0.5"}, **more)  # type: ignore[arg-type]
    ws = [Withdrawal(amount=Decimal(a), date=TODAY + timedelta(days=days)) for a, days in withdrawals]
    return d.model_copy(update={"withdrawals": ws})


def _obs(positions: dict[str, int] | None = None, cash: int = 0) -> Observation:
    return observation(PRICES, positions or {"VTI": 100, "BND": 100}, settled=cash)


def test_no_withdrawals_leave_the_targets_alone() -> None:
    d = _with()
    assert raised(d, _obs()) == (d, False, [])


def test_a_withdrawal_dated_today_is_pending() -> None:
    assert pending(_with(("2000", 0)), _obs()) == Decimal(2000)


def test_a_withdrawal_dated_yesterday_is_not() -> None:
    assert pending(_with(("2000", -1)), _obs()) == Decimal(0)


def test_a_passed_withdrawal_says_to_remove_it() -> None:
    _, raising, notes = raised(_with(("2000", -1)), _obs())
    assert (raising, notes) == (False, [
        f"withdrawal of $2,000.00 dated {(TODAY - timedelta(days=1)).isoformat()} has passed: its cash is"
        " spent"
        " again; remove it from withdrawals:"
    ])


def test_the_targets_share_what_stays_and_the_withdrawal_is_cash() -> None:
    got, raising, _ = raised(_with(("2000", 3)), _obs())
    assert (got.targets, got.cash, raising) == (
        {"VTI": Decimal("0.45"), "BND": Decimal("0.45")},
        Decimal("0.1"),
        True,
    )


def test_the_note_says_how_much_and_until_when() -> None:
    _, _, notes = raised(_with(("2000", 3), ("500", 5)), _obs())
    until = (TODAY + timedelta(days=5)).isoformat()
    assert notes == [f"withdrawal: $2,500.00 raised and kept as cash until {until}; the targets are of the"
                     " $17,500.00"
                     " that stays"]


def test_more_than_the_account_holds_is_an_error_naming_the_field() -> None:
    with pytest.raises(ReconcilerError) as caught:
        raised(_with(("20000.01", 1)), _obs())
    assert caught.value.where == "test: spec.withdrawals"


def test_exactly_what_the_account_holds_can_be_raised() -> None:
    got, _, _ = raised(_with(("20000", 1)), _obs())
    assert got.cash == 1


def test_a_held_symbol_without_a_quote_leaves_the_planner_to_block() -> None:
    d = _with(("2000", 1))
    obs = observation({"VTI": 100}, {"VTI": 100, "BND": 100})
    assert raised(d, obs)[:2] == (d, False)


def test_a_protected_holding_outside_the_targets_is_not_counted() -> None:
    d = _with(("2000", 1), symbols={"AAPL": SymbolRule(hold=True)})
    # set aside, then the rest
    obs = observation({**PRICES, "AAPL": 100}, {"AAPL": 100, "VTI": 100, "BND": 100})
    got, _, _ = raised(d, obs)
    assert got.cash == Decimal("0.1")


def test_a_zero_position_is_not_counted() -> None:
    obs = observation(PRICES, {"GLD": 0, "VTI": 100, "BND": 100})  # skipped, then the rest
    got, _, _ = raised(_with(("2000", 1)), obs)
    assert got.cash == Decimal("0.1")


def test_unsettled_cash_counts_toward_what_the_account_holds() -> None:
    obs = observation(PRICES, {"VTI": 90, "BND": 90}, settled=1000, unsettled=1000)
    got, _, _ = raised(_with(("2000", 1)), obs)
    assert got.cash == Decimal("0.1")


def test_the_plan_sells_just_enough_and_evenly_at_target() -> None:
    pp = plan_portfolio(_with(("2000", 1)), _obs(), CostModel())
    assert {(a.symbol, a.side, a.quantity) for a in pp.actions} == {("VTI", "sell", 10), ("BND", "sell", 10)}


def test_overweights_sell_first() -> None:
    # 110 VTI / 90 BND, 1,000 to raise: the targets become 9,500 each. VTI alone is over: it sells 1,500, and
    # BND, under, is bought up to its target with what is not the withdrawal's.
    pp = plan_portfolio(_with(("1000", 1)), _obs({"VTI": 110, "BND": 90}), CostModel())
    assert {(a.symbol, a.side, a.quantity) for a in pp.actions} == {("VTI", "sell", 15), ("BND", "buy", 5)}


def test_a_small_withdrawal_inside_the_cash_band_is_still_raised() -> None:
    pp = plan_portfolio(_with(("200", 1)), _obs(), CostModel())
    assert {(a.symbol, a.side, a.quantity) for a in pp.actions} == {("VTI", "sell", 1), ("BND", "sell", 1)}


def test_the_raised_cash_is_not_reinvested_while_pending() -> None:
    pp = plan_portfolio(_with(("2000", 1)), _obs({"VTI": 90, "BND": 90}, cash=2000), CostModel())
    assert pp.actions == []


def test_after_the_date_the_cash_is_reinvested() -> None:
    pp = plan_portfolio(_with(("2000", -1)), _obs({"VTI": 90, "BND": 90}, cash=2000), CostModel())
    assert {(a.symbol, a.side) for a in pp.actions} == {("VTI", "buy"), ("BND", "buy")}


def test_a_withdrawal_dated_today_is_not_called_passed() -> None:
    _, _, notes = raised(_with(("2000", 0)), _obs())
    assert [n for n in notes if "has passed" in n] == []


def test_a_withdrawal_dated_today_is_kept_until_today() -> None:
    _, _, notes = raised(_with(("2000", 0)), _obs())
    assert notes[-1].startswith(f"withdrawal: $2,000.00 raised and kept as cash until {TODAY.isoformat()};")
