"""Applying one account of a large plan costs what it costs in a small one: work is counted (Python calls made
and SQL statements sent while applying one account), not timed, so the test holds on any machine."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import event

from reconciler.clock import FixedClock
from reconciler.execution.executor import apply_plan
from reconciler.execution.planfile import read_plan
from reconciler.execution.planning import make_plan
from reconciler.runtime import Runtime
from tests.conftest import Workspace, edit_yaml
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
    """A plain `apply PLAN` locks every account of the plan at once: on PostgreSQL that is one advisory lock
    per account, which must not need a database connection each (a pool holds 15)."""
    grow(workspace, 24)
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0
    r = workspace.run("apply", str(plan_file), "--auto-approve")
    assert r.code == 0, r.out + r.err
    assert workspace.paper_order_count() == 24 * len(SYMBOLS)
    assert workspace.query("select count(*) from locks")[0][0] == 0


class SlowObservations(FixedClock):
    """Every reading of the time is 40 s after the last: planning many accounts takes minutes."""

    def now(self) -> datetime:
        self.advance(40.0)
        return super().now()


def test_quote_age_is_judged_at_each_accounts_own_observation(workspace: Workspace) -> None:
    """Judged at the end of a long plan, the first accounts' quotes would look minutes old and quote_freshness
    (60 s) would deny them: the plan would block itself."""
    grow(workspace, 6)
    rt = Runtime(
        workspace.config, workspace.journal_url, clock=SlowObservations(datetime(2026, 3, 2, 15, tzinfo=UTC))
    )
    plan = make_plan(rt, record=False)
    assert (plan.created_at - plan.portfolios[0].observation.taken_at).total_seconds() > 60
    assert [r for r in plan.policy_results if r.policy == "quote_freshness"] == []
    assert all(pp.actions for pp in plan.portfolios)


def test_a_blocked_portfolio_fails_only_its_own_account_and_names_only_its_reasons(
    workspace: Workspace, tmp_path: Path
) -> None:
    grow(workspace, 4)
    (workspace.root / "portfolios" / "p003.yaml").write_text(
        "apiVersion: reconciler.dev/v1\nkind: Portfolio\nmetadata: {name: p003}\n"
        "spec:\n  account: a4-003\n  targets: {AAPL: 0.5, BND: 0.49}\n  cash: 0.01\n"
    )
    edit_yaml(workspace.config, lambda d: d["policies"]["params"].__setitem__("deny_symbols", ["AAPL"]))
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 1  # a policy blocks part of the plan
    r = workspace.run("apply", str(plan_file), "--all", "--workers", "2")
    assert r.code == 1
    rows = dict(workspace.query("select account, status from work_items"))
    assert rows == {"a4-000": "done", "a4-001": "done", "a4-002": "done", "a4-003": "failed"}
    failed = workspace.query("select message from work_items where status = 'failed'")[0][0]
    assert "deny_list (p003)" in failed
    assert "p000" not in failed
    assert workspace.paper_order_count() == 3 * len(SYMBOLS)
