"""The journal's database: opening it (writable, or read-only at the database level), creating and migrating
its schema with Alembic, and checking it is complete. `store.Journal` reads and writes the rows."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from reconciler.errors import JournalError

# defined with every other error; importable here too
from reconciler.errors import MissingJournal as MissingJournal
from reconciler.journal import tables as t

# Every schema revision this version knows, oldest first (the files under migrations/versions/).
REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007")
HEAD_REVISION = REVISIONS[-1]
MIGRATION_LOCK_KEY = 0x7265636F6E63696C  # pg_advisory_xact_lock key while migrating ("reconcil")


def as_utc(ts: datetime) -> datetime:
    """A timestamp read back from the journal: SQLite returns it without its zone, which is always UTC."""
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def upsert(
    c: Connection, table: Table, keys: dict[str, Any], values: dict[str, Any], **on_insert: Any
) -> None:
    """Insert the row `keys` + `values` (+ `on_insert`), or update its `values` when `keys` exist: one
    statement (INSERT … ON CONFLICT DO UPDATE, which SQLite and PostgreSQL both speak) instead of an update
    and an insert."""
    shape = (c.dialect.name, table.name, tuple(keys), tuple(values), tuple(on_insert))
    statement = _UPSERTS.get(shape)
    if statement is None:
        dialect = postgresql if c.dialect.name == "postgresql" else sqlite
        built = dialect.insert(table)
        statement = _UPSERTS[shape] = built.on_conflict_do_update(
            index_elements=list(keys), set_={name: built.excluded[name] for name in values}
        )
    c.execute(statement, {**keys, **values, **on_insert})


# Built once per shape: a statement built per call costs more than running it (journal/store.py).
_UPSERTS: dict[tuple[str, str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], Any] = {}


# The connection a thread's `grouped` block holds, per engine: every `begin` of that thread on that engine
# joins it.
_held = threading.local()


@contextmanager
def begin(engine: Engine, *, sync: bool = True, single: bool = False) -> Iterator[Connection]:
    """A transaction on the journal's database, the one way the journal and the paper broker's books open one:
    its own, committed at the end of the block; or, inside a `grouped` block of this thread, a savepoint of
    the group's transaction (atomic as before, rolled back alone on an error), committed with the group.

    With single=True the block reads only, or writes with a single statement: inside a group on SQLite it
    joins the group's transaction without a savepoint, since SQLite undoes a failed statement by itself and
    the transaction goes on (a savepoint around one statement would roll back nothing more; two statements
    saved per piece). PostgreSQL keeps the savepoint: there a failed statement aborts the whole transaction
    unless a savepoint holds it.

    With sync=False its commit is not waited onto the disk: it becomes durable with the next synced commit of
    the database (SQLite's WAL and PostgreSQL's WAL are written in order, so a synced commit carries every
    earlier one), and only a power cut or an operating-system crash before then loses it, never a killed
    process. Only for what the crash protocol can rebuild: the broker's answer about an order
    (store.Journal.record_state); or what such a crash makes moot or derives again: a lock row and its lease
    (its holder dies with it, journal/leases.py), the paper broker's opening books and settled proceeds
    (brokers/paper.py observe)."""
    held: dict[Engine, Connection] = getattr(_held, "connections", {})
    conn = held.get(engine)
    if conn is not None:
        if single and engine.dialect.name == "sqlite":
            yield conn
        else:
            with _savepoint(conn):
                yield conn
        return
    if sync:
        with engine.begin() as own:
            yield own
        return
    with engine.connect() as own:
        lite = engine.dialect.name == "sqlite"
        # SQLite's setting is the connection's (set back below); PostgreSQL's SET LOCAL ends with the
        # transaction.
        own.exec_driver_sql("PRAGMA synchronous=NORMAL" if lite else "SET LOCAL synchronous_commit TO OFF")
        try:
            yield own
            own.commit()
        finally:
            own.rollback()
            if lite:
                own.exec_driver_sql("PRAGMA synchronous=FULL")
                own.commit()


_depth = threading.local()  # savepoints open on this thread: each nested one gets its own name


@contextmanager
def _savepoint(conn: Connection) -> Iterator[None]:
    """A savepoint of the group's transaction, released at the end of the block or rolled back to on an error.
    Written as the driver's SQL: SQLAlchemy's begin_nested compiles its SAVEPOINT and RELEASE anew every time
    (they are not cached), which cost more than the statements they wrap (a paper order's three pieces)."""
    depth = getattr(_depth, "n", 0)
    name = f"rc_piece_{depth}"
    conn.exec_driver_sql(f"SAVEPOINT {name}")
    _depth.n = depth + 1
    try:
        yield
    except BaseException:
        # The piece's error is what the caller must see, not a second one from a connection already gone.
        with suppress(Exception):
            conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {name}")
            conn.exec_driver_sql(f"RELEASE SAVEPOINT {name}")
        raise
    else:
        conn.exec_driver_sql(f"RELEASE SAVEPOINT {name}")
    finally:
        _depth.n = depth


@contextmanager
def grouped(engine: Engine) -> Iterator[None]:
    """Every transaction this thread opens on `engine` within the block is one: a single commit (one sync to
    disk) at its end, kept whether the block ends normally or by an exception (each piece is a savepoint,
    whole or rolled back); only a crash, where nothing of the block survives, undoes it. On SQLite the write
    lock is taken at the start (BEGIN IMMEDIATE): a group that began by reading could not upgrade once another
    process wrote. Safe only where nothing in the block reaches outside this database (execution.executor says
    where)."""
    held: dict[Engine, Connection] = _held.__dict__.setdefault("connections", {})
    if engine in held:  # a group inside a group is part of it
        yield
        return
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.begin()
        held[engine] = conn
        try:
            yield
        finally:
            del held[engine]
            conn.commit()


def safe_url(url: str) -> str:
    """The URL with any password masked: journal URLs may carry credentials and are printed in errors."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable journal URL>"


# What to do about a journal that a read-only open finds missing, unmigrated or at an old revision.
CREATE_OR_MIGRATE_FIX = (
    "create or migrate it once with a command that writes, using a credential that may write: `reconciler"
    " plan --record` (or `reconciler apply`); `plan` and `status` without --record only read the journal"
)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # every commit synced to disk (the default), but where begin() says
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_read_only(dbapi_conn: Any, _record: Any) -> None:
    # No journal_mode: switching a file to WAL is a write. query_only makes SQLite itself refuse any write, so
    # a read-only command that tried one would fail loudly instead of changing the journal.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA query_only=ON")
    cur.close()


def _postgres_read_only(dbapi_conn: Any, _record: Any) -> None:
    # Every transaction of the session read-only: the server refuses any write, whatever the role may do.
    cur = dbapi_conn.cursor()
    cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    cur.close()
    dbapi_conn.commit()


def create_journal_engine(
    url: str, where: str = "journal.url", *, write: bool = True, must_exist: bool = False
) -> Engine:
    """An engine on the journal. With write=False nothing is created (no folder, no file) and the database
    itself refuses writes on every connection; with must_exist (CI) a SQLite file is never created either."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise JournalError(
            "journal URL is not a database URL",
            where=where,
            fix="use sqlite:///path/to/journal.db or postgresql+psycopg://user@host/db",
        ) from None
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if not db or db == ":memory:" or db.startswith("file::memory:"):
            raise JournalError(
                "an in-memory journal forgets every intent, order and fill when the command ends",
                where=where, fix="give the journal a file: sqlite:///.reconciler/journal.db",
            )
        # A URI filename (`sqlite:///file:PATH?mode=ro&uri=true`, e.g. a read-only journal) names its file
        # after `file:`; its folder must exist already.
        path = Path(db.removeprefix("file:"))
        if (not write or must_exist) and not path.is_file():  # connecting would create an empty file
            raise MissingJournal(
                f"journal {safe_url(url)} does not exist yet", where=where, fix=CREATE_OR_MIGRATE_FIX
            )
        folder = path.parent
        # The journal's own folder (`.reconciler/`) is created; a path whose parent is missing too is most
        # likely a typo, and a typo must not start a fresh, empty journal (and fresh paper accounts).
        if not folder.is_dir():
            if not folder.parent.is_dir():
                raise JournalError(
                    f"the folder of the journal file does not exist: {folder}", where=where,
                    fix="check the path, or create the folder first",
                )
            folder.mkdir()
    try:
        engine = create_engine(url)
    except (ArgumentError, ImportError) as exc:
        raise JournalError(
            f"cannot use journal {safe_url(url)}: {exc}", where=where, fix="check the URL and its driver"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas if write else _sqlite_read_only)
    elif parsed.get_backend_name() == "postgresql" and not write:
        event.listen(engine, "connect", _postgres_read_only)
    return engine


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    value = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if value is None else str(value)


