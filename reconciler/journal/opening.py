"""Opening a journal's database: created or migrated for writing, checked for reading, an empty stand-in for
one that does not exist yet (outside CI), and the check that it can record before anything is sent."""

from __future__ import annotations

import logging

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DatabaseError, SQLAlchemyError

from reconciler.errors import JournalError
from reconciler.journal.database import (
    MissingJournal,
    check_complete,
    check_current,
    create_journal_engine,
    is_blank,
    migrate,
    safe_url,
    shown,
)

log = logging.getLogger("reconciler.journal")


def open_engine(url: str, where: str, *, write: bool, must_exist: bool) -> tuple[Engine, bool]:
    """The journal's engine and whether it may be written (Journal.open says when each case applies)."""
    try:
        engine = create_journal_engine(url, where, write=write, must_exist=must_exist)
    except MissingJournal as exc:
        if must_exist:
            raise missing_in_ci(url, where) from None
        if write:
            raise exc from None
        return empty_stand_in(url), False
    try:
        if write:
            migrate(engine)
        # a new, empty database: nothing recorded yet, as for a missing SQLite file
        elif is_blank(engine):
            engine.dispose()
            if must_exist:
                raise missing_in_ci(url, where)
            return empty_stand_in(url), False
        else:
            check_current(engine)
        check_complete(engine)
    except JournalError as exc:
        exc.where = exc.where or where
        raise
    except DatabaseError as exc:  # unreachable, refused, or a file that is not a database
        raise JournalError(
            f"cannot open journal {safe_url(url)}: {exc.orig}",
            where=where,
            fix="check that the database exists, is reachable and writable" if write else
            "check that the database exists and is reachable, and that this credential may read it (a"
            " SQLite journal in WAL mode also needs its -shm file, or a folder SQLite may create it in)",
        ) from None
    return engine, write


def empty_stand_in(url: str) -> Engine:
    """A read-only command on a journal that does not exist yet (a fresh clone's SQLite file, a PostgreSQL
    database just created, before the first apply): an empty journal in memory stands in for it, so the
    first `plan` works and creates nothing. Empty is what the journal would hold: no applies, no intents
    in flight, no paper books yet."""
    from sqlalchemy.pool import StaticPool

    log.warning(
        "journal %s does not exist yet: read as an empty journal (nothing was created; the first apply or"
        " `plan --record` creates it)", safe_url(url),
    )
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    migrate(engine)
    return engine


def check_writable(engine: Engine) -> None:
    """Fail before the first broker call if the journal cannot record: every order is written before it is
    sent, so an apply on a read-only journal would otherwise stop after its first order left."""
    url = shown(engine)
    try:
        with engine.connect() as conn:
            probe = conn.begin()
            # a write that changes nothing, rolled back: refused by a read-only file or role all the same
            try:
                conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
            finally:
                probe.rollback()
    except SQLAlchemyError as exc:
        raise JournalError(
            f"journal {url} cannot be written ({getattr(exc, 'orig', None) or exc}); every order is"
            " journaled"
            " before it is sent, so nothing was sent",
            fix="apply with a journal this process can write (file permissions, or a role with INSERT and"
            " UPDATE)",
        ) from None


def missing_in_ci(url: str, where: str) -> JournalError:
    """In CI a journal that does not exist is a misconfiguration (most often a secret not mapped to the step,
    which leaves the configuration's SQLite path), never an empty journal to plan or apply against."""
    return JournalError(
        f"journal {safe_url(url)} does not exist (in CI, or with --require-journal, that is an error:"
        " planning or"
        " applying against an empty journal would ignore every order in flight)", where=where,
        fix="map the journal secret to this step (env: RECONCILER_JOURNAL_URL: ${{"
        " secrets.RECONCILER_JOURNAL_URL }}) and check the environment holds it; a new journal is created"
        " once outside CI (`reconciler plan --record` with a credential that may write)",
    )
