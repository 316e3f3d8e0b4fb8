"""Shared fixtures: a real workspace on disk (copied from the repository's examples), its journal, and the
CLI.

With RECONCILER_TEST_PG_URL set (an admin URL of a PostgreSQL server, as `.ci/run` provides), every journal
is a fresh PostgreSQL database instead of a SQLite file, so the whole suite runs on both backends.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from ruamel.yaml import YAML
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from reconciler.cli.main import main

REPO = Path(__file__).resolve().parent.parent

# CI runs the property tests on a fixed sequence of examples, so a merge is never decided by the luck of the
# draw; local runs (the default profile) keep exploring new random examples. HYPOTHESIS_PROFILE=ci in .ci/run.
# Neither has a per-example deadline: the suite shares its cores with PostgreSQL, emulators and subprocesses,
# and a property test is about what the code does, not how fast (speed is bench/'s, judged by same-run
# ratios).
settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None)
settings.register_profile("default", deadline=None)
# tools/mutate.py: the same examples for every mutant (no database replaying another mutant's failures), and
# no deadline, so a slow run on a busy machine never passes for a kill.
settings.register_profile("mutate", derandomize=True, database=None, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
PG_ADMIN_URL = os.environ.get("RECONCILER_TEST_PG_URL")
# The suite must pass on any date: with RECONCILER_TEST_CLOCK_SHIFT_DAYS=N every in-process clock (the system
# clock included) runs N days ahead of the machine's, ticking. `make test` uses it on its second run.
CLOCK_SHIFT_DAYS = int(os.environ.get("RECONCILER_TEST_CLOCK_SHIFT_DAYS", "0") or 0)


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """The redaction registry lives as long as the process: a CLI run. Tests run many in one process, so each
    starts with none registered."""
    yield
    from reconciler.secrets.redact import forget_all

    forget_all()


@pytest.fixture(autouse=True, scope="session")
def _not_in_ci() -> Iterator[None]:
    """CI=true makes a missing journal an error (the product's CI behaviour); the suite itself runs in CI, and
    its tests of a fresh clone's first plan must not depend on where they run. Tests of that rule set CI
    themselves. Session scope, so module- and class-scoped fixtures (a reference run, a shared emulator) never
    see it either: a function-scoped guard left them to inherit CI=true, and the CI run alone failed."""
    saved = os.environ.pop("CI", None)
    yield
    if saved is not None:
        os.environ["CI"] = saved


@pytest.fixture(autouse=True, scope="session")
def _clock_shift() -> Iterator[None]:
    if not CLOCK_SHIFT_DAYS:
        yield
        return
    import time_machine

    # Child processes (CLI runs, emulators, crash tests) move their clocks the same way at startup.
    here = str(Path(__file__).resolve().parent / "clockshift")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
    with time_machine.travel(datetime.now(UTC) + timedelta(days=CLOCK_SHIFT_DAYS), tick=True):
        yield


def backend_name() -> str:
    return "postgresql" if PG_ADMIN_URL else "sqlite"


def fresh_journal_url(tmp_path: Path) -> str:
    """A journal URL nobody else uses: a new SQLite file, or a new PostgreSQL database."""
    if not PG_ADMIN_URL:
        return f"sqlite:///{tmp_path / 'journal.db'}"
    name = f"rc_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    _pg_databases.append(name)
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


_pg_databases: list[str] = []


@pytest.fixture(autouse=True, scope="session")
def _drop_pg_databases() -> Iterator[None]:
    """Drop every database the run created, so repeated runs never pile thousands of them on the server."""
    yield
    if not PG_ADMIN_URL or not _pg_databases:
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in _pg_databases:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    _pg_databases.clear()


@pytest.fixture
def journal_url(tmp_path: Path) -> str:
    return fresh_journal_url(tmp_path)


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@dataclass
class Workspace:
    """A copy of the example repository in a temporary folder, with its own journal."""

    root: Path
    journal_url: str
    run: Callable[..., CliResult]

    @property
    def config(self) -> Path:
        return self.root / "reconciler.yaml"

    def query(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        engine = create_engine(self.journal_url)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(text(sql), params)]
        finally:
            engine.dispose()

    def execute(self, sql: str, **params: Any) -> None:
        engine = create_engine(self.journal_url)
        try:
            with engine.begin() as conn:
                conn.execute(text(sql), params)
        finally:
            engine.dispose()

    def journal_rows(self, *tables: str) -> int:
        """Rows in these journal tables (0 where the journal or the table does not exist yet)."""
        db = make_url(self.journal_url).database
        if self.journal_url.startswith("sqlite") and db and not Path(db).exists():
            return 0
        engine = create_engine(self.journal_url)
        try:
            with engine.connect() as conn:
                present = set(inspect(conn).get_table_names())
                return sum(int(conn.execute(text(f"select count(*) from {t}")).scalar_one()) for t in tables
                           if t in present)
        finally:
            engine.dispose()

    def paper_order_count(self) -> int:
        """Orders the paper broker received (its books live in the journal database)."""
        db = make_url(self.journal_url).database
        if self.journal_url.startswith("sqlite") and db and not Path(db).exists():
            return 0
        try:
            return int(self.query("select count(*) from paper_orders")[0][0])
        except Exception as exc:  # no journal yet, or no table yet: nothing was sent
            if "paper_orders" in str(exc) or "no such table" in str(exc) or "does not exist" in str(exc):
                return 0
            raise


def edit_yaml(path: Path, change: Callable[[Any], None]) -> None:
    """Round-trip edit of a YAML file, as a user would edit it."""
    yaml = YAML()
    doc = yaml.load(path.read_text())
    change(doc)
    with path.open("w") as fh:
        yaml.dump(doc, fh)


def copy_examples(tmp_path: Path) -> Path:
    """The example repository's configuration, portfolios and policies, copied to tmp_path/repo."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(REPO / "reconciler.yaml", root / "reconciler.yaml")
    shutil.copytree(REPO / "portfolios", root / "portfolios")
    shutil.copytree(REPO / "policies", root / "policies")
    return root


def journal_for(root: Path, tmp_path: Path) -> str:
    """The journal of a copied repository: its SQLite file, or a new PostgreSQL database written into its
    reconciler.yaml."""
    url = fresh_journal_url(tmp_path) if PG_ADMIN_URL else f"sqlite:///{root / '.reconciler' / 'journal.db'}"
    if PG_ADMIN_URL:
        edit_yaml(root / "reconciler.yaml", lambda d: d["journal"].__setitem__("url", url))
    return url


def runner(root: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """`reconciler ARGV` on a copied repository, in this process, with what it printed."""

    def run(*argv: str) -> CliResult:
        capsys.readouterr()
        code = main(["--config", str(root / "reconciler.yaml"), "--no-color", *argv])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def workspace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Workspace]:
    root = copy_examples(tmp_path)
    yield Workspace(root=root, journal_url=journal_for(root, tmp_path), run=runner(root, capsys))
