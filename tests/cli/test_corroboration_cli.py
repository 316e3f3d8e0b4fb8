"""The issue's failure, end to end on the paper broker: a quote of 1e-19 that nothing vouches for, or whose
previous close is as wrong as it is, must not value an account nor send 10^23 shares (volume unknown)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from reconciler.core.models import PortfolioPlan
from reconciler.core.plan import reseal
from reconciler.core.planner import plan_portfolio
from reconciler.execution.planfile import read_plan, write_plan
from reconciler.execution.planning import plan_verdicts
from reconciler.runtime import Runtime
from tests.conftest import Workspace, edit_yaml

TINY = "0.0000000000000000001"


def _price_bnd(ws: Workspace, quote: dict[str, object]) -> None:
    edit_yaml(ws.config, lambda d: d["broker"]["prices"]["static"].__setitem__("BND", quote))


def _largest_order(ws: Workspace) -> Decimal:
    rows = ws.query("select quantity from paper_orders") if ws.paper_order_count() else []
    return max((Decimal(str(q)) for (q,) in rows), default=Decimal(0))


def test_a_quote_without_a_previous_close_blocks_its_portfolios(workspace: Workspace) -> None:
    _price_bnd(workspace, {"price": TINY})
    r = workspace.run("plan", "--format", "json")
    assert r.code == 1
    data = json.loads(r.out)
    denied = {p["portfolio"] for p in data["policy_results"] if p["policy"] == "valuation"}
    assert denied == {"alice-ira", "bob-taxable", "college-fund"}  # each holds or targets BND
    r = workspace.run("apply", "--auto-approve")
    assert r.code == 1
    assert _largest_order(workspace) < 10**6


def test_a_previous_close_as_wrong_as_the_quote_sells_nothing_else(workspace: Workspace) -> None:
    """After a first apply the journal knows BND filled near 72.85. Quoted at 1e-19 with a previous close of
    1e-19, BND would value each account $28,000 short, and the plan would sell a third of everything else to
    buy it back. The fill vetoes the quote: every portfolio holding or targeting BND is blocked."""
    assert workspace.run("apply", "--auto-approve").code == 0
    sent = workspace.paper_order_count()
    _price_bnd(workspace, {"price": TINY, "previous_close": TINY})
    r = workspace.run("plan", "--format", "json")
    assert r.code == 1
    data = json.loads(r.out)
    denied = {p["portfolio"]: p["message"] for p in data["policy_results"] if p["policy"] == "valuation"}
    assert set(denied) == {"alice-ira", "bob-taxable", "college-fund"}
    assert all("times from the journal's last fill price" in m for m in denied.values()), denied
    assert all(p["actions"] == [] for p in data["portfolios"])
    r = workspace.run("apply", "--auto-approve")
    assert r.code == 1
    assert workspace.paper_order_count() == sent  # nothing more sent


def test_a_plan_resealed_without_its_fill_prices_is_sized_at_the_journals_prices(
    workspace: Workspace, tmp_path: Path
) -> None:
    """BND at 10 (its previous close 10, within ten times its last fill near 72.89): the buy that brings it
    back to target costs more than the account at that fill price, and the plan denies it. A plan file whose
    `references` were dropped, and its orders and verdicts derived again without them, judges itself; apply
    still sizes the buy at the journal's fill price of now and refuses it."""
    assert workspace.run("apply", "--auto-approve").code == 0
    _price_bnd(workspace, {"price": 10, "previous_close": 10})
    plan_file = tmp_path / "plan.json"
    r = workspace.run("plan", "--out", str(plan_file))
    assert r.code == 1
    assert "independently known price 72.88" in r.out  # the paper fill: 72.85 with 5 bps of slippage
    plan = read_plan(plan_file)
    rt = Runtime(workspace.config, workspace.journal_url, read_only=True)
    forged: list[PortfolioPlan] = []
    results = []
    for pp in plan.portfolios:
        desired = rt.workspace.by_name[pp.name]
        again = plan_portfolio(desired, pp.observation, rt.costs, rt.quote_limits)  # no fill prices
        forged.append(again)
        results += plan_verdicts(again, desired, rt)
    assert not [r for r in results if r.policy == "order_size"]
    write_plan(reseal(plan, portfolios=forged, policy_results=results), plan_file)
    sent = workspace.paper_order_count()
    r = workspace.run("apply", str(plan_file), "--auto-approve")
    assert r.code == 1
    assert "order_size" in r.out
    bnd = workspace.query("select count(*) from paper_orders where symbol = 'BND'")[0][0]
    assert bnd == 3  # the first apply's three BND buys, no more
    assert workspace.paper_order_count() >= sent
