"""The envelope's limits at their edges: an order's band, a finished partial apply, the turnover bound; and
the cases the planner never produces but a plan file could (two orders for one symbol, a reviewed order of
zero)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from reconciler.core.envelope import Breach, check_envelope, envelope_of
from reconciler.core.models import Action, Plan, Side
from reconciler.core.rules import EnvelopeSettings
from tests.builders import plan_of

D = Decimal
BAND = EnvelopeSettings(notional_band=D("0.10"), turnover_band=D("0.10"))
WIDE_NOTIONAL = EnvelopeSettings(notional_band=D(1), turnover_band=D("0.10"))


def with_actions(plan: Plan, *orders: tuple[str, Side, Decimal]) -> Plan:
    """The plan with its one portfolio's actions replaced by these (symbol, side, notional)."""
    (pp,) = plan.portfolios
    actions = [Action(i, s, side, D(1), n, n, D(0), "test") for i, (s, side, n) in enumerate(orders, start=1)]
    return plan.model_copy(update={"portfolios": [pp.model_copy(update={"actions": actions})]})


@pytest.mark.parametrize(
    ("orders", "side", "notional"),
    [
        ((("X", "buy", D(100)), ("X", "sell", D(30))), "buy", D(70)),
        ((("X", "buy", D(30)), ("X", "sell", D(100))), "sell", D(70)),
        ((("X", "sell", D(30)), ("X", "sell", D(40))), "sell", D(70)),
        ((("X", "buy", D(50)), ("X", "sell", D(50))), "buy", D(0)),
    ],
)
def test_two_orders_for_one_symbol_are_one_bound_by_signed_notional(
    orders: tuple[tuple[str, Side, Decimal], ...], side: str, notional: Decimal
) -> None:
    plan = with_actions(plan_of({"alpha": {"X": ("buy", D(1))}}), *orders)
    (bound,) = envelope_of(plan, BAND)
    assert (bound.side, bound.reviewed) == (side, notional)


@pytest.mark.parametrize(
    ("now", "ok"), [("9000", True), ("8999.99", False), ("11000", True), ("11000.01", False)]
)
def test_an_orders_band_at_its_edges(now: str, ok: bool) -> None:
    reviewed = plan_of({"alpha": {"VTI": ("buy", D(10000))}})
    current = plan_of({"alpha": {"VTI": ("buy", D(now))}})
    settings = EnvelopeSettings(notional_band=D("0.10"), turnover_band=D(1))
    assert check_envelope(reviewed, current, settings).ok == ok


@pytest.mark.parametrize(("now", "ok"), [("10999.99", True), ("11000", True), ("11000.01", False)])
def test_turnover_at_its_edge(now: str, ok: bool) -> None:
    # Reviewed turnover 10% of $100,000; +10% of it is 11%: $11,000 of orders.
    reviewed = plan_of({"alpha": {"VTI": ("buy", D(10000))}})
    check = check_envelope(reviewed, plan_of({"alpha": {"VTI": ("buy", D(now))}}), WIDE_NOTIONAL)
    assert check.ok == ok


def test_turnover_beyond_its_bound_says_by_how_much() -> None:
    reviewed = plan_of({"alpha": {"VTI": ("buy", D(10000))}})
    check = check_envelope(reviewed, plan_of({"alpha": {"VTI": ("buy", D(12000))}}), WIDE_NOTIONAL)
    assert [b.render() for b in check.breaches] == [
        "alpha: turnover 12.00% is above the reviewed 10.00% + 10% (at most 11.00%)",
    ]


def test_a_portfolio_the_review_did_not_trade_has_no_turnover_to_spend() -> None:
    reviewed = plan_of({"alpha": {"VTI": ("buy", D(10000))}, "beta": {}})
    current = plan_of({"alpha": {"VTI": ("buy", D(10000))}, "beta": {"BND": ("buy", D(100))}})
    check = check_envelope(reviewed, current, WIDE_NOTIONAL)
    assert [b.render() for b in check.breaches] == [
        "beta BND: buy $100.00 was not in the reviewed plan",
        "beta: turnover 0.10% is above the reviewed 0.00% + 10% (at most 0.00%)",
    ]


@pytest.mark.parametrize(("now", "ok"), [("12600", True), ("12600.01", False), ("1", True)])
def test_finishing_a_partial_apply_up_to_exactly_the_band(now: str, ok: bool) -> None:
    # Reviewed buy $36,000 (at most $39,600); $27,000 done: up to $12,600 more.
    reviewed = plan_of({"alpha": {"VTI": ("buy", D(36000))}})
    current = plan_of({"alpha": {"VTI": ("buy", D(now))}})
    settings = EnvelopeSettings(notional_band=D("0.10"), turnover_band=D(100))
    assert check_envelope(reviewed, current, settings, {("alpha", "VTI"): D(27000)}).ok == ok


def test_what_was_sold_before_counts_toward_a_sell() -> None:
    # Reviewed sell $10,000 (at most $11,000); $6,000 sold: $5,000 more is inside, $5,000.01 is not.
    reviewed = plan_of({"alpha": {"X": ("sell", D(10000))}})
    settings = EnvelopeSettings(notional_band=D("0.10"), turnover_band=D(100))
    done = {("alpha", "X"): D(-6000)}
    assert check_envelope(reviewed, plan_of({"alpha": {"X": ("sell", D(5000))}}), settings, done).ok
    assert not check_envelope(reviewed, plan_of({"alpha": {"X": ("sell", D("5000.01"))}}), settings, done).ok


