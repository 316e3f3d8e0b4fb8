"""Policies at plan and apply time: enforcement levels, overrides recorded with who and why, the kill
switch."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Workspace, edit_yaml


def edit_config(ws: Workspace, change: Callable[[Any], None]) -> None:
    edit_yaml(ws.config, change)


def test_soft_mandatory_denial_blocks_until_overridden_and_is_journaled(
    workspace: Workspace, tmp_path: Path, monkeypatch: object
) -> None:
    edit_config(workspace, lambda d: d["policies"]["params"].__setitem__("max_turnover", 0.5))
    plan_file = tmp_path / "plan.json"
    r = workspace.run("plan", "--out", str(plan_file), "--detailed-exitcode")
    assert r.code == 1  # a blocking denial is an error for CI
    assert "[soft-mandatory] max_turnover (alice-ira): turnover" in r.out

    r = workspace.run("apply", str(plan_file))
    assert r.code == 1
    assert "max_turnover" in r.err
    assert "--override" in r.err
    assert workspace.paper_order_count() == 0

    r = workspace.run("apply", str(plan_file), "--override", "max_turnover")
    assert r.code == 1
    assert "--override needs --reason" in r.err

    monkeypatch.setenv("RECONCILER_ACTOR", "reviewer-jane")  # type: ignore[attr-defined]
    r = workspace.run("apply", str(plan_file), "--override", "max_turnover", "--reason", "initial funding")
    assert r.code == 0, r.err
    assert workspace.paper_order_count() > 0
    rows = workspace.query(
        "select policy, level, overridden, override_by, override_reason from policy_decisions where"
        " kind='deny'"
    )
    assert ("max_turnover", "soft-mandatory", True, "reviewer-jane", "initial funding") in rows


def test_the_gitops_override_path_applies_a_reviewed_plan_a_soft_policy_denies(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On merge the reviewed plan is blocked by a soft-mandatory policy; the dispatched apply run (approved in
    the production environment) passes --override and --reason to `apply --envelope`: it applies, and the
    journal says who asked, who approved and why."""
    edit_config(workspace, lambda d: d["policies"]["params"].__setitem__("max_turnover", 0.5))
    reviewed = tmp_path / "reviewed.json"
    assert workspace.run("plan", "--out", str(reviewed)).code == 1  # the plan check is red: a denial
    r = workspace.run("apply", "--envelope", str(reviewed), "--auto-approve")
    assert r.code == 1
    assert "max_turnover" in r.err
    assert workspace.paper_order_count() == 0
    monkeypatch.setenv("RECONCILER_ACTOR", "ops-oscar (approved by risk-rita)")
    r = workspace.run("apply", "--envelope", str(reviewed), "--auto-approve",
                      "--override", "max_turnover", "--reason", "initial funding of new accounts")
    assert r.code == 0, r.err
    assert workspace.paper_order_count() > 0
    rows = workspace.query("select override_by, override_reason from policy_decisions where overridden")
    assert ("ops-oscar (approved by risk-rita)", "initial funding of new accounts") in rows
    assert ("ops-oscar (approved by risk-rita)",) in workspace.query("select actor from applies")


def test_hard_mandatory_cannot_be_overridden(workspace: Workspace, tmp_path: Path) -> None:
    edit_config(workspace, lambda d: d["policies"]["params"].__setitem__("deny_symbols", ["VTI"]))
    plan_file = tmp_path / "plan.json"
    r = workspace.run("plan", "--out", str(plan_file))
    assert "[hard-mandatory] deny_list" in r.out
    r = workspace.run("apply", str(plan_file), "--override", "deny_list", "--reason", "please")
    assert r.code == 1
    assert "--override deny_list: the policy is hard-mandatory" in r.err
    assert workspace.paper_order_count() == 0
    r = workspace.run("apply", str(plan_file))
    assert r.code == 1
    assert "VTI is on the deny list" in r.err
    assert workspace.paper_order_count() == 0


@pytest.mark.parametrize("name", ["max_turnvoer", "valuation", "deny_list"])
def test_an_override_that_waives_nothing_is_refused_before_anything_is_sent(
    workspace: Workspace, tmp_path: Path, name: str
) -> None:
    """A typo (or a built-in, or a hard-mandatory policy) must not read as "denial waived, go on"."""
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0
    for extra in ((), ("--all", "--workers", "2")):
        r = workspace.run(
            "apply", str(plan_file), "--auto-approve", "--override", name, "--reason", "typo", *extra
        )
        assert r.code == 1, r.out + r.err
        assert f"--override {name}:" in r.err
        assert "max_turnover" in r.err  # the fix names what can be overridden
    assert workspace.paper_order_count() == 0
    assert workspace.journal_rows("applies", "intents") == 0


