"""The policies at apply: a portfolio's orders are judged together once, and an order is judged alone only when it
differs from what was cleared or when something in its set is denied — so a denial still names the order."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from reconciler.core.models import Plan, PortfolioPlan
from reconciler.execution.gate import OrderGate
from reconciler.execution.planfile import read_plan
from reconciler.runtime import Runtime
from tests.conftest import Workspace, edit_yaml


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
    requoted = quotes[first.symbol].model_copy(update={"price": quotes[first.symbol].price * Decimal("1.001")})
    assert gate.check(first, requoted, pp.observation.positions.get(first.symbol, 0)) is None
    assert gate.evaluations == 3


def test_a_denied_order_among_others_is_found_and_the_others_pass(workspace: Workspace, tmp_path: Path) -> None:
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