def test_max_deviation_counts_what_was_done() -> None:
    reviewed = plan_of({"alpha": {"VTI": ("buy", D(10000)), "BND": ("sell", D(4000))}})
    current = plan_of({"alpha": {"VTI": ("buy", D(500)), "BND": ("sell", D(3000))}})
    check = check_envelope(reviewed, current, BAND, {("alpha", "VTI"): D(9000)})
    # VTI: 9,500 of 10,000 is 5% off; BND: 3,000 of 4,000 is 25% off (and a breach).
    assert check.max_deviation == D("0.25")


def test_a_reviewed_order_of_zero_allows_nothing() -> None:
    reviewed = with_actions(plan_of({"alpha": {"X": ("buy", D(1))}}), ("X", "buy", D(0)))
    check = check_envelope(reviewed, plan_of({"alpha": {"X": ("buy", D(10))}}), WIDE_NOTIONAL)
    assert check.breaches[0].render() == (
        "alpha X: buy $10.00 is +100.0% from the reviewed $0.00, outside ±100% ($0.00–$0.00)"
    )
    assert check.max_deviation == 0


def test_a_breach_names_its_portfolio_and_symbol() -> None:
    assert Breach("alpha", "VTI", "why").render() == "alpha VTI: why"
    assert Breach("alpha", None, "why").render() == "alpha: why"


def test_every_order_outside_is_named_not_only_the_first() -> None:
    # AAA is new and BND's side flipped (both sort before VTI); VTI is 100% above its reviewed notional.
    reviewed = plan_of({"alpha": {"BND": ("buy", D(1000)), "VTI": ("buy", D(10000))}})
    current = plan_of({"alpha": {"AAA": ("buy", D(100)), "BND": ("sell", D(1000)), "VTI": ("buy", D(20000))}})
    check = check_envelope(reviewed, current, EnvelopeSettings(notional_band=D("0.10"), turnover_band=D(100)))
    assert [b.symbol for b in check.breaches] == ["AAA", "BND", "VTI"]


def test_an_order_under_one_dollar_is_judged_by_its_change() -> None:
    reviewed = plan_of({"alpha": {"X": ("buy", D("0.50"))}})
    check = check_envelope(reviewed, plan_of({"alpha": {"X": ("buy", D("0.60"))}}), BAND)
    assert check.breaches[0].render() == (
        "alpha X: buy $0.60 is +20.0% from the reviewed $0.50, outside ±10% ($0.45–$0.55)"
    )
    assert check.max_deviation == D("0.2")


def test_one_dollar_done_before_counts() -> None:
    # Reviewed buy $100 (at most $110); $1 was bought before: $110 more would be $111 in all.
    reviewed = plan_of({"alpha": {"X": ("buy", D(100))}})
    settings = EnvelopeSettings(notional_band=D("0.10"), turnover_band=D(100))
    assert not check_envelope(
        reviewed, plan_of({"alpha": {"X": ("buy", D(110))}}), settings, {("alpha", "X"): D(1)}
    ).ok


def test_a_plan_without_per_portfolio_hashes_is_compared_by_all_targets_at_once() -> None:
    """Either side written before per-portfolio hashes: the targets hash decides for all portfolios."""
    with_hashes = plan_of({"alpha": {"X": ("buy", D(100))}}, hashes={"alpha": "a1"})
    without = plan_of({"alpha": {"X": ("buy", D(100))}})
    assert check_envelope(with_hashes, without, BAND).ok
    assert check_envelope(without, with_hashes, BAND).ok
    other = plan_of({"alpha": {"X": ("buy", D(100))}}, targets_hash="u" * 64)
    assert [b.portfolio for b in check_envelope(with_hashes, other, BAND).breaches] == ["targets"]


def test_a_portfolio_new_since_the_review_with_orders_is_named() -> None:
    reviewed = plan_of({"alpha": {"X": ("buy", D(100))}}, hashes={"alpha": "a1"})
    current = plan_of({"alpha": {"X": ("buy", D(100))}, "beta": {"Y": ("buy", D(100))}},
                      hashes={"alpha": "a1", "beta": "b1"})
    breaches = check_envelope(reviewed, current, BAND).breaches
    assert [b.portfolio for b in breaches if b.symbol is None and "targets" in b.message] == ["beta"]


def test_turnover_is_judged_for_every_portfolio_with_orders() -> None:
    # alpha has no orders now (sorted first); beta's turnover doubled.
    reviewed = plan_of({"alpha": {"X": ("buy", D(100))}, "beta": {"Y": ("buy", D(1000))}})
    current = plan_of({"alpha": {}, "beta": {"Y": ("buy", D(2000))}})
    breaches = check_envelope(reviewed, current, WIDE_NOTIONAL).breaches
    assert [b.render() for b in breaches] == [
        "beta: turnover 2.00% is above the reviewed 1.00% + 10% (at most 1.10%)",
    ]
