"""The backtest's forced sales (cash for a tax bill or a withdrawal) go through live code: a withdrawal the
planner raises (core.raise_cash), whose sells core.tax_orders.taxed_leg does not trim (`forced`); and no
module of the backtest keeps its own copy of the tax settings with the budget or the hold taken off."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.backtest import engine
from reconciler.backtest.engine import run_strategy
from reconciler.core.models import CostModel, Desired, Observation, PortfolioPlan
from reconciler.core.planner import plan_portfolio
from reconciler.core.tax_rules import TaxSettings
from tests.backtest.conftest import REPO
from tests.backtest.test_tax_budget import PRICES, RATES, SETTINGS, _portfolio, _quarterly

BACKTEST = REPO / "reconciler" / "backtest"
FORCED_NOTE = "tax: a pending withdrawal's sells are not trimmed"


@pytest.fixture(scope="module")
def plans() -> list[tuple[Desired, PortfolioPlan]]:
    """Every plan of a run whose budget ($1) a tax bill passes, with the desired state it was planned for."""
    seen: list[tuple[Desired, PortfolioPlan]] = []

    def recorded(desired: Desired, obs: Observation, costs: CostModel) -> PortfolioPlan:
        plan = plan_portfolio(desired, obs, costs)
        seen.append((desired, plan))
        return plan

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "plan_portfolio", recorded)
        portfolio = _portfolio(Decimal(1), TaxSettings().hard_band, RATES)
        run_strategy(portfolio, PRICES, _quarterly(portfolio), SETTINGS, policy=lambda plan, when: [])
    return seen


def _raising(plans: list[tuple[Desired, PortfolioPlan]]) -> list[PortfolioPlan]:
    return [plan for desired, plan in plans if desired.withdrawals]


def test_a_tax_bill_is_raised_as_a_withdrawal_of_the_day(plans: list[tuple[Desired, PortfolioPlan]]) -> None:
    assert all(plan.withdrawal for plan in _raising(plans)) and _raising(plans)


def test_the_tax_bill_s_sells_are_forced_past_the_budget(plans: list[tuple[Desired, PortfolioPlan]]) -> None:
    assert all(any(n.startswith(FORCED_NOTE) for n in plan.notes) for plan in _raising(plans))


def test_the_budget_still_trims_the_other_plans(plans: list[tuple[Desired, PortfolioPlan]]) -> None:
    others = [plan for desired, plan in plans if not desired.withdrawals]
    assert any(note.startswith("tax budget:") for plan in others for note in plan.notes)


# Tax settings changed for a run: allowed only where --tax-what-if puts its values in the block.
WHAT_IF = BACKTEST / "request.py"


def _tax_updates(path: Path) -> list[int]:
    """Lines where a model copy's update sets `tax`, or a field of the tax budget or hold is named."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
            node.func.attr == "model_copy"
        ):
            for kw in node.keywords:
                if kw.arg == "update" and isinstance(kw.value, ast.Dict) and any(
                    isinstance(k, ast.Constant) and k.value == "tax" for k in kw.value.keys
                ):
                    found.add(node.lineno)
        named = node.value if isinstance(node, ast.Constant) else node.attr if isinstance(
            node, ast.Attribute) else None
        if named in ("max_realized_gain", "avoid_short_term_days"):
            found.add(node.lineno)
    return sorted(found)


@pytest.mark.parametrize("path", sorted(p for p in BACKTEST.rglob("*.py") if p != WHAT_IF),
                         ids=lambda p: str(p.relative_to(BACKTEST)))
def test_no_backtest_module_keeps_its_own_tax_settings(path: Path) -> None:
    assert _tax_updates(path) == []


def test_the_walk_finds_a_planted_twin(tmp_path: Path) -> None:
    planted = tmp_path / "twin.py"
    planted.write_text('forced = tax.model_copy(update={"max_realized_gain": None})\n'
                       'd = desired.model_copy(update={"tax": forced})\n')
    assert _tax_updates(planted) == [1, 2]
