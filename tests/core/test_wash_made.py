"""Wash sales already made (core.wash_guard): a buy within 30 days after a sale of the same symbol at a known
loss, in any accounts of the household (Publication 550, "Wash Sales"). The ledger does not adjust for them,
so the plan of each account involved says so; nothing is said of a trade pair that is not one."""

from __future__ import annotations

from decimal import Decimal as D

from reconciler.core.models import CostModel, PortfolioPlan
from reconciler.core.planner import plan_portfolio
from reconciler.core.wash_sale import TradeEvent
from tests.core.test_wash_guard import _ago, _desired, _obs

LOSS = TradeEvent("taxable", "X", _ago(20), "sell", D(-250))
REBUY = TradeEvent("ira", "X", _ago(15), "buy")
NOTE = ("wash sale: X sold at a loss of $250.00 in taxable on {sold} and bought in ira on {bought}, within 30"
        " days: a wash sale (IRS Publication 550).")


def _notes(trades: list[TradeEvent], account: str = "taxable", **tax: object) -> list[str]:
    obs = _obs({"X": 8, "Y": 10}, {"Y": 100}, trades, account=account)
    pp: PortfolioPlan = plan_portfolio(_desired({"Y": "1"}, account=account, **tax), obs, CostModel())
    return [n for n in pp.notes if n.startswith("wash sale: ")]


def test_the_sellers_plan_says_a_wash_sale_was_made() -> None:
    (note,) = _notes([LOSS, REBUY])
    assert note.startswith(NOTE.format(sold=LOSS.day.isoformat(), bought=REBUY.day.isoformat()))


def test_the_buyers_plan_says_so_too() -> None:
    assert len(_notes([LOSS, REBUY], account="ira")) == 1


def test_an_account_not_involved_is_told_nothing() -> None:
    assert _notes([LOSS, REBUY], account="spouse") == []


def test_it_is_said_with_the_guard_off() -> None:
    assert len(_notes([LOSS, REBUY], wash_sale=False)) == 1


def test_a_sale_at_a_gain_then_a_buy_is_no_wash_sale() -> None:
    assert _notes([TradeEvent("taxable", "X", _ago(20), "sell", D(250)), REBUY]) == []


def test_a_sale_of_unknown_result_is_not_called_one() -> None:
    assert _notes([TradeEvent("taxable", "X", _ago(20), "sell"), REBUY]) == []


def test_a_buy_before_the_loss_sale_is_not_called_one() -> None:
    """(the shares bought may be the very shares sold: the guard's own, stricter, rule covers it)"""
    assert _notes([REBUY, TradeEvent("taxable", "X", _ago(10), "sell", D(-250))]) == []


def test_a_buy_31_days_after_is_not_one() -> None:
    loss = TradeEvent("taxable", "X", _ago(40), "sell", D(-250))
    assert _notes([loss, TradeEvent("ira", "X", _ago(9), "buy")]) == []


def test_a_buy_30_days_after_is_one() -> None:
    loss = TradeEvent("taxable", "X", _ago(40), "sell", D(-250))
    assert len(_notes([loss, TradeEvent("ira", "X", _ago(10), "buy")])) == 1


def test_a_buy_of_another_symbol_is_not_one() -> None:
    assert _notes([LOSS, TradeEvent("ira", "Z", _ago(15), "buy")]) == []


def test_a_sale_at_no_gain_or_loss_then_a_buy_is_no_wash_sale() -> None:
    assert _notes([TradeEvent("taxable", "X", _ago(20), "sell", D(0)), REBUY]) == []
