"""`plan` and `status` only read the journal unless asked to `--record`: they run with a read-only credential
(a SQLite file opened `mode=ro` or chmod 0444, a PostgreSQL role granted SELECT only) and change no byte of
it."""

from __future__ import annotations

import gc
import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from reconciler.journal.store import Journal
from tests.conftest import PG_ADMIN_URL, Workspace, fresh_journal_url

ACCOUNTS = 3  # the example repository's portfolios, one account each


def table_counts(url: str) -> dict[str, int]:
    """Rows in every table of the journal database, the paper broker's books included."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                name: int(conn.execute(text(f'select count(*) from "{name}"')).scalar_one())
                for name in sorted(inspect(conn).get_table_names())
            }
    finally:
        engine.dispose()


def settled_bytes(db: Path) -> str:
    """The SQLite file's digest once every committed write is in it: connections the in-process CLI left open
    are closed and the write-ahead log is checkpointed, so a later change can only come from a later
    writer."""
    gc.collect()
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        busy, _, _ = conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)")).one()
    engine.dispose()
    assert busy == 0
    return hashlib.sha256(db.read_bytes()).hexdigest()


def wal_bytes(db: Path) -> int:
    """Bytes of the file's write-ahead log: anything there is a write not yet in the database file."""
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def applied(ws: Workspace, *journal: str) -> None:
    r = ws.run(*journal, "apply", "--auto-approve")
    assert r.code == 0, r.out + r.err


def timeless(doc: Any) -> Any:
    """A plan's JSON without what only says when it was made (and the hash over it): two plans of the same
    books a moment apart are then equal."""
    if isinstance(doc, dict):
        return {
            k: timeless(v)
            for k, v in doc.items()
            if k not in ("created_at", "taken_at", "as_of", "content_hash")
        }
    if isinstance(doc, list):
        return [timeless(v) for v in doc]
    return doc


