"""A plan's indexes (by account, policy results by portfolio) always describe its own fields: a copy that
changes them does not keep the original's, which pydantic would otherwise copy along."""

from __future__ import annotations

from reconciler.core.models import CostModel, PolicyResult
from reconciler.core.plan import reseal, seal
from reconciler.core.planner import plan_portfolio
from tests.builders import NOW, desired, observation


def test_a_resealed_plan_is_indexed_by_its_own_portfolios_and_results() -> None:
    one = plan_portfolio(desired(name="one", account="a1", targets={"VTI": "0.99"}, cash="0.01"),
                         observation(account="a1", settled="1000", prices={"VTI": "100"}), CostModel())
    two = plan_portfolio(desired(name="two", account="a2", targets={"VTI": "0.99"}, cash="0.01"),
                         observation(account="a2", settled="1000", prices={"VTI": "100"}), CostModel())
    warn = PolicyResult(policy="p", kind="warn", level="advisory", portfolio="two", message="m")
    plan = seal([one], created_at=NOW, targets_hash="t", accounts=["a1", "a2"], policy_results=[])
    assert list(plan.by_account) == ["a1"]
    assert plan.results_by_portfolio == {}
    again = reseal(plan, portfolios=[one, two], policy_results=[warn])
    assert list(again.by_account) == ["a1", "a2"]
    assert again.results_by_portfolio == {"two": [warn]}
    assert list(plan.by_account) == ["a1"]  # the original keeps its own
