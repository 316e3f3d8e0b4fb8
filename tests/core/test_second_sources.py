"""The second sources of issue 20 in the core, pinned at their edges (mutation testing found them tested only
through apply): a broker's answer judged against the order we sent, the account's figures against its equity,
and a quote against its floor, the last fill and its witnesses."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from reconciler.core.fills import impossible_fill
from reconciler.core.models import Observation, Quote
from reconciler.core.valuation import account_doubts, uncorroborated
from tests.builders import NOW, observation, quote

SENT = ("VTI", "buy", D(10))


@pytest.mark.parametrize("answered", [("VTX", "buy", D(10)), ("VTI", "sell", D(10))], ids=["symbol", "side"])
def test_an_answer_about_another_symbol_or_side_cannot_be_true(answered: tuple[str, str, D]) -> None:
    assert (
        impossible_fill(SENT, answered, D(0)) == "it describes another symbol or side than the order we sent"
        " (buy 10 VTI)"
    )


def test_a_negative_fill_cannot_be_true() -> None:
    assert impossible_fill(SENT, SENT, D("-0.001")) == "it reports a negative fill (-0.001)"


def test_a_fill_of_exactly_the_order_sent_can_be_true() -> None:
    assert impossible_fill(SENT, SENT, D(10)) is None


def test_a_fill_beyond_the_order_we_sent_cannot_be_true_whatever_the_answer_claims() -> None:
    claimed = ("VTI", "buy", D(100000))
    assert (
        impossible_fill(SENT, claimed, D("10.001")) == "it reports 10.001 filled (of 100000), but we sent an"
        " order for 10"
    )


# ---- the account's figures against its equity ----

def _account(equity: str, *, long_value: str | None = None, cash: str = "1000", unsettled: str = "0",
             positions: dict[str, str] | None = None, prices: dict[str, str] | None = None) -> Observation:
    obs = observation(prices if prices is not None else {"A": "100"}, positions if positions is not None else
                      {"A": "100"}, settled=cash, unsettled=unsettled)
    return obs.model_copy(update={"reported_equity": D(equity),
                                  "reported_long_value": None if long_value is None else D(long_value)})


def test_the_tolerance_is_two_percent_of_the_equity() -> None:
    # exactly 2%: computed $10,200 ($100 x 92 + $1,000) against $10,000 reported: $200 off, slack $200:
    # agreed.
    assert account_doubts(_account("10000", positions={"A": "92"})) == []


def test_one_cent_over_two_percent_is_a_disagreement() -> None:
    obs = _account("10000", positions={"A": "92"}, cash="1000.01")
    assert [d.split(":")[0] for d in account_doubts(obs)] == ["equity"]


def test_unsettled_cash_counts_toward_the_computed_equity() -> None:
    # $500 settled + $500 unsettled is the same $1,000 of cash.
    assert account_doubts(_account("11000", cash="500", unsettled="500")) == []


def test_a_small_account_has_a_slack_of_at_least_one_dollar() -> None:
    # equity $10: 2% is $0.20, the floor $1; 0.1 A at $100 = $10, cash $1 off: exactly the slack, agreed.
    assert account_doubts(_account("10", positions={"A": "0.1"}, cash="1")) == []


def test_a_small_account_one_cent_beyond_a_dollar_disagrees() -> None:
    obs = _account("10", positions={"A": "0.1"}, cash="1.01")
    assert [d.split(":")[0] for d in account_doubts(obs)] == ["equity"]


def test_a_negative_equity_is_judged_by_its_size() -> None:
    # A margin account below zero: -$10,000 reported, positions and cash come to -$9,900 (cash -$19,900): $100
    # off, within 2% of its size ($200).
    assert account_doubts(_account("-10000", cash="-19900")) == []


def test_the_long_market_value_exactly_at_the_tolerance_agrees() -> None:
    # computed long value $10,000, reported $10,220 with an $11,000 equity (slack $220): agreed.
    assert account_doubts(_account("11000", long_value="10220")) == []


def test_the_long_market_value_one_cent_beyond_disagrees_either_way() -> None:
    low, high = _account("11000", long_value="9779.99"), _account("11000", long_value="10220.01")
    assert (
        [d.split(":")[0] for d in account_doubts(low)],
        [d.split(":")[0] for d in account_doubts(high)],
    ) == (["long market value"], ["long market value"])


def test_a_zero_position_needs_no_quote_and_the_others_are_still_judged() -> None:
    # Z has no quote at all; A and cash are $9,000 off
    obs = _account("20000", positions={"A": "100", "Z": "0"})
    assert [d.split(":")[0] for d in account_doubts(obs)] == ["equity"]


def test_a_held_symbol_without_a_sound_quote_leaves_the_figures_to_the_quote_check() -> None:
    zero = _account("1", prices={"A": "100", "B": "0.0001"}, positions={"A": "100", "B": "1"})
    bad = zero.model_copy(
        update={"quotes": {**zero.quotes, "B": zero.quotes["B"].model_copy(update={"price": D(0)})}}
    )
    assert account_doubts(bad) == []


def test_a_held_symbol_quoted_at_one_dollar_is_valued() -> None:
    obs = _account("2000", prices={"A": "1"}, positions={"A": "100"}, cash="900")  # $1,000 against $2,000
    assert [d.split(":")[0] for d in account_doubts(obs)] == ["equity"]


def test_every_holding_is_valued_not_only_the_first() -> None:
    # A is unheld (0) and listed first; B's 100 at $100 must still be counted: $11,000.
    obs = _account("11000", prices={"A": "100", "B": "100"}, positions={"A": "0", "B": "100"})
    assert account_doubts(obs) == []


# ---- a quote against its floor, the last fill and its witnesses ----

def _q(price: str, previous_close: str | None = None) -> Quote:
    return quote("A", price, as_of=NOW, previous_close=previous_close)


def test_a_quote_exactly_at_its_floor_is_vouched_for_by_it() -> None:
    assert uncorroborated(_q("10"), D("0.1"), None, D(10)) is None


def test_a_quote_a_cent_below_its_floor_is_refused() -> None:
    assert uncorroborated(_q("9.99"), D("0.1"), None, D(10)) == ("quote 9.99 is below the symbol's floor (10,"
                                                                 " min_price)")


@pytest.mark.parametrize(
    ("price", "far"), [("1000", False), ("1000.01", True), ("10", False), ("9.99", True)]
)
def test_the_fill_ratio_holds_exactly_at_its_edges(price: str, far: bool) -> None:
    # The last fill $100, a ratio of 10: $1,000 and $10 are at the edges; the previous close agrees with the
    # quote.
    why = uncorroborated(_q(price, previous_close=price), D("0.1"), D(100), None, D(10))
    assert (why is not None and "max_fill_ratio" in why) is far


def test_a_last_fill_of_a_fraction_of_a_dollar_still_bounds_the_quote() -> None:
    why = uncorroborated(_q("600", previous_close="600"), D("0.1"), D("0.5"), None, D(10))
    assert why is not None and "max_fill_ratio" in why


@pytest.mark.parametrize(("reference", "vouched"), [("100", True), ("99.99", False)])
def test_a_witness_vouches_exactly_within_its_band(reference: str, vouched: bool) -> None:
    # A quote of $110 against a last fill of $100 is exactly 10% off, the band: vouched; against $99.99, just
    # over.
    why = uncorroborated(_q("110"), D("0.1"), D(reference), None, None)
    assert (why is None) is vouched


def test_a_witness_of_zero_vouches_for_nothing() -> None:
    assert uncorroborated(_q("110"), D("0.1"), D(0), None, None) is not None


def test_a_last_fill_of_zero_bounds_nothing() -> None:
    # No fill price is known as 0: the ratio is not judged, and the previous close vouches.
    assert uncorroborated(_q("110", previous_close="110"), D("0.1"), D(0), None, D(10)) is None
