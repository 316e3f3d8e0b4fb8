"""Every order's outcome reaches the terminal as it happens (issue 27, section 3): outcomes are added through
one method, ApplyResult.add, which tells the listener; a new path that appended to the list directly would
print nothing until the apply ended."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

import reconciler
from tests.conftest import Workspace

PACKAGE = Path(reconciler.__file__).parent


def _appends_to_outcomes() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("append", "extend", "insert")
                    and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "outcomes"):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return found


def _add() -> str:
    leg = (PACKAGE / "execution" / "leg.py").read_text().splitlines()
    row = next(n for n, line in enumerate(leg, start=1) if "self.outcomes.append(" in line)
    return f"execution/leg.py:{row}"


def test_the_walk_finds_apply_result_add() -> None:
    assert _add() in _appends_to_outcomes()


def test_only_apply_result_add_appends_an_order_outcome() -> None:
    allowed = {_add()}
    # workers.py's report.outcomes holds accounts (WorkOutcome), not orders: its own list, printed at the end.
    assert [
        p for p in _appends_to_outcomes() if p not in allowed and not p.startswith("execution/workers.py")
    ] == []


def test_an_outcome_that_cannot_be_shown_does_not_stop_the_orders_after_it(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    from reconciler.execution.executor import apply_plan
    from reconciler.execution.planning import make_plan
    from reconciler.runtime import Runtime

    rt = Runtime(workspace.config)
    plan = make_plan(rt)

    def broken(_: object) -> None:
        raise ValueError("a renderer bug")

    with caplog.at_level(logging.ERROR, logger="reconciler.apply"):
        result = apply_plan(plan, rt, actor="test", on_outcome=broken)
    assert [o.status for o in result.outcomes] == ["filled"] * sum(len(pp.actions) for pp in plan.portfolios)


def test_an_outcome_that_cannot_be_shown_is_logged(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    from reconciler.execution.executor import apply_plan
    from reconciler.execution.planning import make_plan
    from reconciler.runtime import Runtime

    rt = Runtime(workspace.config)

    def broken(_: object) -> None:
        raise ValueError("a renderer bug")

    with caplog.at_level(logging.ERROR, logger="reconciler.apply"):
        apply_plan(make_plan(rt), rt, actor="test", on_outcome=broken)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "could not show an order's outcome; the apply goes on and reports at its end"]
