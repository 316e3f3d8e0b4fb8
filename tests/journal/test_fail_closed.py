"""A journal that cannot be trusted is refused before the first broker call, with what is wrong and the
fix."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from reconciler.journal.database import HEAD_REVISION
from tests.conftest import PG_ADMIN_URL, Workspace, fresh_journal_url


def _plan(ws: Workspace, tmp_path: Path) -> Path:
    plan_file = tmp_path / "plan.json"
    assert ws.run("plan", "--record", "--out", str(plan_file)).code == 0  # --record: creates the journal
    return plan_file


def test_a_journal_from_a_newer_reconciler_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    plan_file = _plan(workspace, tmp_path)
    workspace.execute("update alembic_version set version_num = '0099'")
    for argv in (("apply", str(plan_file), "--auto-approve"), ("history",)):
        r = workspace.run(*argv)
        assert r.code == 1, r.out + r.err
        assert "schema revision '0099'" in r.err
        assert "newer reconciler" in r.err
        assert "Internal error" not in r.err
    assert workspace.paper_order_count() == 0


def test_a_journal_missing_a_table_is_refused_before_any_order(workspace: Workspace, tmp_path: Path) -> None:
    plan_file = _plan(workspace, tmp_path)
    workspace.execute("drop table fills")
    r = workspace.run("apply", str(plan_file), "--auto-approve")
    assert r.code == 1
    assert "table fills is missing" in r.err
    assert "restore the journal" in r.err
    assert workspace.paper_order_count() == 0


def _read_only_url(ws: Workspace) -> str:
    """The workspace's journal, opened so that it can be read but not written: a SQLite file in mode=ro, or a
    PostgreSQL role granted SELECT only."""
    if PG_ADMIN_URL is None:
        return f"sqlite:///file:{ws.root / '.reconciler' / 'journal.db'}?mode=ro&uri=true"
    role = f"ro_{uuid.uuid4().hex[:10]}"
    ws.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'ro'")
    ws.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    ws.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    return make_url(ws.journal_url).set(username=role, password="ro").render_as_string(hide_password=False)


def test_a_read_only_journal_is_refused_before_any_order(workspace: Workspace, tmp_path: Path) -> None:
    plan_file = _plan(workspace, tmp_path)
    r = workspace.run("--journal", _read_only_url(workspace), "apply", str(plan_file), "--auto-approve")
    assert r.code == 1, r.out + r.err
    assert "cannot be written" in r.err
    assert "nothing was sent" in r.err
    assert "SET version_num" not in r.err  # the driver's message, not SQLAlchemy's SQL dump
    assert workspace.paper_order_count() == 0


def test_first_opens_of_a_new_journal_migrate_one_at_a_time(tmp_path: Path) -> None:
    url = fresh_journal_url(tmp_path)
    code = ("import sys\nfrom reconciler.journal.store import"
            " Journal\nJournal.open(sys.argv[1])\nprint('ok')\n")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [err for _, err in results]
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalar() == HEAD_REVISION
    engine.dispose()


def test_read_and_repair_commands_work_while_a_portfolio_file_is_broken(workspace: Workspace) -> None:
    assert workspace.run("apply", "--auto-approve").code == 0
    (workspace.root / "portfolios" / "college-fund.yaml").write_text("spec: [unclosed\n")
    assert workspace.run("validate").code == 1  # the file is broken...
    history = workspace.run("history")
    assert history.code == 0, history.err  # ...and the journal can still be read
    apply_id = workspace.query("select id from applies")[0][0]
    assert workspace.run("show", apply_id[:8]).code == 0
    r = workspace.run("reconcile")
    assert r.code == 0, r.err
    assert "paper-college: journal and broker agree" in r.out
    r = workspace.run("force-unlock", "--list")
    assert r.code == 0, r.err
    r = workspace.run("status")
    assert r.code == 1, r.out + r.err  # Unknown dominates: something could not be judged
    broken = next(line for line in r.out.splitlines() if line.startswith("college-fund.yaml"))
    assert "Unknown" in broken
    assert "invalid file" in broken
    assert any(line.startswith("alice-ira") and "Synced" in line for line in r.out.splitlines()), r.out
