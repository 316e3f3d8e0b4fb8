"""The services execution is given are read-only, and one apply's state lives in its own session: a plan
checked whole once per session, each worker with its own copy of what its command checked."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import UTC, datetime

import pytest

from reconciler.clock import FixedClock
from reconciler.core.models import Plan
from reconciler.errors import PlanMismatchError
from reconciler.execution.executor import match_once
from reconciler.execution.planning import make_plan
from reconciler.execution.services import ApplySession
from reconciler.runtime import Runtime
from tests.conftest import Workspace

NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


@pytest.fixture
def planned(workspace: Workspace) -> tuple[Plan, Runtime]:
    """A plan of the example repository and the runtime it was made with."""
    rt = Runtime(workspace.config, workspace.journal_url, clock=FixedClock(NOW))
    return make_plan(rt, record=False), rt


def test_the_runtime_cannot_be_changed_once_built(planned: tuple[Plan, Runtime]) -> None:
    _, rt = planned
    with pytest.raises(FrozenInstanceError):
        rt.read_only = True  # type: ignore[misc]


def test_a_plan_for_other_targets_is_refused_by_a_new_session(planned: tuple[Plan, Runtime]) -> None:
    plan, rt = planned
    with pytest.raises(PlanMismatchError):
        match_once(plan.model_copy(update={"targets_hash": "0" * 64}), rt.workspace, ApplySession("test"))


def test_a_session_checks_a_plan_once(planned: tuple[Plan, Runtime]) -> None:
    plan, rt = planned
    session = ApplySession("test")
    match_once(plan, rt.workspace, session)
    assert session.matched_plans == {plan.content_hash}


def test_a_worker_inherits_the_plans_its_command_checked(planned: tuple[Plan, Runtime]) -> None:
    plan, rt = planned
    session = ApplySession("test", lock_timeout=5.0)
    match_once(plan, rt.workspace, session)
    assert session.for_worker() == ApplySession("test", 5.0, {plan.content_hash})


def test_what_a_worker_checks_stays_in_its_own_session() -> None:
    session = ApplySession("test")
    session.for_worker().matched_plans.add("elsewhere")
    assert session.matched_plans == set()
