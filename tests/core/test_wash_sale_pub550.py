"""The wash-sale guard against IRS Publication 550's worked examples ("Wash Sales"), and the guard across a
household as a property: a trade it lets through never makes a wash sale with another trade of the household,
and it refuses only trades that would.

Sources, and how far each example is checked (searched again on the s23-taxtests branch: the text of
Publication 550 itself, https://www.irs.gov/pub/irs-pdf/p550.pdf, is in none of the search corpora):
- Example 1 ($1,000 bought, sold for $750, 100 bought again within 30 days for $800: $250 disallowed, new
  basis $1,050) is checked word for word against the IRS's own VITA case study of it,
  https://apps.irs.gov/app/vita/content/10s/10_04_011.jsp.
- "More or less stock bought than sold" is known only second-hand, from public code quoting Publication 550
  (2025), p. 87: its rule "Match the shares bought in the same order that you bought them, beginning with the
  first shares bought"; its Example 1 (100 shares bought for $5,000 on September 20, 2024, 50 more for $2,750
  on December 13 and 25 for $1,125 on December 20, the first 100 sold for $4,000 on January 3, 2025: $750 of
  the $1,000 loss disallowed, on the 75 shares bought within 30 days before the sale); and its Example 2 (a
  100-share loss sale, then 50 shares bought on each of four days: the first two purchases take the whole
  loss). The dates of our four-day test (September 24, 2021; February 3 and 10-13, 2022) are not confirmed by
  any source found: its structure is; its dates are ours.
- The IRA rule: the fourth of Publication 550's ways to make a wash sale ("Acquire substantially identical
  stock for your individual retirement arrangement (IRA) or Roth IRA"), as quoted in public code, and Revenue
  Ruling 2008-5. The spouse rule's quotation was not found again in any corpus.

The guard refuses the trade that would make the wash sale, so the basis and holding-period adjustments the
examples go on to compute never arise for trades the planner makes (the ledger has no adjustment for wash
sales made outside it: a gap noted in issue 26).
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.wash_sale import WINDOW_DAYS, TradeEvent, conflicts

HOUSEHOLD = frozenset({"taxable", "ira", "roth", "spouse"})


def test_pub550_example_1_rebuying_within_30_days_of_the_loss_is_refused() -> None:
    """Example 1: 100 shares of X bought for $1,000 and sold for $750; 100 shares bought again within 30 days
    of the sale for $800. The $250 loss is not deductible (it would go into the new shares' basis, $1,050)."""
    bought = date(2022, 1, 3)
    sale = TradeEvent("taxable", "X", bought + timedelta(days=90), "sell", D(750) - D(1000))
    history = [TradeEvent("taxable", "X", bought, "buy"), sale]
    rebuy = TradeEvent("taxable", "X", sale.day + timedelta(days=29), "buy")
    assert conflicts(history, HOUSEHOLD, rebuy) == [sale]


def test_pub550_more_or_less_stock_the_first_replacement_buy_is_refused() -> None:
    """"More or less stock bought than sold", Example 2 (its dates here are ours, not the edition's): 100
    shares of M sold at a $1,000 loss, then 50 shares bought on each of four days. Replacement shares are
    matched in the order bought (the first two purchases take the whole loss, $500 each), so the guard refuses
    the first."""
    sale = TradeEvent("taxable", "M", date(2022, 2, 3), "sell", D(-1000))
    history = [TradeEvent("taxable", "M", date(2021, 9, 24), "buy"), sale]
    assert conflicts(history, HOUSEHOLD, TradeEvent("taxable", "M", date(2022, 2, 10), "buy")) == [sale]


def test_pub550_more_or_less_stock_every_later_replacement_buy_is_refused_too() -> None:
    """Had the February 10 buy been made anyway (outside reconciler), February 11 to 13 still fall within
    the window of the same loss: each is refused, not only the ones the IRS matches to it."""
    sale = TradeEvent("taxable", "M", date(2022, 2, 3), "sell", D(-1000))
    history = [sale, TradeEvent("taxable", "M", date(2022, 2, 10), "buy")]
    refused = [conflicts(history, HOUSEHOLD, TradeEvent("taxable", "M", date(2022, 2, d), "buy")) != []
               for d in (11, 12, 13)]
    assert refused == [True, True, True]


def test_pub550_more_or_less_stock_replacements_bought_before_the_loss_sale_refuse_it() -> None:
    """"More or less stock bought than sold", Example 1 (Publication 550 (2025), quoted second-hand): the 50
    and 25 shares bought 21 and 14 days before the January 3 loss sale are its replacement shares; the 100
    bought in September, 105 days before, are not."""
    september = TradeEvent("taxable", "M", date(2024, 9, 20), "buy")
    december = [TradeEvent("taxable", "M", date(2024, 12, 13), "buy"),
                TradeEvent("taxable", "M", date(2024, 12, 20), "buy")]
    sale = TradeEvent("taxable", "M", date(2025, 1, 3), "sell", D(4000) - D(5000))
    assert conflicts([september, *december], HOUSEHOLD, sale) == december


def test_pub550_the_window_opens_30_days_before_the_sale() -> None:
    """A wash sale is a loss sale with a purchase "within 30 days before or after the sale": shares bought 30
    days before a loss sale make it one, so the guard refuses the sale."""
    buy = TradeEvent("taxable", "X", date(2022, 3, 1), "buy")
    sale = TradeEvent("taxable", "X", buy.day + timedelta(days=WINDOW_DAYS), "sell", D(-10))
    assert conflicts([buy], HOUSEHOLD, sale) == [buy]


def test_pub550_a_buy_31_days_before_the_loss_sale_is_outside_the_window() -> None:
    buy = TradeEvent("taxable", "X", date(2022, 3, 1), "buy")
    sale = TradeEvent("taxable", "X", buy.day + timedelta(days=WINDOW_DAYS + 1), "sell", D(-10))
    assert conflicts([buy], HOUSEHOLD, sale) == []


def test_pub550_the_window_counts_61_days() -> None:
    """30 days before, the day of the sale and 30 days after: a buy on each of them is refused."""
    sale = TradeEvent("taxable", "X", date(2022, 6, 1), "sell", D(-10))
    days = [sale.day + timedelta(days=n) for n in range(-45, 46)]
    refused = [d for d in days if conflicts([sale], HOUSEHOLD, TradeEvent("taxable", "X", d, "buy"))
               or conflicts([TradeEvent("taxable", "X", d, "buy")], HOUSEHOLD, sale)]
    assert len(refused) == 61


def test_pub550_a_spouses_purchase_makes_a_wash_sale() -> None:
    """"If you sell stock and your spouse ... buys substantially identical stock, you also have a wash sale":
    the spouse's account is one of the household's."""
    sale = TradeEvent("taxable", "X", date(2022, 6, 1), "sell", D(-10))
    assert conflicts([sale], HOUSEHOLD, TradeEvent("spouse", "X", sale.day + timedelta(days=5), "buy")) == [
        sale]


def test_pub550_a_purchase_in_a_roth_ira_makes_a_wash_sale() -> None:
    """Publication 550 (after Revenue Ruling 2008-5): buying the shares in your IRA or Roth IRA within the
    window disallows the loss, and the loss is not added to the IRA shares' basis: it is lost for good."""
    sale = TradeEvent("taxable", "X", date(2022, 6, 1), "sell", D(-10))
    rebuy = TradeEvent("roth", "X", sale.day + timedelta(days=5), "buy")
    assert conflicts([sale], HOUSEHOLD, rebuy) == [sale]


def test_pub550_a_loss_sale_in_the_ira_after_a_taxable_buy_is_refused_as_well() -> None:
    """The guard is symmetric across the household: a loss sale anywhere in it within 30 days of a buy
    anywhere in it is held back (stricter than the rule, which matters only for the taxable account)."""
    buy = TradeEvent("taxable", "X", date(2022, 6, 1), "buy")
    sale = TradeEvent("ira", "X", buy.day + timedelta(days=10), "sell", D(-1))
    assert conflicts([buy], HOUSEHOLD, sale) == [buy]


# --- the guard across accounts, as a property ---------------------------------------------------------------

START = date(2025, 1, 6)
ACCOUNTS = ["taxable", "ira", "spouse", "neighbour"]  # the neighbour is not of the household
trades = st.lists(
    st.builds(
        TradeEvent,
        account=st.sampled_from(ACCOUNTS),
        symbol=st.sampled_from(["X", "Y"]),
        day=st.integers(0, 150).map(lambda n: START + timedelta(days=n)),
        side=st.sampled_from(["buy", "sell"]),
        gain=st.one_of(st.none(), st.integers(-5, 5).map(D)),
    ),
    max_size=30,
)
HOME = frozenset({"taxable", "ira", "spouse"})


def _loss(t: TradeEvent) -> bool:
    return t.side == "sell" and t.gain is not None and t.gain < 0


def _washes(done: list[TradeEvent], household: frozenset[str]) -> list[tuple[TradeEvent, TradeEvent]]:
    """Every loss sale and buy of the same symbol within 30 days of each other, both in the household."""
    mine = [t for t in done if t.account in household]
    return [(s, b) for s in mine if _loss(s) for b in mine
            if b.side == "buy" and b.symbol == s.symbol and abs((b.day - s.day).days) <= WINDOW_DAYS]


@given(trades)
def test_no_buy_passes_inside_a_window_in_any_account_of_the_household(proposed: list[TradeEvent]) -> None:
    done: list[TradeEvent] = []
    for trade in sorted(proposed, key=lambda t: t.day):
        household = HOME if trade.account in HOME else frozenset({trade.account})
        if not conflicts(done, household, trade):
            done.append(trade)
    assert _washes(done, HOME) == []


@given(trades, st.integers(0, 150), st.sampled_from(ACCOUNTS), st.sampled_from(["buy", "sell"]),
       st.integers(-5, 5).map(D))
def test_the_guard_refuses_only_a_trade_that_would_make_a_wash_sale(
    history: list[TradeEvent], offset: int, account: str, side: str, gain: D
) -> None:
    """The other direction: a trade the guard holds back does make a wash sale with an earlier trade of the
    household; the guard is no blanket refusal."""
    trade = TradeEvent(account, "X", START + timedelta(days=offset), side,  # type: ignore[arg-type]
                       gain if side == "sell" else None)
    earlier = [t for t in history if t.day <= trade.day]
    household = HOME if account in HOME else frozenset({account})
    expected = [t for t in earlier if (t, trade) in _pairs(earlier, trade, household)]
    assert conflicts(earlier, household, trade) == expected


def _pairs(earlier: list[TradeEvent], trade: TradeEvent,
           household: frozenset[str]) -> set[tuple[TradeEvent, TradeEvent]]:
    """The wash sales `trade` would make with trades before it (an independent statement of the rule)."""
    if not (trade.side == "buy" or _loss(trade)):
        return set()
    return {(t, trade) for t in earlier
            if t.account in household | {trade.account} and t.symbol == trade.symbol
            and (trade.day - t.day).days <= WINDOW_DAYS
            and ((trade.side == "buy" and _loss(t)) or (_loss(trade) and t.side == "buy"))}