def observations(url: str, purpose: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(text("select count(*) from observations where purpose = :p"), {"p": purpose})
            return int(found.scalar_one())
    finally:
        engine.dispose()


# ---- SQLite: a read-only file ------------------------------------------------------------------------------


def plan_and_status_read(workspace: Workspace, url: str) -> None:
    """Through a read-only journal URL: the applied accounts plan no changes and are all Synced."""
    plan = workspace.run("--journal", url, "plan", "--detailed-exitcode")
    assert plan.code == 0, plan.out + plan.err
    assert "No changes" in plan.out
    status = workspace.run("--journal", url, "status")
    assert status.code == 0, status.out + status.err
    assert status.out.count("Synced") == ACCOUNTS


def test_plan_and_status_read_a_sqlite_journal_opened_mode_ro(workspace: Workspace, tmp_path: Path) -> None:
    db = tmp_path / "ro" / "journal.db"
    db.parent.mkdir()
    applied(workspace, "--journal", f"sqlite:///{db}")
    before = settled_bytes(db)
    read_only = f"sqlite:///file:{db}?mode=ro&uri=true"
    plan_and_status_read(workspace, read_only)
    drift = workspace.run("--journal", read_only, "drift", "--format", "json")
    assert drift.code == 0, drift.err
    gc.collect()
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert wal_bytes(db) == 0


def test_plan_and_status_read_a_chmod_0444_sqlite_journal(workspace: Workspace, tmp_path: Path) -> None:
    """The file's mode alone makes it read-only for any user but root (whom the bytes check covers)."""
    db = tmp_path / "ro" / "journal.db"
    db.parent.mkdir()
    applied(workspace, "--journal", f"sqlite:///{db}")
    before = settled_bytes(db)
    db.chmod(0o444)
    try:
        plan = workspace.run("--journal", f"sqlite:///{db}", "plan", "--detailed-exitcode")
        assert plan.code == 0, plan.out + plan.err
        status = workspace.run("--journal", f"sqlite:///{db}", "status")
        assert status.code == 0, status.out + status.err
        gc.collect()
        assert hashlib.sha256(db.read_bytes()).hexdigest() == before
        assert wal_bytes(db) == 0
    finally:
        db.chmod(0o644)


def test_a_read_only_sqlite_journal_is_refused_for_record(workspace: Workspace, tmp_path: Path) -> None:
    db = tmp_path / "ro" / "journal.db"
    db.parent.mkdir()
    applied(workspace, "--journal", f"sqlite:///{db}")
    before = settled_bytes(db)
    r = workspace.run("--journal", f"sqlite:///file:{db}?mode=ro&uri=true", "plan", "--record")
    assert r.code == 1, r.out + r.err
    assert "readonly database" in r.err
    assert "Internal error" not in r.err
    gc.collect()
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


# ---- either backend: nothing written without --record, observations with it --------------------------------


def test_plan_and_status_write_no_row_without_record(workspace: Workspace) -> None:
    applied(workspace)
    before = table_counts(workspace.journal_url)
    assert workspace.run("plan").code == 0
    assert workspace.run("plan", "--format", "json").code == 0
    assert workspace.run("status").code == 0
    assert workspace.run("drift").code == 0
    assert table_counts(workspace.journal_url) == before


def test_plan_record_journals_one_observation_per_account(workspace: Workspace) -> None:
    applied(workspace)
    before = observations(workspace.journal_url, "plan")
    r = workspace.run("plan", "--record")
    assert r.code == 0, r.err
    assert observations(workspace.journal_url, "plan") == before + ACCOUNTS


def test_status_record_journals_one_observation_per_account(workspace: Workspace) -> None:
    applied(workspace)
    r = workspace.run("status", "--record")
    assert r.code == 0, r.out + r.err
    assert observations(workspace.journal_url, "status") == ACCOUNTS


def test_apply_still_journals_its_observations(workspace: Workspace) -> None:
    applied(workspace)
    assert observations(workspace.journal_url, "plan") == ACCOUNTS  # apply's plan now, as before
    assert observations(workspace.journal_url, "apply") == ACCOUNTS


def test_paper_accounts_never_traded_are_planned_from_their_initial_books(workspace: Workspace) -> None:
    """No books exist before the first trade: the read-only plan reads the initial books from reconciler.yaml,
    and computes the same plan, hash included, as a plan that creates them."""
    Journal.open(workspace.journal_url).engine.dispose()  # the journal exists (created by another command)
    before = table_counts(workspace.journal_url)
    assert before["paper_accounts"] == 0
    read = workspace.run("plan", "--format", "json")
    assert read.code == 0, read.err
    assert table_counts(workspace.journal_url) == before
    recorded = workspace.run("plan", "--record", "--format", "json")
    assert recorded.code == 0, recorded.err
    assert table_counts(workspace.journal_url)["paper_accounts"] == ACCOUNTS  # created on observe, as ever
    assert timeless(json.loads(read.out)) == timeless(json.loads(recorded.out))


def test_the_same_plan_read_only_or_recorded(workspace: Workspace) -> None:
    applied(workspace)
    read = json.loads(workspace.run("plan", "--format", "json").out)
    recorded = json.loads(workspace.run("plan", "--record", "--format", "json").out)
    assert timeless(read) == timeless(recorded)


# ---- a SQLite journal that is not there yet reads as empty, and is not created -----------------------------


@pytest.mark.parametrize("command", ["plan", "status", "drift"])
def test_a_missing_journal_reads_as_empty_and_is_not_created(
    workspace: Workspace, tmp_path: Path, command: str
) -> None:
    """A fresh clone's first `plan`: the journal does not exist yet, so there is nothing in flight and no
    paper books; the command works as on an empty journal and leaves nothing on disk."""
    db = tmp_path / "new" / "journal.db"
    r = workspace.run("--journal", f"sqlite:///{db}", command)
    assert r.code in (0, 2), r.out + r.err
    assert "does not exist yet: read as an empty journal" in r.err
    assert not db.parent.exists()
    if command == "plan":
        fresh = workspace.run("plan", "--record", "--format", "json")
        r = workspace.run("--journal", f"sqlite:///{db}", "plan", "--format", "json")
        assert [p["actions"] for p in json.loads(r.out)["portfolios"]] == [
            p["actions"] for p in json.loads(fresh.out)["portfolios"]
        ]


@pytest.mark.parametrize("command", ["plan", "status", "apply"])
def test_in_ci_a_missing_journal_is_an_error(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """Reproduced: the observe secret was not mapped, the plan job fell back to the configuration's SQLite
    path and planned against an empty journal with only a warning. In CI that is an error, for reading and
    writing alike."""
    monkeypatch.setenv("CI", "true")
    db = tmp_path / "new" / "journal.db"
    args = ("--auto-approve",) if command == "apply" else ()
    r = workspace.run("--journal", f"sqlite:///{db}", command, *args)
    assert r.code == 1, r.out + r.err
    assert "does not exist (in CI, or with --require-journal, that is an error" in r.err
    assert "RECONCILER_JOURNAL_URL" in r.err
    assert not db.exists()


def test_require_journal_outside_ci(workspace: Workspace, tmp_path: Path) -> None:
    db = tmp_path / "new" / "journal.db"
    r = workspace.run("--journal", f"sqlite:///{db}", "plan", "--require-journal")
    assert r.code == 1, r.out + r.err
    assert "that is an error" in r.err


@pytest.mark.skipif(not PG_ADMIN_URL, reason="a blank PostgreSQL database: needs RECONCILER_TEST_PG_URL")
def test_in_ci_a_blank_database_is_an_error_to_read(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    r = workspace.run("--journal", fresh_journal_url(tmp_path), "plan")
    assert r.code == 1, r.out + r.err
    assert "that is an error" in r.err


def test_an_unmigrated_journal_is_refused_not_migrated(workspace: Workspace, tmp_path: Path) -> None:
    url = fresh_journal_url(tmp_path)  # an empty database (SQLite: created by the first connection below)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("create table unrelated (id integer)"))
    engine.dispose()
    for command in ("plan", "status"):
        r = workspace.run("--journal", url, command)
        assert r.code == 1, r.out + r.err
        assert "no reconciler schema yet" in r.err
        assert "reconciler plan --record" in r.err
    assert set(table_counts(url)) == {"unrelated"}
    r = workspace.run("--journal", url, "plan", "--record")  # the fix the message gives
    assert r.code == 0, r.err
    assert workspace.run("--journal", url, "plan").code == 0


def test_a_journal_at_an_older_revision_is_refused_not_migrated(workspace: Workspace) -> None:
    applied(workspace)
    workspace.execute("update alembic_version set version_num = '0002'")
    r = workspace.run("status")
    assert r.code == 1, r.out + r.err
    assert "schema revision 0002, older than" in r.err
    assert "reconciler plan --record" in r.err
    assert workspace.query("select version_num from alembic_version") == [("0002",)]


# ---- PostgreSQL: a role granted SELECT only ----------------------------------------------------------------


@contextmanager
def select_only_role(admin_url: str, database_url: str) -> Iterator[str]:
    """A login role that may read every table of the database and nothing else; dropped afterwards."""
    role = f"ro_{uuid.uuid4().hex[:10]}"
    owner = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD 'ro'"))
        conn.execute(text(f"GRANT CONNECT ON DATABASE \"{make_url(database_url).database}\" TO {role}"))
        conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
        conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"))
    try:
        yield make_url(database_url).set(username=role, password="ro").render_as_string(hide_password=False)
    finally:
        gc.collect()  # the in-process CLI's connections as this role
        with owner.connect() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
        owner.dispose()
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()


@pytest.mark.skipif(not PG_ADMIN_URL, reason="needs RECONCILER_TEST_PG_URL (an admin URL of a PostgreSQL"
                    " server)")
def test_plan_and_status_with_a_select_only_postgres_role(workspace: Workspace, tmp_path: Path) -> None:
    assert PG_ADMIN_URL is not None
    url = fresh_journal_url(tmp_path)
    applied(workspace, "--journal", url)
    before = table_counts(url)
    with select_only_role(PG_ADMIN_URL, url) as reader:
        plan_and_status_read(workspace, reader)
        record = workspace.run("--journal", reader, "plan", "--record")
        assert record.code == 1, record.out + record.err
        assert "permission denied" in record.err
        assert "Internal error" not in record.err
    assert table_counts(url) == before


@pytest.mark.skipif(not PG_ADMIN_URL, reason="needs RECONCILER_TEST_PG_URL (an admin URL of a PostgreSQL"
                    " server)")
def test_a_select_only_role_plans_a_new_postgres_database_as_an_empty_journal(
    workspace: Workspace, tmp_path: Path
) -> None:
    assert PG_ADMIN_URL is not None
    url = fresh_journal_url(tmp_path)  # a new, empty database: no apply has run yet
    with select_only_role(PG_ADMIN_URL, url) as reader:
        r = workspace.run("--journal", reader, "plan")
        assert r.code == 0, r.out + r.err
        assert "read as an empty journal" in r.err
        assert ":ro@" not in r.err  # the password is masked
    assert table_counts(url) == {}

