"""Property tests of the pure planner on random portfolios (hypothesis).

Every money and weight value is an exact Decimal: prices have two decimals, weights are whole basis points
that sum to exactly 1 with the cash target, positions are whole or have three decimals.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reconciler.core.models import Action, CostModel, Desired, Observation, PortfolioPlan
from reconciler.core.planner import band_for, plan_portfolio
from reconciler.core.rules import Bands, Commission, SymbolRule, Trading
from tests.builders import desired, observation

ZERO = Decimal(0)
ONE = Decimal(1)
BPS = Decimal(10000)
NOW = datetime(2024, 1, 2, 15, 30, tzinfo=UTC)
STEPS = [None, Decimal("0.001"), Decimal("0.0001"), Decimal("0.01"), Decimal("0.1"), Decimal("1")]

PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Case:
    desired: Desired
    obs: Observation
    costs: CostModel

    def plan(self) -> PortfolioPlan:
        return plan_portfolio(self.desired, self.obs, self.costs)


def cents(draw: st.DrawFn, hi: int) -> Decimal:
    return Decimal(draw(st.integers(0, hi))).scaleb(-2)


@st.composite
def cases(draw: st.DrawFn, *, zero_costs: bool = False, all_settled: bool = False) -> Case:
    """A random account: 1–30 quoted symbols, a random subset targeted, random holdings, cash, rules and
    costs.

    zero_costs: no slippage and no commission. all_settled: no unsettled or reserved cash and sale proceeds
    fund buys (the only cash that exists is spendable).
    """
    n = draw(st.integers(1, 30))
    symbols = [f"S{i:02d}" for i in range(n)]
    prices = {s: Decimal(draw(st.integers(1, 100_000))).scaleb(-2) for s in symbols}

    in_targets = [s for s in symbols if draw(st.booleans())] or [symbols[0]]
    # k targets + cash: k cut points in [0, 10000] give k+1 parts in basis points that sum to exactly 10000.
    cuts = sorted(draw(st.lists(st.integers(0, 10_000), min_size=len(in_targets), max_size=len(in_targets))))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, 10_000], strict=True)]
    targets = {s: Decimal(p).scaleb(-4) for s, p in zip(in_targets, parts[1:], strict=True)}
    cash_target = Decimal(parts[0]).scaleb(-4)
    assert sum(targets.values(), ZERO) + cash_target == 1

    positions: dict[str, Decimal] = {}
    for s in symbols:
        kind = draw(st.integers(0, 2))
        if kind == 1:
            positions[s] = Decimal(draw(st.integers(1, 5_000)))
        elif kind == 2:
            positions[s] = Decimal(draw(st.integers(1, 5_000_000))).scaleb(-3)

    rules: dict[str, SymbolRule] = {}
    for s in symbols:
        r = draw(st.integers(0, 9))
        if r == 8:
            rules[s] = SymbolRule(hold=True)
        elif r == 9:
            rules[s] = SymbolRule(do_not_trade=True)

    absolute = draw(st.one_of(st.none(), st.integers(0, 2_000).map(lambda b: Decimal(b).scaleb(-4))))
    relative = draw(st.one_of(st.none(), st.integers(0, 100).map(lambda p: Decimal(p).scaleb(-2))))
    fractional = draw(st.booleans())
    step = draw(st.sampled_from(STEPS)) if fractional else draw(st.sampled_from([None, Decimal(1)]))
    min_trade = cents(draw, 200_000) if draw(st.booleans()) else ZERO
    trading = Trading(
        bands=Bands(absolute=absolute, relative=relative),
        min_trade_notional=min_trade,
        fractional=fractional,
        quantity_step=step,
        buy_only=draw(st.booleans()),
        use_sale_proceeds=True if all_settled else draw(st.booleans()),
    )

    settled = cents(draw, draw(st.sampled_from([0, 10_000, 100_000_000])))
    unsettled = ZERO if all_settled else cents(draw, draw(st.sampled_from([0, 10_000, 10_000_000])))
    reserved = ZERO if all_settled else Decimal(draw(st.integers(0, int(settled * 100)))).scaleb(-2)

    if zero_costs:
        costs = CostModel()
    else:
        costs = CostModel(
            slippage_bps=Decimal(draw(st.integers(0, 100))),
            commission=Commission(
                per_order=cents(draw, 500),
                per_share=Decimal(draw(st.integers(0, 100))).scaleb(-3),
                bps=Decimal(draw(st.integers(0, 50))),
            ),
        )

    return Case(
        desired(targets, cash_target, name="prop", trading=trading, symbols=rules),
        observation(prices, positions, settled=settled, unsettled=unsettled, reserved=reserved, taken_at=NOW),
        costs,
    )


def make_case(
    targets: dict[str, str],
    cash: str,
    positions: dict[str, str],
    prices: dict[str, str],
    *,
    settled: str = "0",
    trading: Trading | None = None,
    costs: CostModel | None = None,
) -> Case:
    """A hand-written case for @example: weights, quantities and money as strings."""
    return Case(
        desired(targets, cash, name="ex", trading=trading),
        observation(prices, positions, settled=settled, taken_at=NOW),
        costs or CostModel(),
    )


# Known counterexamples (see the docstrings of the tests that use them).
# A $0.50 unwanted holding, a $1 commission per order, no cash: the liquidation nets -$0.50.
NEGATIVE_PROCEEDS = make_case(
    {"A": "1"}, "0", {"X": "1"}, {"A": "10", "X": "0.50"},
    costs=CostModel(commission=Commission(per_order=Decimal(1)))
)
# Default 5/25 bands, cash target 0: A 46% (out of band), B and C 27% (in band). The first plan sells 6 A; the
# $600 of proceeds leave cash at 6% > its 5% band, so the second plan is a full rebalance that buys 3 B and 3
# C.
CASH_BAND_FLIP = make_case(
    {"A": "0.4", "B": "0.3", "C": "0.3"}, "0", {"A": "46", "B": "27", "C": "27"},
    {"A": "100", "B": "100", "C": "100"}
)
# $0.50 a share commission on $1 shares: liquidating 10 X nets $5, which buys 3 A (cost $4.50); B ($100) is
# not affordable. A ends at $3 of $3.50 equity = 86% against a 30% target (it was 0%).
FEES_SHRINK_EQUITY = make_case(
    {"A": "0.3", "B": "0.7"},
    "0",
    {"X": "10"},
    {"A": "1", "B": "100", "X": "1"},
    costs=CostModel(commission=Commission(per_share=Decimal("0.5"))),
)


# ---- independent bookkeeping ---------------------------------------------------------------------------


def protected(case: Case, s: str) -> bool:
    r = case.desired.symbols.get(s)
    return r is not None and (r.hold or r.do_not_trade)


def is_liquidation(case: Case, a: Action) -> bool:
    return a.side == "sell" and case.desired.targets.get(a.symbol, ZERO) == 0


def fill_notional(case: Case, a: Action) -> Decimal:
    """What the broker fills an order at: the quote moved by slippage against us."""
    slip = case.costs.slippage_bps / BPS
    return a.quantity * a.price * (ONE + slip if a.side == "buy" else ONE - slip)


def commission(case: Case, a: Action) -> Decimal:
    """As the paper broker charges it: the basis points on the fill's notional, slippage included."""
    c = case.costs.commission
    return c.per_order + c.per_share * a.quantity + c.bps * fill_notional(case, a) / BPS


