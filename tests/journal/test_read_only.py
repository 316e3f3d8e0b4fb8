"""Journal.open(write=False): checks the schema is current without creating or migrating anything, and the
database refuses every write made through it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text

from reconciler.errors import JournalError
from reconciler.journal.database import HEAD_REVISION
from reconciler.journal.reports import history
from reconciler.journal.store import Journal
from tests.builders import observation
from tests.conftest import fresh_journal_url

OBSERVATION = observation(settled=100, taken_at=datetime(2026, 1, 5, 15, tzinfo=UTC))


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_a_missing_sqlite_file_reads_as_an_empty_journal_and_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / ".reconciler" / "journal.db"
    journal = Journal.open(f"sqlite:///{db}", "--journal", write=False)
    assert not journal.writable
    assert history(journal) == []
    assert journal.unknown_intents_by_account() == {}
    assert not db.parent.exists()  # not even the folder a writing open would create


def test_a_blank_database_reads_as_an_empty_journal_and_is_left_blank(tmp_path: Path) -> None:
    url = fresh_journal_url(tmp_path)
    create_engine(url).connect().close()  # SQLite: an empty file; PostgreSQL: the new database as it is
    journal = Journal.open(url, write=False)
    assert not journal.writable
    assert history(journal) == []
    assert _tables(url) == set()


def test_a_database_with_other_tables_but_no_schema_is_refused(tmp_path: Path) -> None:
    url = fresh_journal_url(tmp_path)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("create table unrelated (id integer)"))
    engine.dispose()
    with pytest.raises(JournalError) as caught:
        Journal.open(url, write=False)
    assert "has no reconciler schema yet" in caught.value.message
    assert _tables(url) == {"unrelated"}


def _at_revision(tmp_path: Path, revision: str) -> tuple[str, Engine]:
    """A current journal whose recorded schema revision is then set to `revision`."""
    url = fresh_journal_url(tmp_path)
    Journal.open(url).engine.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("update alembic_version set version_num = :r"), {"r": revision})
    return url, engine


def test_an_older_revision_is_refused_and_not_migrated(tmp_path: Path) -> None:
    url, engine = _at_revision(tmp_path, "0001")
    with pytest.raises(JournalError) as caught:
        Journal.open(url, write=False)
    assert f"schema revision 0001, older than this reconciler's {HEAD_REVISION}" in caught.value.message
    with engine.connect() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalar() == "0001"
    engine.dispose()


def test_a_newer_revision_is_refused_as_from_a_newer_reconciler(tmp_path: Path) -> None:
    url, engine = _at_revision(tmp_path, "0099")
    engine.dispose()
    with pytest.raises(JournalError) as caught:
        Journal.open(url, write=False)
    assert "newer reconciler" in caught.value.message


def test_a_current_journal_reads_and_refuses_writes(tmp_path: Path) -> None:
    url = fresh_journal_url(tmp_path)
    writer = Journal.open(url)
    writer.record_observation(OBSERVATION, "plan")
    reader = Journal.open(url, write=False)
    assert not reader.writable
    assert writer.writable
    last = reader.last_observation("acct")
    assert last is not None
    assert last["purpose"] == "plan"
    with pytest.raises(JournalError):  # the database itself refuses: SQLite query_only, a read-only session
        reader.record_observation(OBSERVATION, "status")
    with pytest.raises(JournalError):
        reader.check_writable()
    with writer.engine.connect() as conn:
        assert conn.execute(text("select count(*) from observations")).scalar() == 1
    reader.engine.dispose()
    writer.engine.dispose()
