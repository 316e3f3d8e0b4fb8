"""The Alembic migrations and the SQLAlchemy tables describe the same schema, and upgrades are idempotent."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from reconciler.journal.database import HEAD_REVISION, create_journal_engine, migrate
from reconciler.journal.store import Journal
from reconciler.journal.tables import metadata


def test_fresh_database_is_migrated_to_head(tmp_path: Path) -> None:
    journal = Journal.open(f"sqlite:///{tmp_path / 'j.db'}")
    with journal.engine.connect() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalar() == HEAD_REVISION
        tables = set(inspect(conn).get_table_names())
    assert {"applies", "intents", "orders", "fills", "observations", "policy_decisions", "events"} <= tables


def test_migrations_match_the_table_definitions(tmp_path: Path) -> None:
    engine = create_journal_engine(f"sqlite:///{tmp_path / 'j.db'}")
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_migrate_twice_is_a_no_op(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    Journal.open(url)
    Journal.open(url)
    engine = create_journal_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from alembic_version")).scalar() == 1


def test_journal_url_password_never_shown(tmp_path: Path) -> None:
    from reconciler.errors import JournalError

    try:
        Journal.open("postgresql+nosuchdriver://user:s3cr3t-canary@127.0.0.1:1/db")
    except JournalError as exc:
        assert "s3cr3t-canary" not in exc.render()
    else:  # pragma: no cover - the driver does not exist
        raise AssertionError("expected a JournalError")