def sale_proceeds(case: Case, plan: PortfolioPlan) -> Decimal:
    return sum((fill_notional(case, a) - commission(case, a) for a in plan.actions if a.side == "sell"), ZERO)


def buy_cost(case: Case, plan: PortfolioPlan) -> Decimal:
    return sum((fill_notional(case, a) + commission(case, a) for a in plan.actions if a.side == "buy"), ZERO)


def weights(case: Case) -> tuple[Decimal, dict[str, Decimal], Decimal]:
    """Equity, symbol weights and cash weight, with protected positions outside the targets set aside."""
    obs, targets = case.obs, case.desired.targets
    held = {s: q for s, q in obs.positions.items() if q != 0}
    symbols = {s for s in set(targets) | set(held) if s in targets or not protected(case, s)}
    values = {s: held.get(s, ZERO) * obs.quotes[s].price for s in symbols}
    cash = obs.cash_settled + obs.cash_unsettled
    equity = sum(values.values(), ZERO) + cash
    if equity <= 0:
        return equity, dict.fromkeys(symbols, ZERO), ZERO
    return equity, {s: v / equity for s, v in values.items()}, cash / equity


# ---- properties ----------------------------------------------------------------------------------------


@PROPS
@given(cases())
@example(case=NEGATIVE_PROCEEDS)
def test_cash_never_negative_and_unsettled_or_reserved_cash_never_spent(case: Case) -> None:
    """Fails on NEGATIVE_PROCEEDS (planner bug): a sell whose estimated fees exceed its notional is still
    planned, its proceeds are negative and nothing funds them. Random search finds it only rarely in 200
    examples (a tiny holding, almost no cash); hypothesis also found a $0.000001 overweight sell paying a
    $0.01 per-order fee."""
    plan = case.plan()
    obs = case.obs
    proceeds = sale_proceeds(case, plan)
    cost = buy_cost(case, plan)
    assert obs.cash_settled + obs.cash_unsettled + proceeds - cost >= 0
    spendable = (
        obs.cash_settled - obs.cash_reserved + (proceeds if case.desired.trading.use_sale_proceeds else ZERO)
    )
    assert cost <= max(spendable, ZERO)


