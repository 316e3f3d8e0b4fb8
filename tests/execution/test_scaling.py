"""Applying one account of a large plan costs what it costs in a small one: work is counted (Python calls made and
SQL statements sent while applying one account), not timed, so the test holds on any machine."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import event

from reconciler.execution.executor import apply_plan
from reconciler.execution.planfile import read_plan
from reconciler.runtime import Runtime
from tests.conftest import Workspace
from tests.execution.conftest import SYMBOLS, grow


@contextmanager
def counted(rt: Runtime) -> Iterator[dict[str, int]]:
    """Python function calls made on this thread, and SQL statements sent to the journal's database."""
    tally = {"calls": 0, "statements": 0}

    def on_call(frame: FrameType, what: str, arg: Any) -> None:
        if what == "call":
            tally["calls"] += 1

    def on_statement(*_: Any) -> None:
        tally["statements"] += 1

    engine = rt.journal.engine
    event.listen(engine, "before_cursor_execute", on_statement)
    sys.setprofile(on_call)
    try:
        yield tally
    finally:
        sys.setprofile(None)
        event.remove(engine, "before_cursor_execute", on_statement)


def work_per_account(ws: Workspace, tmp_path: Path, accounts: int) -> dict[str, int]:
    """The work of applying one account of an `accounts`-account plan, in a process that applied another first
    (as an `apply --all` worker does: what is checked once per plan is paid by its first account)."""
    grow(ws, accounts)
    plan_file = tmp_path / f"plan-{accounts}.json"
    assert ws.run("plan", "--out", str(plan_file)).code == 0
    plan = read_plan(plan_file)
    assert len(plan.portfolios) == accounts
    assert all(len(pp.actions) == len(SYMBOLS) for pp in plan.portfolios)
    rt = Runtime(ws.config, ws.journal_url)
    assert apply_plan(plan, rt, actor="test", accounts={f"a{accounts}-000"}).ok
    with counted(rt) as tally:
        result = apply_plan(plan, rt, actor="test", accounts={f"a{accounts}-001"})
    assert result.ok
    assert len(result.outcomes) == len(SYMBOLS)
    rt.journal.engine.dispose()
    return tally


def test_one_account_costs_the_same_in_a_plan_of_40_accounts_as_in_a_plan_of_4(
    workspace: Workspace, tmp_path: Path
) -> None:
    small = work_per_account(workspace, tmp_path, 4)
    large = work_per_account(workspace, tmp_path, 40)
    # The journal grows (the first run's rows are there too), so allow a few percent; a step that scanned the
    # whole plan per account would cost about ten times as much at 40 accounts as at 4.
    assert large["statements"] == small["statements"]
    assert large["calls"] <= small["calls"] * 1.05, (small, large)


def test_one_apply_of_many_accounts_holds_all_their_locks(workspace: Workspace, tmp_path: Path) -> None:
    """A plain `apply PLAN` locks every account of the plan at once: on PostgreSQL that is one advisory lock per
    account, which must not need a database connection each (a pool holds 15)."""
    grow(workspace, 24)
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0
    r = workspace.run("apply", str(plan_file), "--auto-approve")
    assert r.code == 0, r.out + r.err
    assert workspace.paper_order_count() == 24 * len(SYMBOLS)
    assert workspace.query("select count(*) from locks")[0][0] == 0
