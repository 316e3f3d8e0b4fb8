"""The wash-sale guard: the IRS's worked case, the window's edges, the household's accounts (IRAs too), and a
property: whatever trades are proposed, the ones the guard lets through hold no wash sale."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.wash_sale import TradeEvent, conflicts, reason

HOME = frozenset({"taxable", "ira"})
SOLD = date(2025, 3, 3)


def test_the_irs_case_a_buy_within_30_days_of_a_loss_sale_is_refused() -> None:
    """Buy 100 shares for $1,000, sell them for $750, buy 100 again within 30 days for $800: a wash sale
    (IRS VITA case study, as in Publication 550)."""
    sale = TradeEvent("taxable", "X", SOLD, "sell", D(750) - D(1000))
    rebuy = TradeEvent("taxable", "X", SOLD + timedelta(days=20), "buy")
    assert conflicts([sale], HOME, rebuy) == [sale]


def test_a_buy_on_the_30th_day_after_a_loss_sale_is_refused() -> None:
    sale = TradeEvent("taxable", "X", SOLD, "sell", D(-1))
    assert conflicts([sale], HOME, TradeEvent("taxable", "X", SOLD + timedelta(days=30), "buy")) == [sale]


def test_a_buy_on_the_31st_day_after_a_loss_sale_goes_ahead() -> None:
    sale = TradeEvent("taxable", "X", SOLD, "sell", D(-1))
    assert conflicts([sale], HOME, TradeEvent("taxable", "X", SOLD + timedelta(days=31), "buy")) == []


def test_a_buy_in_the_households_ira_after_a_loss_sale_is_refused() -> None:
    """Revenue Ruling 2008-5: the taxpayer's IRA buying within the window disallows the loss."""
    sale = TradeEvent("taxable", "X", SOLD, "sell", D(-1))
    assert conflicts([sale], HOME, TradeEvent("ira", "X", SOLD + timedelta(days=3), "buy")) == [sale]


def test_a_loss_sale_in_another_household_does_not_count() -> None:
    sale = TradeEvent("neighbour", "X", SOLD, "sell", D(-1))
    assert conflicts([sale], HOME, TradeEvent("taxable", "X", SOLD + timedelta(days=3), "buy")) == []


def test_a_sale_at_a_gain_leaves_buys_free() -> None:
    sale = TradeEvent("taxable", "X", SOLD, "sell", D(5))
    assert conflicts([sale], HOME, TradeEvent("taxable", "X", SOLD + timedelta(days=3), "buy")) == []


def test_a_sale_at_no_gain_leaves_buys_free() -> None:
    sale = TradeEvent("taxable", "X", SOLD, "sell", D(0))
    assert conflicts([sale], HOME, TradeEvent("taxable", "X", SOLD + timedelta(days=3), "buy")) == []


def test_a_loss_sale_on_the_day_of_a_buy_is_refused() -> None:
    buy = TradeEvent("ira", "X", SOLD, "buy")
    assert conflicts([buy], HOME, TradeEvent("taxable", "X", SOLD, "sell", D(-1))) == [buy]


def test_a_sale_at_a_gain_after_a_buy_goes_ahead() -> None:
    buy = TradeEvent("taxable", "X", SOLD, "buy")
    assert conflicts([buy], HOME, TradeEvent("taxable", "X", SOLD, "sell", D(1))) == []


def test_a_later_trade_does_not_count_against_an_earlier_one() -> None:
    later = TradeEvent("taxable", "X", SOLD + timedelta(days=1), "sell", D(-1))
    assert conflicts([later], HOME, TradeEvent("taxable", "X", SOLD, "buy")) == []


def test_another_symbol_does_not_count() -> None:
    sale = TradeEvent("taxable", "ITOT", SOLD, "sell", D(-1))
    assert conflicts([sale], HOME, TradeEvent("taxable", "VTI", SOLD, "buy")) == []


def test_the_reason_names_the_trade_account_and_day() -> None:
    sale = TradeEvent("ira", "X", SOLD, "sell", D(-1))
    buy = TradeEvent("taxable", "X", SOLD + timedelta(days=2), "buy")
    assert reason([sale], buy) == (
        "X: a buy on 2025-03-05 would be a wash sale: sold at a loss in ira on 2025-03-03, within 30 days"
        " (IRS Publication 550)")


proposals = st.lists(
    st.builds(
        TradeEvent,
        account=st.sampled_from(["taxable", "ira", "spouse"]),
        symbol=st.sampled_from(["X", "Y"]),
        day=st.integers(0, 120).map(lambda n: SOLD + timedelta(days=n)),
        side=st.sampled_from(["buy", "sell"]),
        gain=st.one_of(st.none(), st.integers(-5, 5).map(D)),
    ),
    max_size=25,
)


@given(proposals)
def test_what_the_guard_lets_through_holds_no_wash_sale(proposed: list[TradeEvent]) -> None:
    household = frozenset({"taxable", "ira", "spouse"})
    done: list[TradeEvent] = []
    for trade in sorted(proposed, key=lambda t: t.day):
        if not conflicts(done, household, trade):
            done.append(trade)
    losses = [t for t in done if t.side == "sell" and t.gain is not None and t.gain < 0]
    washes = [(s, b) for s in losses for b in done
              if b.side == "buy" and b.symbol == s.symbol and abs((b.day - s.day).days) <= 30]
    assert washes == []


def test_a_sale_at_no_gain_after_a_buy_goes_ahead() -> None:
    buy = TradeEvent("taxable", "X", SOLD, "buy")
    assert conflicts([buy], HOME, TradeEvent("taxable", "X", SOLD, "sell", D(0))) == []


def test_the_reason_names_the_earliest_trade_found() -> None:
    early = TradeEvent("ira", "X", SOLD, "buy")
    late = TradeEvent("taxable", "X", SOLD + timedelta(days=5), "buy")
    sale = TradeEvent("taxable", "X", SOLD + timedelta(days=9), "sell", D(-1))
    assert "bought in ira on 2025-03-03" in reason([late, early], sale)