@PROPS
@given(cases())
def test_quantities_are_positive_multiples_of_the_step(case: Case) -> None:
    plan = case.plan()
    step = case.desired.trading.step
    for a in plan.actions:
        assert a.quantity > 0, a
        if is_liquidation(case, a):
            assert a.quantity == case.obs.positions[a.symbol], a
        else:
            assert a.quantity % step == 0, (a, step)


@PROPS
@given(cases())
def test_sells_respect_holdings_buy_only_hold_and_do_not_trade(case: Case) -> None:
    plan = case.plan()
    rules = case.desired.symbols
    for a in plan.actions:
        rule = rules.get(a.symbol)
        assert not (rule and rule.do_not_trade), a
        if a.side == "sell":
            assert not case.desired.trading.buy_only, a
            assert not (rule and rule.hold), a
            assert a.quantity <= case.obs.positions.get(a.symbol, ZERO), a


@PROPS
@given(cases())
def test_every_trade_but_a_liquidation_meets_the_minimum(case: Case) -> None:
    plan = case.plan()
    for a in plan.actions:
        assert a.notional == a.quantity * a.price, a
        if not is_liquidation(case, a):
            assert a.notional >= case.desired.trading.min_trade_notional, a


@PROPS
@given(cases())
def test_sells_first_legs_numbered_one_action_per_symbol(case: Case) -> None:
    plan = case.plan()
    sides = [a.side for a in plan.actions]
    assert sides == sorted(sides, key=lambda side: side == "buy")
    assert [a.leg for a in plan.actions] == list(range(1, len(plan.actions) + 1))
    symbols = [a.symbol for a in plan.actions]
    assert len(symbols) == len(set(symbols))


@PROPS
@given(cases())
def test_only_out_of_band_holdings_trade_unless_cash_is_out_of_band(case: Case) -> None:
    plan = case.plan()
    bands = case.desired.trading.bands
    equity, w, cash_w = weights(case)
    cash_band = band_for(case.desired.cash, bands)
    if abs(cash_w - case.desired.cash) > cash_band:
        return  # cash outside its band moves in-band holdings too
    slip = case.costs.slippage_bps / 10000
    proceeds = sum(
        (a.notional * (1 - slip) - a.est_commission for a in plan.actions if a.side == "sell"), ZERO
    )
    if equity > 0 and cash_w + proceeds / equity - case.desired.cash > cash_band:
        return  # the plan's own sells push cash out of its band: rebalancing the rest avoids churn
    for a in plan.actions:
        tw = case.desired.targets.get(a.symbol, ZERO)
        if tw == 0:
            continue  # an unwanted holding is always sold
        assert abs(w[a.symbol] - tw) > band_for(tw, bands), (a, w[a.symbol], tw)


