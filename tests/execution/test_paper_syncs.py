"""A paper apply waits for the disk once per portfolio, and holds one lease thread however many accounts it
locks: work counted (synced commits, threads), not timed, so the test holds on any machine."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event

from reconciler.execution.executor import apply_plan
from reconciler.execution.planfile import read_plan
from reconciler.journal.locks import AccountLock
from reconciler.journal.store import Journal
from reconciler.runtime import Runtime
from tests.conftest import Workspace
from tests.execution.conftest import grow


@contextmanager
def synced_commits(journal: Journal) -> Iterator[list[int]]:
    """Commits that wrote and waited for the disk: not under database.begin's sync=False (SQLite's connection
    pragma, PostgreSQL's SET LOCAL for one transaction)."""
    count = [0]
    state: dict[int, dict[str, bool]] = {}

    def of(conn: Any) -> dict[str, bool]:
        return state.setdefault(id(conn.connection.dbapi_connection), {"normal": False, "local": False,
                                                                        "dirty": False})

    def on_statement(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        st, said = of(conn), " ".join(statement.upper().split())
        if said.startswith("PRAGMA SYNCHRONOUS="):
            st["normal"] = said.endswith("NORMAL")
        elif said.startswith("SET LOCAL SYNCHRONOUS_COMMIT TO OFF"):
            st["local"] = True
        elif said.split(" ", 1)[0] in ("INSERT", "UPDATE", "DELETE"):
            st["dirty"] = True

    def on_commit(conn: Any) -> None:
        st = of(conn)
        count[0] += st["dirty"] and not (st["normal"] or st["local"])
        st["dirty"] = st["local"] = False

    engine = journal.engine
    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    try:
        yield count
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(engine, "commit", on_commit)


def syncs_of_apply(ws: Workspace, tmp_path: Path, accounts: int) -> int:
    grow(ws, accounts)
    plan_file = tmp_path / f"plan-{accounts}.json"
    assert ws.run("plan", "--out", str(plan_file)).code == 0
    rt = Runtime(ws.config, ws.journal_url)
    rt.journal.check_writable()
    with synced_commits(rt.journal) as count:
        assert apply_plan(read_plan(plan_file), rt, actor="test").ok
    rt.journal.engine.dispose()
    return count[0]


def test_a_paper_apply_syncs_once_per_portfolio(workspace: Workspace, tmp_path: Path) -> None:
    """Its portfolio's intents, orders and answers are one transaction; the locks, their leases and the books'
    opening are committed without waiting for the disk (journal/leases.py, brokers/paper.py say why)."""
    small = syncs_of_apply(workspace, tmp_path, 3)
    large = syncs_of_apply(workspace, tmp_path, 9)
    assert large - small == 6


def test_one_thread_keeps_the_leases_of_many_locks(journal_url: str) -> None:
    journal = Journal.open(journal_url)
    journal.check_writable()
    before = set(threading.enumerate())
    locks = [AccountLock(journal, f"acct-{n}", "tester") for n in range(30)]
    for lock in locks:
        lock.acquire()
    try:
        started = [t.name for t in threading.enumerate() if t not in before]
        assert started == ["lock-leases"]
    finally:
        for lock in locks:
            lock.release()
        journal.engine.dispose()


def savepoints_of_apply(ws: Workspace, tmp_path: Path, accounts: int) -> int:
    grow(ws, accounts)
    plan_file = tmp_path / f"plan-{accounts}.json"
    assert ws.run("plan", "--out", str(plan_file)).code == 0
    rt = Runtime(ws.config, ws.journal_url)
    rt.journal.check_writable()
    count = [0]

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        count[0] += statement.upper().startswith("SAVEPOINT")

    event.listen(rt.journal.engine, "before_cursor_execute", on_statement)
    try:
        assert apply_plan(read_plan(plan_file), rt, actor="test").ok
    finally:
        event.remove(rt.journal.engine, "before_cursor_execute", on_statement)
        rt.journal.engine.dispose()
    return count[0]


def test_only_steps_of_several_statements_take_a_savepoint(workspace: Workspace, tmp_path: Path) -> None:
    """Within a paper portfolio's transaction, on SQLite, a step that reads or writes one statement needs no
    savepoint (SQLite undoes a failed statement alone, database.begin): of an order's steps only the
    broker's fill and the journal's record of its answer take one. PostgreSQL, where a failed statement
    aborts the whole transaction, keeps one for every step."""
    small = savepoints_of_apply(workspace, tmp_path, 2)
    large = savepoints_of_apply(workspace, tmp_path, 4)
    sqlite = Runtime(workspace.config, workspace.journal_url).journal.engine.dialect.name == "sqlite"
    # Two portfolios more, each buying grow's three symbols; its observe and the observation's record are
    # steps of several statements too.
    several = 2 * (3 * 2 + 2)
    if sqlite:
        assert large - small == several
    else:
        assert large - small > several
