"""Functions that take less than the whole services run on just that: judging a plan on `Rules` (the targets,
policies, costs and the checks' limits), repairing an account's records on `Books` (journal, broker, clock).
Each is handed an object with those members only, so reading anything else would fail here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.clock import FixedClock
from reconciler.errors import PlanMismatchError, ReconcilerError
from reconciler.execution.judge import judge
from reconciler.execution.planning import make_plan
from reconciler.execution.reconcile import give_up
from reconciler.runtime import Runtime
from tests.conftest import Workspace

NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


@dataclass(frozen=True)
class _Rules:
    workspace: Any
    policies: Any
    costs: Any
    quote_limits: Any
    size_limits: Any


@dataclass(frozen=True)
class _Books:
    journal: Any
    broker: Any
    clock: Any


def test_judging_a_plan_reads_only_the_rules(workspace: Workspace) -> None:
    rt = Runtime(workspace.config, workspace.journal_url, clock=FixedClock(NOW))
    plan = make_plan(rt, record=False)
    rules = _Rules(rt.workspace, rt.policies, rt.costs, rt.quote_limits, rt.size_limits)
    judge(plan, plan.portfolios, rules)  # the plan as made: nothing to refuse
    first = plan.portfolios[0]
    edited = first.model_copy(update={"equity": first.equity + 1})
    with pytest.raises(PlanMismatchError, match="its equity is not what"):
        judge(plan, [edited], rules)


def test_giving_up_reads_only_the_books(workspace: Workspace) -> None:
    rt = Runtime(workspace.config, workspace.journal_url, clock=FixedClock(NOW))
    books = _Books(rt.journal, rt.broker, rt.clock)
    with pytest.raises(ReconcilerError, match="is not an order of unknown outcome"):
        give_up(books, "rc-never-sent", "a test", "tester")