def apply_fills(case: Case, plan: PortfolioPlan) -> Observation:
    """Fill every order at its planned price, no slippage or commission, proceeds settled at once."""
    positions = dict(case.obs.positions)
    cash = case.obs.cash_settled
    for a in plan.actions:
        sign = 1 if a.side == "buy" else -1
        positions[a.symbol] = positions.get(a.symbol, ZERO) + sign * a.quantity
        cash -= sign * a.quantity * a.price
    positions = {s: q for s, q in positions.items() if q != 0}
    return case.obs.model_copy(update={"positions": positions, "cash_settled": cash})


@PROPS
@given(cases(zero_costs=True, all_settled=True))
@example(case=CASH_BAND_FLIP)
def test_second_plan_after_filling_the_first_is_empty(case: Case) -> None:
    """Fails on CASH_BAND_FLIP (planner churn): "full rebalance" is decided on the cash weight before the
    plan's own sells; when the sells push cash out of its band, the next plan buys the in-band underweights.

    Precondition: no costs and all cash settled (the only thing that may differ between the two plans is the
    fills). Bands and min_trade_notional may be zero: flooring to the step already stops the residue trading.
    """
    first = case.plan()
    second = plan_portfolio(case.desired, apply_fills(case, first), case.costs)
    assert second.actions == [], (first.actions, second.actions)


@PROPS
@given(cases(zero_costs=True, all_settled=True))
def test_second_plan_is_empty_when_the_first_leaves_cash_in_band(case: Case) -> None:
    """Convergence, excluding the one known churn: the first plan's sells push cash out of its band.

    (The first plan decides "full rebalance or not" from the cash weight *before* its own sells; see
    test_second_plan_after_filling_the_first_is_empty.)
    """
    first = case.plan()
    after = apply_fills(case, first)
    bands, cash_target = case.desired.trading.bands, case.desired.cash
    cash_band = band_for(cash_target, bands)
    _, _, cash_before = weights(case)
    _, _, cash_after = weights(Case(case.desired, after, case.costs))
    flipped = abs(cash_before - cash_target) <= cash_band < abs(cash_after - cash_target)
    second = plan_portfolio(case.desired, after, case.costs)
    if not flipped:
        assert second.actions == [], (first.actions, second.actions)


@PROPS
@given(cases())
def test_deterministic_and_inputs_not_mutated(case: Case) -> None:
    snapshot = copy.deepcopy((case.desired.model_dump(), case.obs.model_dump(), case.costs.model_dump()))
    first = case.plan()
    second = case.plan()
    assert first == second
    assert first.model_dump() == second.model_dump()
    assert (case.desired.model_dump(), case.obs.model_dump(), case.costs.model_dump()) == snapshot


@PROPS
@given(cases())
@example(case=FEES_SHRINK_EQUITY)
def test_traded_values_move_toward_target(case: Case) -> None:
    """Every trade moves its holding's value toward the target value at today's equity. (Weights after the
    trades are not compared: costs shrink the equity after, so a holding sold by one whole share can end a
    hair further from its target weight — FEES_SHRINK_EQUITY, or any large plan with costs.)"""
    plan = case.plan()
    traded = {a.symbol for a in plan.actions}
    for h in plan.holdings:
        if h.symbol in traded:
            goal = h.weight_target * plan.equity
            assert abs(h.quantity_after * h.price - goal) <= abs(h.quantity_before * h.price - goal), h


@PROPS
@given(cases(zero_costs=True))
def test_traded_weights_move_toward_target_without_costs(case: Case) -> None:
    plan = case.plan()
    traded = {a.symbol for a in plan.actions}
    for h in plan.holdings:
        if h.symbol in traded:
            assert abs(h.weight_after - h.weight_target) <= abs(h.weight_before - h.weight_target), h
