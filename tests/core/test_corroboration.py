"""A quote nothing independent agrees with cannot value an account, and no buy outgrows a price a wrong quote
does not set (core.valuation, core.order_size). Pure."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.models import Action, CostModel, Quote
from reconciler.core.order_size import SizeLimits, independent_price, order_size_denials, oversized
from reconciler.core.planner import plan_portfolio
from reconciler.core.rules import SymbolRule
from reconciler.core.valuation import QuoteLimits, doubtful_quotes, uncorroborated
from tests.builders import desired, observation, quote

D = Decimal
NOW = datetime(2031, 5, 6, 15, 0, tzinfo=UTC)
BAND = D("0.2")
LIMITS = QuoteLimits(max_age_seconds=60, max_move=D("0.2"), corroboration_band=BAND)
TINY = "0.0000000000000000001"  # 1e-19: $10,000 buys 10^23 shares at it


def _bare(price: str, **fields: str) -> Quote:
    return Quote(symbol="AAA", price=D(price), as_of=NOW, **{k: D(v) for k, v in fields.items()})


@pytest.mark.parametrize("witness", ["previous_close", "bid", "ask"])
def test_a_quote_is_believed_when_its_own_market_data_agrees(witness: str) -> None:
    assert uncorroborated(_bare("100", **{witness: "119"}), BAND, None, None) is None
    assert uncorroborated(_bare("100", **{witness: "126"}), BAND, None, None) is not None


def test_the_journals_last_fill_vouches_for_a_quote_without_a_previous_close() -> None:
    assert uncorroborated(_bare("100"), BAND, D("95"), None) is None
    why = uncorroborated(_bare("100"), BAND, D("50"), None)
    assert why is not None
    assert "last fill 50" in why


def test_a_last_fill_far_away_vetoes_what_the_feed_says_of_itself() -> None:
    wrong = _bare(TINY, previous_close=TINY, bid=TINY, ask=TINY)
    why = uncorroborated(wrong, BAND, D("72.85"), None, D(10))
    assert why is not None
    assert "more than 10 times from the journal's last fill price 72.85" in why
    # 9.99x: kept
    assert uncorroborated(_bare("728", previous_close="728"), BAND, D("72.85"), None, D(10)) is None
    assert uncorroborated(_bare("7.28", previous_close="7.28"), BAND, D("72.85"), None, D(10)) is not None


def test_nothing_known_about_a_quote_is_doubtful() -> None:
    why = uncorroborated(_bare(TINY), BAND, None, None)
    assert why is not None
    assert "not corroborated" in why
    assert "none known" in why


def test_a_floor_vouches_above_it_and_refuses_below_it_whatever_agrees() -> None:
    assert uncorroborated(_bare("5"), BAND, None, D("1")) is None
    why = uncorroborated(_bare(TINY, previous_close=TINY), BAND, None, D("1"))
    assert why is not None
    assert "below the symbol's floor" in why


def test_reproduced_a_quote_without_a_previous_close_would_buy_ten_to_the_23_shares() -> None:
    """The issue's case: 1e-19 with no previous close passes the kill switch; without corroboration the
    planner buys half the equity at it. With it, the portfolio is blocked and nothing is bought."""
    target = desired({"AAA": "0.5", "BBB": "0.5"}, name="p", source="p.yaml")
    quotes = {"AAA": quote("AAA", TINY, as_of=NOW), "BBB": quote("BBB", 50, previous_close=50, as_of=NOW)}
    obs = observation(settled=10000, taken_at=NOW, quotes=quotes)
    unguarded = plan_portfolio(target, obs, CostModel(), QuoteLimits(max_age_seconds=60, max_move=D("0.2")))
    assert max(a.quantity for a in unguarded.actions) >= D(10) ** 22
    pp = plan_portfolio(target, obs, CostModel(), LIMITS)
    assert pp.actions == []
    assert [b.split(":")[0] for b in pp.blocked] == ["AAA"]


def test_a_previous_close_as_wrong_as_the_quote_is_refused_at_the_last_fill_price() -> None:
    """1e-19 with a previous close of 1e-19 and no volume: the close vouches for it, but the journal filled
    AAA at 100 once, and 10^23 shares at 100 is far more than the account's equity: the order-size check
    refuses."""
    target = desired({"AAA": "0.5", "BBB": "0.5"}, name="p", source="p.yaml")
    quotes = {
        "AAA": quote("AAA", TINY, previous_close=TINY, as_of=NOW),
        "BBB": quote("BBB", 50, previous_close=50, as_of=NOW),
    }
    obs = observation(settled=10000, taken_at=NOW, quotes=quotes)
    pp = plan_portfolio(target, obs, CostModel(), LIMITS, references={"AAA": D(100)})
    assert pp.references == {"AAA": D(100)}
    huge = next(a for a in pp.actions if a.symbol == "AAA")
    assert huge.quantity >= D(10) ** 22
    denials = order_size_denials(pp, SizeLimits())
    assert len(denials) == 1
    assert "independently known price 100" in denials[0].message


def test_a_previous_close_as_wrong_as_the_quote_is_refused_below_a_floor() -> None:
    floor = {"AAA": SymbolRule(min_price=D(1))}
    target = desired({"AAA": "0.5", "BBB": "0.5"}, name="p", source="p.yaml", symbols=floor)
    quotes = {
        "AAA": quote("AAA", TINY, previous_close=TINY, as_of=NOW),
        "BBB": quote("BBB", 50, previous_close=50, as_of=NOW),
    }
    pp = plan_portfolio(target, observation(settled=10000, taken_at=NOW, quotes=quotes), CostModel(), LIMITS)
    assert pp.actions == []
    assert "below the symbol's floor" in pp.blocked[0]


def _buy(qty: str, price: str) -> Action:
    return Action(1, "AAA", "buy", D(qty), D(price), D(qty) * D(price), D(0), "test")


def test_a_buy_beyond_a_multiple_of_its_target_quantity_at_the_previous_close_is_refused() -> None:
    """The quote (bid-corroborated, 1) is far from a sound previous close (100): half of $10,000 is 50 units
    at the close, so 5,000 units are refused at twice that, volume or not."""
    q = Quote(symbol="AAA", price=D(1), previous_close=D(100), bid=D(1), as_of=NOW)
    limits = SizeLimits(max_target_multiple=D(2))
    assert oversized(_buy("100", "1"), D(0), D(10000), q, limits, target_weight=D("0.5")) is None
    why = oversized(_buy("101", "1"), D(0), D(10000), q, limits, target_weight=D("0.5"))
    assert why is not None
    assert "2 times its whole target quantity" in why


def test_the_independent_price_is_the_highest_known() -> None:
    assert independent_price("AAA", {"AAA": D(90)}, {"AAA": D(100)}) == D(100)
    assert independent_price("AAA", {}, {}) is None


@given(st.decimals(min_value=D("1e-20"), max_value=D("1e6"), allow_nan=False, allow_infinity=False),
       st.decimals(min_value=D("0.01"), max_value=D("1e6"), places=2))
def test_no_buy_outgrows_the_equity_at_a_known_price(price: Decimal, known: Decimal) -> None:
    """Whatever the quote, a buy the planner makes either costs at most the equity at the last fill price, or
    the order-size check refuses it."""
    target = desired({"AAA": "0.5", "BBB": "0.5"}, name="p", source="p.yaml")
    quotes = {
        "AAA": quote("AAA", price, previous_close=price, as_of=NOW),
        "BBB": quote("BBB", 50, previous_close=50, as_of=NOW),
    }
    pp = plan_portfolio(target, observation(settled=10000, taken_at=NOW, quotes=quotes), CostModel(), LIMITS,
                        references={"AAA": known})
    refused = {d.message.split()[2] for d in order_size_denials(pp, SizeLimits())}
    for a in pp.actions:
        if a.side == "buy" and a.symbol == "AAA" and "AAA" not in refused:
            assert a.quantity * known <= pp.equity


def test_doubtful_quotes_reads_references_and_floors_by_symbol() -> None:
    obs = observation(settled=100, taken_at=NOW, quotes={"AAA": _bare("100"), "BBB": _bare("100").model_copy(
        update={"symbol": "BBB"})})
    doubts = doubtful_quotes(obs, ["AAA", "BBB"], LIMITS, {"AAA": D(100)}, {})
    assert [d.split(":")[0] for d in doubts] == ["BBB"]
