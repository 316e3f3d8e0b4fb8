"""The envelope of a reviewed plan: plain values, and properties over random plans (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.envelope import check_envelope, envelope_of
from reconciler.core.models import Side
from reconciler.core.rules import EnvelopeSettings
from tests.builders import plan_of

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
ZERO = Decimal(0)
BAND = EnvelopeSettings(notional_band=Decimal("0.10"), turnover_band=Decimal("0.10"))
Orders = dict[str, dict[str, tuple[Side, Decimal]]]


notionals = st.integers(100, 5_000_000).map(lambda c: Decimal(c).scaleb(-2))
symbols = st.sampled_from(["VTI", "VXUS", "BND", "BNDX", "VNQ", "GLD", "AAPL", "BRK.B"])
orders_st = st.dictionaries(
    st.sampled_from(["alpha", "beta", "gamma"]),
    st.dictionaries(symbols, st.tuples(st.sampled_from(["buy", "sell"]), notionals), min_size=1, max_size=6),
    min_size=1, max_size=3,
)
bands = st.integers(0, 50).map(lambda b: Decimal(b) / 100)
PROPS = settings(max_examples=300, deadline=None)


def scaled(orders: Orders, factors: st.DataObject, lo: Decimal, hi: Decimal) -> Orders:
    """Every notional times a factor drawn from [lo, hi] (whole basis points)."""
    out: Orders = {}
    for p, syms in orders.items():
        out[p] = {}
        for s, (side, n) in syms.items():
            f = Decimal(factors.draw(st.integers(int(lo * 10000), int(hi * 10000)))) / 10000
            out[p][s] = (side, n * f)
    return out


# ---- examples a reviewer would recognise ----

def test_same_orders_are_inside() -> None:
    plan = plan_of({"alpha": {"VTI": ("buy", Decimal(10000)), "BND": ("sell", Decimal(5000))}})
    check = check_envelope(plan, plan, BAND)
    assert check.ok
    assert not check.dropped
    assert check.max_deviation == 0


def test_bounds_are_the_band_around_each_reviewed_notional() -> None:
    (bound,) = envelope_of(plan_of({"alpha": {"VTI": ("buy", Decimal(10000))}}), BAND)
    assert (bound.side, bound.low, bound.high) == ("buy", Decimal(9000), Decimal(11000))


def test_an_order_past_the_band_is_outside_and_named() -> None:
    reviewed = plan_of({"alpha": {"VTI": ("buy", Decimal(10000))}})
    now = plan_of({"alpha": {"VTI": ("buy", Decimal("11000.01"))}})
    check = check_envelope(reviewed, now, BAND)
    assert not check.ok
    assert [b.symbol for b in check.breaches if b.symbol] == ["VTI"]
    assert "+10.0% from the reviewed $10,000.00, outside ±10%" in check.breaches[0].message


def test_the_band_edge_is_inside() -> None:
    reviewed = plan_of({"alpha": {"VTI": ("buy", Decimal(10000))}})
    settings_ = EnvelopeSettings(notional_band=Decimal("0.10"), turnover_band=Decimal(1))
    assert check_envelope(reviewed, plan_of({"alpha": {"VTI": ("buy", Decimal(11000))}}), settings_).ok
    assert check_envelope(reviewed, plan_of({"alpha": {"VTI": ("buy", Decimal(9000))}}), settings_).ok


def test_a_new_order_or_a_flipped_side_is_outside() -> None:
    reviewed = plan_of({"alpha": {"VTI": ("buy", Decimal(10000))}})
    new_symbol = plan_of({"alpha": {"VTI": ("buy", Decimal(10000)), "GLD": ("buy", Decimal(100))}})
    check = check_envelope(reviewed, new_symbol, BAND)
    assert any(b.symbol == "GLD" and "not in the reviewed plan" in b.message for b in check.breaches)
    flipped = plan_of({"alpha": {"VTI": ("sell", Decimal(10000))}})
    check = check_envelope(reviewed, flipped, BAND)
    assert any(b.symbol == "VTI" and "the reviewed plan had a buy" in b.message for b in check.breaches)


def test_an_order_no_longer_needed_is_allowed_and_reported() -> None:
    reviewed = plan_of({"alpha": {"VTI": ("buy", Decimal(10000)), "BND": ("sell", Decimal(5000))}})
    now = plan_of({"alpha": {"VTI": ("buy", Decimal(10000))}})
    check = check_envelope(reviewed, now, BAND)
    assert check.ok
    assert [d.symbol for d in check.dropped] == ["BND"]


def test_other_targets_or_accounts_are_outside() -> None:
    reviewed = plan_of({"alpha": {"VTI": ("buy", Decimal(10000))}})
    other = plan_of({"alpha": {"VTI": ("buy", Decimal(10000))}}, targets_hash="u" * 64)
    check = check_envelope(reviewed, other, BAND)
    assert not check.ok
    assert "targets at this commit differ" in check.breaches[0].message
    more_accounts = plan_of({"alpha": {"VTI": ("buy", Decimal(10000))}, "beta": {}})
    assert any(b.portfolio == "accounts" for b in check_envelope(reviewed, more_accounts, BAND).breaches)


def test_a_change_merged_to_another_portfolio_does_not_void_the_review() -> None:
    """Two pull requests planned from the same base, for different portfolios: the first one's merge and apply
    change beta's targets, and alpha's reviewed plan still applies (beta needs no orders now)."""
    reviewed = plan_of({"alpha": {"VTI": ("buy", Decimal(10000))}, "beta": {}},
                       hashes={"alpha": "a2", "beta": "b1"}, changed=("alpha",), targets_hash="1" * 64)
    now = plan_of({"alpha": {"VTI": ("buy", Decimal(10000))}, "beta": {}},
                  hashes={"alpha": "a2", "beta": "b2"}, targets_hash="2" * 64)
    assert check_envelope(reviewed, now, BAND).ok
    # beta has orders now that nobody reviewed against its new targets: outside.
    trading = plan_of({"alpha": {"VTI": ("buy", Decimal(10000))}, "beta": {"BND": ("buy", Decimal(500))}},
                      hashes={"alpha": "a2", "beta": "b2"})
    breaches = check_envelope(reviewed, trading, BAND).breaches
    assert [b.portfolio for b in breaches if "another pull request changed them" in b.message] == ["beta"]
    # The reviewed change itself was changed again by someone else: outside, even with the same orders.
    again = plan_of(
        {"alpha": {"VTI": ("buy", Decimal(10000))}, "beta": {}}, hashes={"alpha": "a3", "beta": "b1"}
    )
    (breach,) = check_envelope(reviewed, again, BAND).breaches
    assert breach.portfolio == "alpha"
    assert "differ from the reviewed change" in breach.message


def test_turnover_bound_catches_a_shrinking_equity() -> None:
    reviewed = plan_of({"alpha": {"VTI": ("buy", Decimal(10000))}})
    # turnover 10% → 12.5%
    poorer = plan_of({"alpha": {"VTI": ("buy", Decimal(10000))}}, equity=Decimal(80000))
    check = check_envelope(reviewed, poorer, BAND)
    assert [b.symbol for b in check.breaches] == [None]
    assert "turnover 12.50%" in check.breaches[0].message


# ---- properties ----

@PROPS
@given(orders_st, bands)
def test_a_plan_is_inside_its_own_envelope(orders: Orders, band: Decimal) -> None:
    plan = plan_of(orders)
    assert check_envelope(plan, plan, EnvelopeSettings(notional_band=band, turnover_band=band)).ok


@PROPS
@given(orders_st, bands, st.data())
def test_orders_moved_within_the_band_stay_inside(orders: Orders, band: Decimal, data: st.DataObject) -> None:
    envelope = EnvelopeSettings(notional_band=band, turnover_band=band)
    moved = scaled(orders, data, 1 - band, 1 + band)
    assert check_envelope(plan_of(orders), plan_of(moved), envelope).ok


@PROPS
@given(orders_st, bands, st.data())
def test_an_order_moved_past_the_band_is_named(orders: Orders, band: Decimal, data: st.DataObject) -> None:
    envelope = EnvelopeSettings(notional_band=band, turnover_band=Decimal(100))
    portfolio = data.draw(st.sampled_from(sorted(orders)))
    symbol = data.draw(st.sampled_from(sorted(orders[portfolio])))
    side, n = orders[portfolio][symbol]
    factor = data.draw(st.sampled_from([1 + band + Decimal("0.0001"), 1 - band - Decimal("0.0001")]))
    moved = {p: dict(s) for p, s in orders.items()}
    moved[portfolio][symbol] = (side, n * factor)
    check = check_envelope(plan_of(orders), plan_of(moved), envelope)
    assert [(b.portfolio, b.symbol) for b in check.breaches] == [(portfolio, symbol)]


@PROPS
@given(orders_st, bands, st.data())
def test_dropping_orders_never_leaves_the_envelope(
    orders: Orders, band: Decimal, data: st.DataObject
) -> None:
    envelope = EnvelopeSettings(notional_band=band, turnover_band=band)
    kept = {p: {s: o for s, o in syms.items() if data.draw(st.booleans())} for p, syms in orders.items()}
    check = check_envelope(plan_of(orders), plan_of(kept), envelope)
    assert check.ok
    assert len(check.dropped) == sum(len(s) for s in orders.values()) - sum(len(s) for s in kept.values())


@PROPS
@given(orders_st, bands, bands, st.data())
def test_a_wider_band_never_refuses_what_a_narrower_one_accepts(
    orders: Orders, b1: Decimal, b2: Decimal, data: st.DataObject
) -> None:
    narrow, wide = sorted([b1, b2])
    moved = scaled(orders, data, Decimal("0.5"), Decimal("1.5"))
    reviewed, now = plan_of(orders), plan_of(moved)
    if check_envelope(reviewed, now, EnvelopeSettings(notional_band=narrow, turnover_band=narrow)).ok:
        assert check_envelope(reviewed, now, EnvelopeSettings(notional_band=wide, turnover_band=wide)).ok


def test_finishing_a_partial_apply_counts_what_was_already_traded() -> None:
    """Reviewed: buy $36,000 VTI. An apply filled $27,000 and cancelled the rest; on the re-run the planner
    wants the remaining $9,000: with what was done, that is the reviewed order, inside the envelope."""
    reviewed = plan_of({"alpha": {"VTI": ("buy", Decimal(36000)), "BND": ("sell", Decimal(5000))}})
    rest = plan_of({"alpha": {"VTI": ("buy", Decimal(9000))}})
    assert not check_envelope(reviewed, rest, BAND).ok  # alone, it looks like a -75% change
    done = {("alpha", "VTI"): Decimal(27000), ("alpha", "BND"): Decimal(-5000)}
    check = check_envelope(reviewed, rest, BAND, done)
    assert check.ok, [b.render() for b in check.breaches]
    # Trading the reviewed amount again on top of what was done leaves the envelope.
    again = plan_of({"alpha": {"VTI": ("buy", Decimal(36000))}})
    breaches = check_envelope(reviewed, again, BAND, done).breaches
    assert [b.symbol for b in breaches] == ["VTI"]
    assert "already traded at this commit is $63,000.00" in breaches[0].message


def test_a_partly_traded_symbol_that_needs_nothing_more_is_not_a_breach() -> None:
    """Reviewed: sell $10,000 X, buy $10,000 Y. An earlier run sold $5,000 of X and the Y buy failed; now X is
    back inside its band: finishing means buying Y only, which is allowed (not trading never breaches)."""
    reviewed = plan_of({"alpha": {"X": ("sell", Decimal(10000)), "Y": ("buy", Decimal(10000))}})
    rest = plan_of({"alpha": {"Y": ("buy", Decimal(10000))}})
    check = check_envelope(reviewed, rest, BAND, {("alpha", "X"): Decimal(-5000)})
    assert check.ok, [b.render() for b in check.breaches]


def test_what_was_traded_before_never_turns_a_side_around() -> None:
    """Reviewed: buy $10,000 X; $10,500 was bought before. A sell of $400 now nets inside the band, but the
    reviewed plan never sold X: refused."""
    reviewed = plan_of({"alpha": {"X": ("buy", Decimal(10000))}})
    now = plan_of({"alpha": {"X": ("sell", Decimal(400))}})
    breaches = check_envelope(reviewed, now, BAND, {("alpha", "X"): Decimal(10500)}).breaches
    assert [b.symbol for b in breaches] == ["X"]
    assert "reviewed plan had a buy" in breaches[0].message
