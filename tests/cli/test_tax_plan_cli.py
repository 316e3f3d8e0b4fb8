"""Taxes in `plan` on the paper broker with a real journal: each sell's lots, gains and estimated tax in the
plan JSON and the pull-request comment, the budget's note, and max_realized_gain.rego denying a plan over the
budget."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest
import time_machine

from tests.conftest import Workspace, edit_yaml

TODAY = datetime(2025, 6, 3, 15, 0, tzinfo=UTC)
PORTFOLIO, ACCOUNT = "bob-taxable", "paper-taxable"
# Every holding of paper-taxable (VTI 210, VXUS 120, BND 95, AAPL 40, GLD 12): the lots agree with the broker.
# VTI is quoted at 289.41: its 2020 lot gains 129.41 a unit (long-term), its 2025 lot loses 5.60 (short).
LOTS = (
    "symbol,acquired,quantity,cost_basis\n"
    "VTI,2020-01-02,200,32000\nVTI,2025-01-02,10,2950.10\nVXUS,2021-05-04,120,6000\nBND,2021-05-04,95,7000\n"
    "AAPL,2015-01-02,40,1000\nGLD,2024-01-02,12,2000\n"
)


@pytest.fixture(autouse=True)
def _pinned_clock() -> Any:
    with time_machine.travel(TODAY, tick=False):
        yield


def _taxed(ws: Workspace, **tax: Any) -> None:
    def change(doc: Any) -> None:
        doc["spec"]["tax"] = {"lots": "hifo", "rates": {"short_term": 0.35, "long_term": 0.15}, **tax}

    edit_yaml(ws.root / "portfolios" / f"{PORTFOLIO}.yaml", change)
    path = ws.root / "lots.csv"
    path.write_text(LOTS)
    r = ws.run("lots", "import", ACCOUNT, str(path))
    assert r.code == 0, r.err


def _plan(ws: Workspace) -> dict[str, Any]:
    r = ws.run("plan", "--target", PORTFOLIO, "--format", "json")
    assert r.code in (0, 1), r.err
    return json.loads(r.out)  # type: ignore[no-any-return]


def _sells(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["symbol"]: s for s in plan["portfolios"][0]["tax"]["sells"]}


def test_each_sell_in_the_plan_json_shows_the_lots_it_closes(workspace: Workspace) -> None:
    _taxed(workspace)
    vti = _sells(_plan(workspace))["VTI"]
    assert [lot["acquired"] for lot in vti["lots"]] == ["2025-01-02", "2020-01-02"]  # HIFO: dearest first


def test_each_sell_in_the_plan_json_shows_its_gains_and_tax(workspace: Workspace) -> None:
    _taxed(workspace)
    vti = _sells(_plan(workspace))["VTI"]
    long_units = D(vti["quantity"]) - 10
    assert (D(vti["short_term_gain"]), D(vti["long_term_gain"])) == (
        10 * D("289.41") - D("2950.10"), long_units * (D("289.41") - 160))


def test_the_portfolio_totals_its_estimated_tax(workspace: Workspace) -> None:
    _taxed(workspace)
    tax = _plan(workspace)["portfolios"][0]["tax"]
    assert D(tax["tax"]) == sum((D(s["tax"]) for s in tax["sells"]), D(0))


def test_the_comment_shows_the_taxes(workspace: Workspace) -> None:
    _taxed(workspace)
    r = workspace.run("plan", "--target", PORTFOLIO, "--format", "markdown")
    assert "**Taxes**" in r.out


def test_the_comment_shows_the_portfolio_total(workspace: Workspace) -> None:
    _taxed(workspace)
    r = workspace.run("plan", "--target", PORTFOLIO, "--format", "markdown")
    assert "taxes (hifo): realised short-term" in r.out


def test_the_text_plan_shows_each_sells_lots(workspace: Workspace) -> None:
    _taxed(workspace)
    r = workspace.run("plan", "--target", PORTFOLIO)
    assert "closes 10 of 2025-01-02 at $295.01 (short)" in r.out


def test_the_budget_trims_the_sells_and_says_so(workspace: Workspace) -> None:
    _taxed(workspace, max_realized_gain=6000)
    notes = _plan(workspace)["portfolios"][0]["notes"]
    assert any(n.startswith("tax budget: sells trimmed (VTI") for n in notes)


def test_a_plan_within_the_budget_passes_the_policy(workspace: Workspace) -> None:
    _taxed(workspace, max_realized_gain=6000)
    results = [r["policy"] for r in _plan(workspace)["policy_results"]]
    assert "max_realized_gain" not in results


def test_the_policy_denies_a_plan_over_the_budget(workspace: Workspace) -> None:
    # The hard band keeps VTI's sell at 46 units or more: their gains pass a budget of 2,000 however trimmed.
    _taxed(workspace, max_realized_gain=2000)
    denied = [r for r in _plan(workspace)["policy_results"] if r["policy"] == "max_realized_gain"]
    assert [r["kind"] for r in denied] == ["deny"]


def test_a_symbol_whose_lots_disagree_says_its_figures_are_unavailable(workspace: Workspace) -> None:
    _taxed(workspace)
    workspace.run("lots", "import", ACCOUNT, str(_csv(workspace, "GLD,2024-01-02,10,2000\n")))
    unavailable = _plan(workspace)["portfolios"][0]["tax"]["unavailable"]
    assert "its lots hold 10 units and the broker 12" in unavailable["GLD"]


def _csv(ws: Workspace, rows: str) -> Any:
    path = ws.root / "more.csv"
    path.write_text("symbol,acquired,quantity,cost_basis\n" + rows)
    return path


def test_the_comment_summary_totals_the_estimated_tax(workspace: Workspace) -> None:
    _taxed(workspace)
    tax = _plan(workspace)["portfolios"][0]["tax"]["tax"]
    r = workspace.run("plan", "--target", PORTFOLIO, "--format", "markdown")
    assert f"| ${D(tax):,.2f} |" in r.out
