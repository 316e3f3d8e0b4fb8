"""The policies at apply: a portfolio's orders are judged together once, and an order is judged alone only
when it differs from what was cleared or when something in its set is denied — so a denial still names the
order."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.core.models import Action, Plan, PolicyResult, PortfolioPlan, Quote
from reconciler.execution.executor import apply_plan
from reconciler.execution.gate import OrderGate
from reconciler.execution.planfile import read_plan
from reconciler.runtime import Runtime
from tests.conftest import Workspace, edit_yaml
from tests.execution.conftest import SYMBOLS, grow


def planned(ws: Workspace, tmp_path: Path) -> tuple[Plan, PortfolioPlan, Runtime, OrderGate]:
    plan_file = tmp_path / "plan.json"
    assert ws.run("plan", "--out", str(plan_file)).code == 0
    plan = read_plan(plan_file)
    pp = max(plan.portfolios, key=lambda p: len(p.actions))
    assert len(pp.actions) >= 3
    rt = Runtime(ws.config, ws.journal_url)
    apply_id = rt.journal.start_apply(plan.content_hash, plan.targets_hash, None, "test")
    return plan, pp, rt, OrderGate(rt, pp, plan.content_hash, apply_id, {}, "test")


def test_orders_cleared_together_are_not_judged_again(workspace: Workspace, tmp_path: Path) -> None:
    _, pp, _, gate = planned(workspace, tmp_path)
    quotes = pp.observation.quotes
    gate.prejudge([(a, quotes.get(a.symbol)) for a in pp.actions])
    assert gate.evaluations == 1
    for a in pp.actions:
        assert gate.check(a, quotes.get(a.symbol), pp.observation.positions.get(a.symbol, 0)) is None
    assert gate.evaluations == 1


def test_an_order_sent_otherwise_than_cleared_is_judged_alone(workspace: Workspace, tmp_path: Path) -> None:
    _, pp, _, gate = planned(workspace, tmp_path)
    quotes = pp.observation.quotes
    gate.prejudge([(a, quotes.get(a.symbol)) for a in pp.actions])
    first = pp.actions[0]
    shrunk = replace(first, quantity=first.quantity - 1)
    assert gate.check(shrunk, quotes.get(first.symbol), pp.observation.positions.get(first.symbol, 0)) is None
    assert gate.evaluations == 2
    requoted = quotes[first.symbol].model_copy(
        update={"price": quotes[first.symbol].price * Decimal("1.001")}
    )
    assert gate.check(first, requoted, pp.observation.positions.get(first.symbol, 0)) is None
    assert gate.evaluations == 3


def test_a_denied_order_among_others_is_found_and_the_others_pass(
    workspace: Workspace, tmp_path: Path
) -> None:
    plan_file = tmp_path / "first.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0
    target = max(read_plan(plan_file).portfolios, key=lambda p: len(p.actions)).actions[-1].symbol
    # Denied after the plan was reviewed (the deny list grew): apply's own judgement must still catch it.
    edit_yaml(workspace.config, lambda d: d["policies"]["params"].__setitem__("deny_symbols", [target]))
    plan = read_plan(plan_file)
    pp = max(plan.portfolios, key=lambda p: len(p.actions))
    rt = Runtime(workspace.config, workspace.journal_url)
    apply_id = rt.journal.start_apply(plan.content_hash, plan.targets_hash, None, "test")
    gate = OrderGate(rt, pp, plan.content_hash, apply_id, {}, "test")
    quotes = pp.observation.quotes
    gate.prejudge([(a, quotes.get(a.symbol)) for a in pp.actions])
    verdicts = {a.symbol: gate.check(a, quotes.get(a.symbol), pp.observation.positions.get(a.symbol, 0))
                for a in pp.actions}
    assert gate.evaluations == 1 + len(pp.actions)
    denied = verdicts.pop(target)
    assert denied is not None
    assert denied.startswith("deny_list:")
    assert set(verdicts.values()) == {None}
    rows = workspace.query("select policy, kind from policy_decisions where apply_id = :a", a=apply_id)
    assert ("deny_list", "deny") in rows


def judged_in_apply(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Plan, dict[str, list[int]]]:
    """Apply the workspace's plan, recording each policy evaluation of the gate: portfolio -> orders
    judged."""
    plan_file = tmp_path / "plan.json"
    assert ws.run("plan", "--out", str(plan_file)).code == 0
    plan = read_plan(plan_file)
    judged: dict[str, list[int]] = {}
    evaluate = OrderGate._evaluate

    def recording(gate: OrderGate, actions: list[Action], quotes: dict[str, Quote]) -> list[PolicyResult]:
        judged.setdefault(gate.pp.name, []).append(len(actions))
        return evaluate(gate, actions, quotes)

    monkeypatch.setattr(OrderGate, "_evaluate", recording)
    rt = Runtime(ws.config, ws.journal_url)
    assert apply_plan(plan, rt, actor="test").ok
    rt.journal.engine.dispose()
    return plan, judged


def sides(pp: PortfolioPlan) -> list[int]:
    """How many orders each side of a portfolio has (sells, then buys), for the sides it trades."""
    return [n for n in (sum(a.side == s for a in pp.actions) for s in ("sell", "buy")) if n]


def test_an_apply_judges_each_side_of_a_portfolio_at_once(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sells together before the first send, the buys together when they start (with fresh quotes after
    sells, with the observation's in an all-buy portfolio): one evaluation a side, never one an order."""
    plan, judged = judged_in_apply(workspace, tmp_path, monkeypatch)
    assert judged == {pp.name: sides(pp) for pp in plan.portfolios if pp.actions}


def test_an_all_buy_portfolio_is_judged_once(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grow(workspace, 3)
    plan, judged = judged_in_apply(workspace, tmp_path, monkeypatch)
    assert judged == {pp.name: [len(SYMBOLS)] for pp in plan.portfolios}