def shown(engine: Engine) -> str:
    """The journal's URL as it may be printed: password masked."""
    return engine.url.render_as_string(hide_password=True)


def _check_known(revision: str | None, engine: Engine) -> None:
    if revision is not None and revision not in REVISIONS:
        raise JournalError(
            f"journal {shown(engine)} has schema revision {revision!r}, which this reconciler does not know"
            f" (it knows up to {HEAD_REVISION}): it was written by a newer reconciler",
            fix="upgrade reconciler (pip install -U reconciler) to the version that wrote this journal;"
            " nothing was sent",
        )


@contextmanager
def _file_lock(engine: Engine) -> Iterator[None]:
    """One migrating process per SQLite file (PostgreSQL uses an advisory lock inside the transaction)."""
    db = engine.url.database
    if engine.dialect.name != "sqlite" or not db:
        yield
        return
    import fcntl

    with open(db.removeprefix("file:") + ".migrate-lock", "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def migrate(engine: Engine) -> None:
    """Bring the schema to head with Alembic, one process at a time (several first applies may start together
    on a brand-new journal); a journal already at head skips Alembic entirely (fast start). A journal at a
    revision this version does not know is refused before anything else happens."""
    with engine.connect() as conn:
        current = _revision(conn)
    _check_known(current, engine)
    if current == HEAD_REVISION:
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with _file_lock(engine), engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        current = _revision(conn)  # another process may have migrated while this one waited
        _check_known(current, engine)
        if current == HEAD_REVISION:
            return
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def is_blank(engine: Engine) -> bool:
    """A database with no table at all (a PostgreSQL database just created, an empty SQLite file)."""
    with engine.connect() as conn:
        return not inspect(conn).get_table_names()


def check_current(engine: Engine) -> None:
    """The schema is at this version's head already: what a read-only open requires, since it never
    migrates."""
    with engine.connect() as conn:
        current = _revision(conn)
    _check_known(current, engine)
    if current == HEAD_REVISION:
        return
    state = (
        "has no reconciler schema yet" if current is None
        else f"is at schema revision {current}, older than this reconciler's {HEAD_REVISION}"
    )
    raise JournalError(
        f"journal {shown(engine)} {state}; reading it would need creating or migrating it, which a read-only"
        " open"
        " never does", fix=CREATE_OR_MIGRATE_FIX,
    )


def check_complete(engine: Engine) -> None:
    """Every table and column this version uses is there: a journal with a table dropped or damaged is refused
    before the first broker call, not half-way through an apply."""
    with engine.connect() as conn:
        found = inspect(conn)
        names = set(found.get_table_names())
        for table in t.metadata.sorted_tables:
            if table.name not in names:
                raise JournalError(
                    f"journal {shown(engine)} is incomplete: table {table.name} is missing",
                    fix="restore the journal from a backup (its tables are never dropped by reconciler);"
                    " nothing was sent",
                )
            columns = {c["name"] for c in found.get_columns(table.name)}
            missing = sorted(c.name for c in table.columns if c.name not in columns)
            if missing:
                raise JournalError(
                    f"journal {shown(engine)} is incomplete: table {table.name} lacks {', '.join(missing)}",
                    fix="restore the journal from a backup; nothing was sent",
                )