def test_advisory_denial_is_reported_but_does_not_block(workspace: Workspace, tmp_path: Path) -> None:
    def change(d: dict) -> None:  # type: ignore[type-arg]
        d["policies"]["params"]["deny_symbols"] = ["VTI"]
        d["policies"]["enforcement"]["deny_list"] = "advisory"

    edit_config(workspace, change)
    plan_file = tmp_path / "plan.json"
    r = workspace.run("plan", "--out", str(plan_file), "--detailed-exitcode")
    assert r.code == 2
    assert "[advisory] deny_list" in r.out
    r = workspace.run("apply", str(plan_file))
    assert r.code == 0, r.err


def test_a_crash_blocks_every_portfolio_that_holds_or_targets_it_at_plan_time(workspace: Workspace) -> None:
    def crash(d: dict) -> None:  # type: ignore[type-arg]
        d["broker"]["prices"]["static"]["BND"] = {"price": 50.0, "previous_close": 72.80}

    edit_config(workspace, crash)
    r = workspace.run("plan", "--format", "json")
    data = json.loads(r.out)
    denied = {p["portfolio"]: p["message"] for p in data["policy_results"] if p["policy"] == "valuation"}
    assert set(denied) == {"alice-ira", "bob-taxable", "college-fund"}  # each holds or targets BND
    said = "BND: quote 50 moved -31.3% from the previous close 72.8,"
    assert all(m.startswith(said) for m in denied.values()), denied
    assert all(p["actions"] == [] for p in data["portfolios"])


def test_kill_switch_rechecked_before_each_order_at_apply(workspace: Workspace, tmp_path: Path) -> None:
    """The price collapses between plan and apply; with a wide staleness band only the per-order check stops
    it."""
    edit_config(workspace, lambda d: d["apply"].__setitem__("quote_band", 0.9))
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0

    def crash(d: dict) -> None:  # type: ignore[type-arg]
        d["broker"]["prices"]["static"]["BNDX"] = {"price": 20.0, "previous_close": 49.35}

    edit_config(workspace, crash)
    r = workspace.run("apply", str(plan_file))
    assert r.code == 1
    assert "denied" in r.out
    assert "BNDX" in r.out
    sent = {row[0] for row in workspace.query("select symbol from paper_orders")}
    denied = workspace.query("select symbol, status from intents where status='denied'")
    assert "BNDX" not in sent
    assert ("BNDX", "denied") in denied
    assert "VTI" in sent  # the other orders went through


def test_broken_policy_added_after_plan_stops_apply(workspace: Workspace, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0
    (workspace.root / "policies" / "broken.rego").write_text("package reconciler.broken\n\ndeny contains msg"
                                                             " if {\n")
    r = workspace.run("apply", str(plan_file))
    assert r.code == 1
    assert "broken.rego" in r.err
    assert workspace.paper_order_count() == 0


@pytest.mark.parametrize("step", ["0.000001", "1e-8", "1e-12"])
def test_a_buy_spending_the_last_cash_leaves_room_for_the_brokers_rounding(
    workspace: Workspace, step: str
) -> None:
    """The paper broker rounds fill prices to $0.0001 and commissions to the cent: with a fine quantity step
    the last buy must still fit the cash it leaves."""
    edit_yaml(workspace.root / "portfolios" / "college-fund.yaml",
              lambda d: d["spec"]["trading"].__setitem__("quantity_step", step))
    r = workspace.run("apply", "--auto-approve")
    assert r.code == 0, r.out
    assert "rejected" not in r.out, r.out
    assert workspace.run("plan", "--detailed-exitcode").code == 0


@pytest.mark.parametrize(
    ("slippage", "bps", "order_type"),
    [("5", "10", "limit"), ("100", "50", "market"), ("100", "50", "limit")],
)
def test_buys_budget_the_commission_on_the_slipped_fill(
    workspace: Workspace, slippage: str, bps: str, order_type: str
) -> None:
    """The broker charges its basis-point commission on the fill price, slippage included: a plan that spends
    the last of the cash must budget for that, or the last buy is refused for want of a few cents."""
    def costs(d: Any) -> None:
        d["broker"]["slippage_bps"] = slippage
        d["broker"]["commission"] = {"per_order": 0, "per_share": 0, "bps": bps}
        # A limit band wider than the slippage, or nothing fills (tests/execution/test_limit_orders.py).
        d["apply"].update(order_type=order_type, limit_band="0.02")

    edit_yaml(workspace.config, costs)
    r = workspace.run("apply", "--auto-approve")
    assert r.code == 0, r.out
    assert "rejected" not in r.out, r.out
