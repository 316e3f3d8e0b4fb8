"""A doubtful quote for any symbol an account holds or targets stops the whole portfolio (pure planner)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.models import CostModel, Desired, Observation, Quote
from reconciler.core.planner import plan_portfolio
from reconciler.core.valuation import (
    QuoteLimits,
    doubtful_quote,
    doubtful_quotes,
    sound_prices,
    valuation_denials,
    valued_symbols,
)
from tests.builders import desired, observation, quote

NOW = datetime(2031, 5, 6, 15, 0, tzinfo=UTC)
LIMITS = QuoteLimits(max_age_seconds=60, max_move=Decimal("0.2"))


def _desired() -> Desired:
    return desired({"AAA": "0.5", "BBB": "0.5"}, name="p", source="p.yaml")


def _obs(**quotes: Quote | None) -> Observation:
    """Sound quotes for AAA, BBB and CCC, but for those given: replaced, or left out where None."""
    base = {
        "AAA": quote("AAA", 100, previous_close=100, as_of=NOW),
        "BBB": quote("BBB", 50, previous_close=50, as_of=NOW),
        "CCC": quote("CCC", 20, previous_close=20, as_of=NOW),
    }
    for symbol, q in quotes.items():
        if q is None:
            base.pop(symbol)
        else:
            base[symbol] = q
    # Heavily overweight AAA: a sound plan sells AAA and CCC (not a target) and buys BBB.
    return observation(positions={"AAA": 90, "BBB": 10, "CCC": 100}, settled=100, taken_at=NOW, quotes=base)


def _q(symbol: str, price: str, prev: str | None = None, age: float = 0) -> Quote:
    """Built without validation: the Quote model refuses NaN itself, the valuation check must not rely on
    it."""
    return Quote.model_construct(
        symbol=symbol, price=Decimal(price), previous_close=None if prev is None else Decimal(prev),
        as_of=NOW - timedelta(seconds=age),
    )


def test_a_sound_observation_trades() -> None:
    pp = plan_portfolio(_desired(), _obs(), CostModel(), LIMITS)
    assert pp.blocked == []
    assert {a.symbol for a in pp.actions} == {"AAA", "BBB", "CCC"}


@pytest.mark.parametrize(
    ("quote", "says"),
    [
        (None, "CCC: no quote"),
        (_q("CCC", "0"), "CCC: quote is 0: a price must be positive"),
        (_q("CCC", "-3"), "CCC: quote is -3: a price must be positive"),
        (_q("CCC", "NaN"), "CCC: quote is NaN, not a number"),
        (_q("CCC", "Infinity"), "CCC: quote is Infinity, not a number"),
        (_q("CCC", "20", age=61), "CCC: quote is 61s old (limit 60s)"),
        (_q("CCC", "20", age=-3600), "CCC: quote is dated 3600s after the observation"),
        (_q("CCC", "0.0001", "20"), "CCC: quote 0.0001 moved -100.0% from the previous close 20"),
        (_q("CCC", "30", "20"), "CCC: quote 30 moved +50.0% from the previous close 20"),
        (_q("CCC", "20", "0"), "CCC: previous close is 0: cannot judge the move"),
    ],
)
def test_a_doubtful_quote_on_a_held_symbol_it_would_not_otherwise_value_blocks_everything(
    quote: Quote | None, says: str
) -> None:
    """CCC is held, not a target: before, a zero CCC dropped it from the equity and sold AAA as overweight."""
    pp = plan_portfolio(_desired(), _obs(CCC=quote), CostModel(), LIMITS)
    assert pp.actions == []
    assert any(b.startswith(says) for b in pp.blocked), pp.blocked
    assert any("not traded: a quote that values this account is doubtful" in n for n in pp.notes)


def test_limits_off_still_refuse_impossible_prices_but_not_old_ones() -> None:
    old = plan_portfolio(_desired(), _obs(CCC=_q("CCC", "20", "20", age=10_000)), CostModel())
    assert old.blocked == []
    zero = plan_portfolio(_desired(), _obs(CCC=_q("CCC", "0")), CostModel())
    assert zero.blocked == ["CCC: quote is 0: a price must be positive"]


def test_a_move_exactly_at_the_limit_is_not_doubtful() -> None:
    assert doubtful_quotes(_obs(AAA=_q("AAA", "80", "100")), ["AAA"], LIMITS) == []
    assert doubtful_quotes(_obs(AAA=_q("AAA", "79.99", "100")), ["AAA"], LIMITS) != []


def test_valued_symbols_are_targets_and_non_zero_holdings() -> None:
    assert valued_symbols(["A", "B"], {"B": Decimal(1), "C": Decimal(2), "D": Decimal(0)}) == {"A", "B", "C"}


@given(
    price=st.decimals(allow_nan=True, allow_infinity=True, places=6),
    prev=st.none() | st.decimals(min_value=Decimal("-10"), max_value=Decimal("1000"), places=4),
    age=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
)
def test_any_quote_either_values_the_account_or_blocks_it(
    price: Decimal, prev: Decimal | None, age: float
) -> None:
    """Whatever CCC's quote, the plan is either blocked with no orders, or CCC's quote was sound by every
    rule."""
    quote = Quote.model_construct(
        symbol="CCC", price=price, previous_close=prev, as_of=NOW - timedelta(seconds=age)
    )
    pp = plan_portfolio(_desired(), _obs(CCC=quote), CostModel(), LIMITS)
    sound = (
        price.is_finite() and price > 0 and abs(age) <= 60
        and (prev is None or (prev > 0 and abs(price / prev - 1) <= Decimal("0.2")))
    )
    assert (pp.blocked == []) == sound
    if not sound:
        assert pp.actions == []


# sound_prices is the planner's fast form of the same rule: it must find a doubt exactly when doubtful_quotes
# does.
_PRICES = st.sampled_from(["12.34", "0.0001", "5000", "0", "-1", "NaN", "Infinity", "-Infinity"]).map(Decimal)
_PREVIOUS = st.one_of(st.none(), _PRICES)
_AGES = st.sampled_from([0, 30, 59, 60, 61, 3_600, -61, -30])


_SOUND = st.sampled_from(["12.34", "0.0001", "5000"]).map(Decimal)


@st.composite
def _quotes(draw: st.DrawFn, sound: bool = False) -> tuple[Observation, list[str], QuoteLimits]:
    """Random quotes, doubtful ones among them (or none: `sound`), for 1-6 symbols, with random limits."""
    symbols = [f"S{i}" for i in range(draw(st.integers(1, 6)))]
    quotes = {}
    for s in symbols:
        if not sound and draw(st.integers(0, 9)) == 0:
            continue  # no quote
        price = draw(_SOUND if sound else _PRICES)
        quotes[s] = Quote.model_construct(
            symbol=s,
            price=price,
            previous_close=price if sound else draw(_PREVIOUS),
            as_of=NOW - timedelta(seconds=draw(_AGES)) if not sound else NOW,
            daily_volume=None,
            bid=None,
            ask=None,
        )
    limits = draw(st.sampled_from([QuoteLimits(), LIMITS, QuoteLimits(max_age_seconds=60),
                                   QuoteLimits(max_move=Decimal("0.2"))]))
    obs = Observation.model_construct(account="a", taken_at=NOW, positions={}, cash_settled=Decimal(0),
                                      quotes=quotes, open_orders={})
    return obs, symbols, limits


@given(_quotes())
def test_sound_prices_finds_a_doubt_exactly_when_doubtful_quotes_does(case: tuple[Observation, list[str],
                                                                                  QuoteLimits]) -> None:
    obs, symbols, limits = case
    assert (sound_prices(obs, symbols, limits) is None) == bool(doubtful_quotes(obs, symbols, limits))


@given(_quotes(sound=True))
def test_sound_prices_are_the_quotes_prices(case: tuple[Observation, list[str], QuoteLimits]) -> None:
    obs, symbols, limits = case
    assert sound_prices(obs, symbols, limits) == [obs.quotes[s].price for s in symbols]


# --- every threshold at its edge: exactly at the limit passes, one tick beyond is doubtful ------------------
# Ages are measured in seconds between two datetimes; a tick is one millisecond (well above a float
# timestamp's resolution, well below any limit anybody sets).
TICK = 0.001


def _why(q: Quote, limits: QuoteLimits = LIMITS) -> str | None:
    return doubtful_quote(q, NOW.timestamp(), limits)


@pytest.mark.parametrize(("age", "doubtful"), [(60 - TICK, False), (60, False), (60 + TICK, True)])
def test_quote_age_at_its_limit(age: float, doubtful: bool) -> None:
    assert (_why(_q("AAA", "100", age=age)) is not None) == doubtful


@pytest.mark.parametrize(("ahead", "doubtful"), [(60 - TICK, False), (60, False), (60 + TICK, True)])
def test_clock_skew_at_its_limit(ahead: float, doubtful: bool) -> None:
    """A quote dated after the observation is as doubtful as an old one, beyond the same limit."""
    assert (_why(_q("AAA", "100", age=-ahead)) is not None) == doubtful


def test_clock_skew_is_named_as_such() -> None:
    assert _why(_q("AAA", "100", age=-61)) == ("quote is dated 61s after the observation (clock skew beyond"
                                               " 60s)")


def test_an_old_quote_is_named_with_its_age() -> None:
    assert _why(_q("AAA", "100", age=61)) == "quote is 61s old (limit 60s)"


@pytest.mark.parametrize(
    ("price", "doubtful"),
    [("79.99", True), ("80", False), ("80.01", False), ("119.99", False), ("120", False), ("120.01", True)],
)
def test_move_at_its_limit_either_way(price: str, doubtful: bool) -> None:
    """max_move 20% of the previous close 100: 80 and 120 are the edges, a cent beyond either is doubtful."""
    assert (_why(_q("AAA", price, "100")) is not None) == doubtful


@pytest.mark.parametrize(
    ("price", "doubtful"), [("-0.0001", True), ("0", True), ("0.0001", False), ("0.5", False)]
)
def test_price_at_zero(price: str, doubtful: bool) -> None:
    assert (_why(_q("AAA", price), QuoteLimits()) is not None) == doubtful


@pytest.mark.parametrize(
    ("prev", "doubtful"), [("-0.0001", True), ("0", True), ("0.5", False), ("NaN", True)]
)
def test_previous_close_at_zero(prev: str, doubtful: bool) -> None:
    """A move is judged against a positive previous close only (0.5 to 0.5 is no move at all)."""
    assert (_why(_q("AAA", "0.5", prev), QuoteLimits(max_move=Decimal("0.2"))) is not None) == doubtful


def test_a_quote_is_not_aged_without_the_observations_time() -> None:
    assert doubtful_quote(_q("AAA", "100", age=10_000), None, LIMITS) is None


def test_without_a_move_limit_the_previous_close_is_not_judged() -> None:
    assert _why(_q("AAA", "100", "0"), QuoteLimits(max_age_seconds=60)) is None


def test_without_an_age_limit_the_age_is_not_judged() -> None:
    assert _why(_q("AAA", "100", age=-10_000), QuoteLimits(max_move=Decimal("0.2"))) is None


def test_doubtful_quotes_are_one_line_per_symbol_in_symbol_order() -> None:
    obs = _obs(CCC=_q("CCC", "0"), AAA=None, BBB=_q("BBB", "50", "50"))
    assert doubtful_quotes(obs, ["CCC", "BBB", "AAA", "CCC"], LIMITS) == [
        "AAA: no quote", "CCC: quote is 0: a price must be positive",
    ]


def test_valuation_denials_are_hard_mandatory_and_name_the_portfolio() -> None:
    denials = valuation_denials("p", ["AAA: no quote", "CCC: quote is 0: a price must be positive"])
    kinds = [(d.policy, d.kind, d.level, d.portfolio) for d in denials]
    assert kinds == [("valuation", "deny", "hard-mandatory", "p")] * 2
    assert [d.message for d in denials] == ["AAA: no quote", "CCC: quote is 0: a price must be positive"]


def test_no_symbols_have_no_prices_and_no_doubt() -> None:
    assert sound_prices(_obs(), [], LIMITS) == []


@pytest.mark.parametrize(("age", "sound"), [(-60 - TICK, False), (-60, True), (60, True), (60 + TICK, False)])
def test_sound_prices_judges_the_age_at_its_limit_like_doubtful_quote(age: float, sound: bool) -> None:
    obs = _obs(AAA=_q("AAA", "100", age=age))
    assert (sound_prices(obs, ["AAA", "BBB"], LIMITS) is not None) == sound
