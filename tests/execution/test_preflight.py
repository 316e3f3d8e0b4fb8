"""The pre-flight checks on their own, without the CLI, the locks or the broker's orders: a plan made from the
example repository, then changed the way a stale, forged or mistimed plan would be, and each check's
verdict."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from reconciler.clock import FixedClock
from reconciler.core.models import MarketStatus, Observation, Plan, PolicyResult, PortfolioPlan
from reconciler.core.plan import client_order_id
from reconciler.errors import MarketClosedError, PlanMismatchError, PolicyDeniedError, StalePlanError
from reconciler.execution.planning import make_plan
from reconciler.execution.preflight import (
    admitted,
    already_applied,
    check_age,
    check_derived,
    check_market_open,
    check_matches,
    check_unchanged,
    stale_reasons,
)
from reconciler.runtime import Runtime
from tests.conftest import Workspace

NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


@pytest.fixture
def planned(workspace: Workspace) -> tuple[Plan, Runtime]:
    """A plan of the example repository, made now, and the runtime it was made with."""
    rt = Runtime(workspace.config, workspace.journal_url, clock=FixedClock(NOW))
    plan = make_plan(rt, record=False)
    assert any(pp.actions for pp in plan.portfolios)
    return plan, rt


def trading(plan: Plan) -> PortfolioPlan:
    return next(pp for pp in plan.portfolios if pp.actions)


def as_planned(plan: Plan) -> list[tuple[PortfolioPlan, Observation]]:
    """Every portfolio with the observation its plan recorded: nothing moved since."""
    return [(pp, pp.observation) for pp in plan.portfolios]


def test_a_fresh_plan_passes_every_check(planned: tuple[Plan, Runtime]) -> None:
    plan, rt = planned
    ws = rt.workspace
    check_matches(plan, ws)
    check_derived(plan, plan.portfolios, ws, rt.costs, rt.quote_limits)
    check_age(plan, NOW, ws.config.apply)
    observations = check_unchanged(plan, as_planned(plan), ws.config.apply.quote_band)
    assert observations == {pp.account: pp.observation for pp in plan.portfolios}
    check_market_open(observations, plan)
    assert already_applied(plan, plan.portfolios, {}) is False


def test_a_tampered_order_is_refused_by_check_derived(planned: tuple[Plan, Runtime]) -> None:
    plan, rt = planned
    pp = trading(plan)
    first = pp.actions[0]
    forged = replace(first, quantity=first.quantity * 2)
    tampered = plan.model_copy(update={"portfolios": [
        p.model_copy(update={"actions": [forged, *p.actions[1:]]}) if p is pp else p for p in plan.portfolios
    ]})
    with pytest.raises(PlanMismatchError) as refused:
        check_derived(tampered, tampered.portfolios, rt.workspace, rt.costs, rt.quote_limits)
    assert f"the orders for portfolio {pp.name!r} are not the ones its targets give" in refused.value.message
    assert (
        f"leg 1: plan has ('{first.symbol}', '{first.side}', ('{forged.quantity}'))" in refused.value.message
    )
    assert "nothing was sent" in refused.value.message


def test_a_portfolio_the_targets_do_not_have_is_refused_by_check_derived(
    planned: tuple[Plan, Runtime],
) -> None:
    plan, rt = planned
    renamed = plan.model_copy(update={"portfolios": [
        p.model_copy(update={"name": "someone-else"}) if i == 0 else p for i, p in enumerate(plan.portfolios)
    ]})
    with pytest.raises(PlanMismatchError, match="plan has portfolio 'someone-else'"):
        check_derived(renamed, renamed.portfolios, rt.workspace, rt.costs, rt.quote_limits)


def test_a_plan_for_other_targets_is_refused_by_check_matches(planned: tuple[Plan, Runtime]) -> None:
    plan, rt = planned
    with pytest.raises(PlanMismatchError, match="does not match the current targets"):
        check_matches(plan.model_copy(update={"targets_hash": "0" * 64}), rt.workspace)


def test_a_plan_for_other_accounts_is_refused_by_check_matches(planned: tuple[Plan, Runtime]) -> None:
    plan, rt = planned
    with pytest.raises(PlanMismatchError, match="account list differs"):
        check_matches(plan.model_copy(update={"config_accounts": ["elsewhere"]}), rt.workspace)


def test_a_moved_quote_is_stale(planned: tuple[Plan, Runtime]) -> None:
    plan, rt = planned
    pp = trading(plan)
    symbol, quote = sorted(pp.observation.quotes.items())[0]
    moved = quote.model_copy(update={"price": quote.price * Decimal("1.10")})
    now = pp.observation.model_copy(update={"quotes": {**pp.observation.quotes, symbol: moved}})
    observed = [(p, now if p is pp else p.observation) for p in plan.portfolios]
    with pytest.raises(StalePlanError) as refused:
        check_unchanged(plan, observed, rt.workspace.config.apply.quote_band)
    assert f"{symbol}: quote moved 10.00% since the plan" in refused.value.message
    assert "beyond the 2.00% band" in refused.value.message
    assert refused.value.fix == "stale, re-plan"


def test_a_quote_within_the_band_is_not_stale(planned: tuple[Plan, Runtime]) -> None:
    plan, rt = planned
    pp = trading(plan)
    symbol, quote = sorted(pp.observation.quotes.items())[0]
    moved = quote.model_copy(update={"price": quote.price * Decimal("1.01")})
    now = pp.observation.model_copy(update={"quotes": {**pp.observation.quotes, symbol: moved}})
    assert stale_reasons(pp, now, rt.workspace.config.apply.quote_band) == []


def test_changed_holdings_cash_and_a_missing_quote_are_each_named(planned: tuple[Plan, Runtime]) -> None:
    plan, rt = planned
    pp = trading(plan)
    then = pp.observation
    symbol = sorted(then.quotes)[0]
    now = then.model_copy(update={
        "positions": {**then.positions, "NEW": Decimal(1)},
        "cash_settled": then.cash_settled + 100,
        "quotes": {s: q for s, q in then.quotes.items() if s != symbol},
    })
    reasons = stale_reasons(pp, now, rt.workspace.config.apply.quote_band)
    assert f"{pp.account}: holdings changed since the plan (NEW)" in reasons
    assert any(r.startswith(f"{pp.account}: cash changed since the plan") for r in reasons)
    assert f"{symbol}: no quote now" in reasons


def test_a_plan_older_than_max_plan_age_is_refused(planned: tuple[Plan, Runtime]) -> None:
    plan, rt = planned
    settings = rt.workspace.config.apply
    limit = plan.created_at + timedelta(seconds=settings.max_plan_age_seconds)
    check_age(plan, limit, settings)
    with pytest.raises(StalePlanError) as refused:
        check_age(plan, limit + timedelta(seconds=1), settings)
    assert refused.value.message == f"plan is {settings.max_plan_age_seconds + 1}s old (maximum" \
        f" {settings.max_plan_age_seconds}s)"


def test_a_plan_from_the_future_is_refused(planned: tuple[Plan, Runtime]) -> None:
    plan, rt = planned
    settings = rt.workspace.config.apply
    skew = timedelta(seconds=settings.max_clock_skew_seconds)
    check_age(plan, plan.created_at - skew, settings)
    with pytest.raises(StalePlanError) as refused:
        check_age(plan, plan.created_at - skew - timedelta(seconds=5), settings)
    assert f"in the future (clock skew allowed: {settings.max_clock_skew_seconds}s)" in refused.value.message
    assert "nothing was sent" in refused.value.message


def test_a_closed_market_is_refused(planned: tuple[Plan, Runtime]) -> None:
    plan, _ = planned
    closed = MarketStatus(is_open=False, next_open=datetime(2026, 11, 27, 14, 30, tzinfo=UTC), source="test")
    observations = {
        pp.account: pp.observation.model_copy(update={"market": closed}) for pp in plan.portfolios
    }
    with pytest.raises(MarketClosedError) as refused:
        check_market_open(observations, plan)
    assert "closed (test, next open 2026-11-27 14:30 UTC)" in refused.value.message


def test_an_applied_plan_is_recognised_and_a_partly_applied_one_refused(
    planned: tuple[Plan, Runtime],
) -> None:
    plan, _ = planned
    legs = [client_order_id(plan.content_hash, pp.account, a) for pp in plan.portfolios for a in pp.actions]
    assert already_applied(plan, plan.portfolios, {c: {"status": "filled"} for c in legs}) is True
    with pytest.raises(StalePlanError, match="partly applied by an earlier run"):
        already_applied(plan, plan.portfolios, {legs[0]: {"status": "filled"}})
    with pytest.raises(StalePlanError, match="partly applied by an earlier run"):
        already_applied(plan, plan.portfolios, {c: {"status": "submitting"} for c in legs})


def _deny(plan: Plan, policy: str, portfolio: str) -> Plan:
    result = PolicyResult(
        policy=policy, kind="deny", level="hard-mandatory", portfolio=portfolio, message="no"
    )
    return plan.model_copy(update={"policy_results": [*plan.policy_results, result]})


def test_a_policy_denial_refuses_the_whole_plan(planned: tuple[Plan, Runtime]) -> None:
    plan, _ = planned
    denied = _deny(plan, "max_turnover", trading(plan).name)
    with pytest.raises(PolicyDeniedError, match=r"\[hard-mandatory\] max_turnover"):
        admitted(denied, denied.portfolios, {})


def test_a_doubtful_quote_stops_only_its_own_portfolio(planned: tuple[Plan, Runtime]) -> None:
    plan, _ = planned
    with_orders = [pp for pp in plan.portfolios if pp.actions]
    assert len(with_orders) > 1
    stopped = with_orders[0].name
    chosen, denied = admitted(_deny(plan, "valuation", stopped), plan.portfolios, {})
    assert [pp.name for pp in chosen] == [pp.name for pp in with_orders[1:]]
    assert list(denied) == [stopped]

