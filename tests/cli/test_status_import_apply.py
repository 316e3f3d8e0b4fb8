"""`status` (Locked, Unknown, exit codes), `import`, and the error paths of `apply --envelope`."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from sqlalchemy import create_engine, insert

from reconciler.journal import tables
from tests.conftest import Workspace, edit_yaml

REPO = Path(__file__).resolve().parents[2]


def test_status_before_and_after_apply(workspace: Workspace) -> None:
    r = workspace.run("status")
    assert r.code == 2
    assert r.out.count("OutOfSync") == 3
    assert "alice-ira: outside the bands" in r.out
    assert "VTI" in r.out
    assert workspace.run("apply", "--auto-approve").code == 0
    r = workspace.run("status", "--format", "json")
    assert r.code == 0, r.out
    doc = json.loads(r.out)
    assert doc["exit_code"] == 0
    assert doc["counts"]["Synced"] == 3
    row = doc["portfolios"][0]["rows"][0]
    assert set(row) >= {"symbol", "weight", "target", "drift", "band", "outside"}


def test_status_locked_while_an_apply_holds_the_account(workspace: Workspace) -> None:
    locks = getattr(tables, "locks", None)
    if locks is None:
        pytest.skip("this journal schema has no locks table")
    assert workspace.run("history").code == 0  # creates and migrates the journal
    engine = create_engine(workspace.journal_url)
    now = datetime.now(UTC)
    row = {
        "lock_id": "l-1", "account": "paper-ira", "holder": "ci-apply-42", "host": "runner", "pid": 1,
        "purpose": "apply", "acquired_at": now, "heartbeat_at": now, "expires_at": now + timedelta(minutes=5),
    }
    with engine.begin() as c:
        c.execute(insert(locks).values(**{k: v for k, v in row.items() if k in locks.c}))
    engine.dispose()
    r = workspace.run("status")
    alice = next(line for line in r.out.splitlines() if line.startswith("alice-ira"))
    assert "Locked" in alice
    assert "ci-apply-42" in alice
    assert r.code == 2  # the other two are still out of sync; Locked alone would be 0


def test_status_unknown_when_an_account_cannot_be_observed(workspace: Workspace) -> None:
    edit_yaml(workspace.config, lambda d: d["broker"]["prices"]["static"].pop("BNDX"))
    r = workspace.run("drift")
    assert r.code == 1  # an error dominates
    alice = next(line for line in r.out.splitlines() if line.startswith("alice-ira"))
    assert "Unknown" in alice
    assert "doubtful quote: BNDX: no quote" in r.out
    assert "bob-taxable" in r.out
    assert "OutOfSync" in r.out  # the others are still measured


def test_status_with_a_broken_portfolio_file_says_unknown_for_it(workspace: Workspace) -> None:
    (workspace.root / "portfolios" / "alice-ira.yaml").write_text("kind: Portfolio\n")
    r = workspace.run("status")
    assert r.code == 1
    assert "Traceback" not in r.err
    line = next(row for row in r.out.splitlines() if row.startswith("alice-ira.yaml"))
    assert "Unknown" in line
    assert any(row.startswith("bob-taxable") for row in r.out.splitlines())  # the others are still measured


def test_status_with_a_broken_config_is_an_error(workspace: Workspace) -> None:
    workspace.config.write_text("kind: Config\n")
    r = workspace.run("status")
    assert r.code == 1
    assert "reconciler.yaml" in r.err
    assert "Traceback" not in r.err


def test_import_writes_todays_holdings_and_plans_nothing(workspace: Workspace) -> None:
    for f in (workspace.root / "portfolios").glob("*.yaml"):
        f.unlink()
    shutil.rmtree(workspace.root / "portfolios" / "models")
    (workspace.root / "docs").mkdir()
    shutil.copy(REPO / "docs" / "portfolio.schema.json", workspace.root / "docs")
    r = workspace.run("import", "paper-taxable")
    assert r.code == 0, r.err
    path = workspace.root / "portfolios" / "paper-taxable.yaml"
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=../docs/portfolio.schema.json\n")
    doc = YAML(typ="safe").load(text)
    assert doc["spec"]["account"] == "paper-taxable"
    assert set(doc["spec"]["targets"]) == {"VTI", "VXUS", "BND", "AAPL", "GLD"}
    assert workspace.run("validate").code == 0
    r = workspace.run("plan", "--detailed-exitcode")
    assert r.code == 0, r.out  # the account already matches what was imported
    assert workspace.run("fmt", "--check").code == 0


def test_import_refusals(workspace: Workspace) -> None:
    r = workspace.run("import", "nope")
    assert r.code == 1
    assert "unknown account 'nope'" in r.err
    assert "paper-ira" in r.err
    r = workspace.run("import", "paper-ira")
    assert r.code == 1
    assert "already managed by portfolio 'alice-ira'" in r.err
    r = workspace.run("import", "paper-ira", "--out", "-")
    assert r.code == 1
    assert "holds only cash" in r.err  # the seed of paper-ira is cash
    r = workspace.run("import", "paper-taxable", "--out", "-", "--step", "abc")
    assert r.code == 1
    assert "--step 'abc' must be a number above 0" in r.err
    r = workspace.run("import", "paper-taxable", "--out", "-", "--name", "Bad Name")
    assert r.code == 1
    assert "not valid" in r.err
    r = workspace.run(
        "import", "paper-taxable", "--out", str(workspace.root / "portfolios" / "bob-taxable.yaml")
    )
    assert r.code == 1
    assert "already managed" in r.err


def test_import_to_stdout(workspace: Workspace) -> None:
    r = workspace.run("import", "paper-taxable", "--out", "-", "--name", "bob-now", "--step", "0.01")
    assert r.code == 0, r.err
    doc = YAML(typ="safe").load(r.out)
    assert doc["metadata"]["name"] == "bob-now"
    from decimal import Decimal

    total = sum(Decimal(str(w)) for w in doc["spec"]["targets"].values()) + Decimal(str(doc["spec"]["cash"]))
    assert total == 1


# ---- apply --envelope: bad input never sends anything ----

def test_apply_envelope_refuses_bad_files(workspace: Workspace, tmp_path: Path) -> None:
    r = workspace.run("apply", "--envelope", str(tmp_path / "missing.json"), "--auto-approve")
    assert r.code == 1
    assert "plan file not found" in r.err
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    r = workspace.run("apply", "--envelope", str(bad), "--auto-approve")
    assert r.code == 1
    assert "not a JSON object" in r.err
    plan = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan)).code == 0
    data = json.loads(plan.read_text())
    data["portfolios"][0]["actions"][0]["quantity"] = "999999"
    plan.write_text(json.dumps(data))
    r = workspace.run("apply", "--envelope", str(plan), "--auto-approve")
    assert r.code == 1
    assert "does not match its hash" in r.err
    r = workspace.run("apply", str(plan), "--envelope", str(plan))
    assert r.code == 1
    assert "not both" in r.err
    assert workspace.paper_order_count() == 0
    assert "Traceback" not in r.err


def test_apply_envelope_outside_git_and_summary(workspace: Workspace, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan)).code == 0
    summary = tmp_path / "summary.md"
    r = workspace.run("apply", "--envelope", str(plan), "--auto-approve", "--summary-file", str(summary))
    assert r.code == 0, r.err
    text = summary.read_text()
    assert text.startswith("## reconciler apply: succeeded")
    assert "| reviewed plan |" in text
    assert "| leg | portfolio | side |" in text
    assert "filled" in text
    # Outside a git repository there is no commit to apply once: the next run re-plans, and finds nothing to
    # do.
    r = workspace.run("apply", "--envelope", str(plan), "--auto-approve", "--summary-file", str(summary))
    assert r.code == 0
    assert "Nothing to do" in r.out
    assert "## reconciler apply: nothing to do" in summary.read_text()


def test_apply_envelope_with_other_targets_refuses(workspace: Workspace, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan)).code == 0
    edit_yaml(workspace.root / "portfolios" / "college-fund.yaml",
              lambda d: d["spec"]["targets"].update({"VTI": 0.6, "BND": 0.4}))
    summary = tmp_path / "summary.md"
    r = workspace.run("apply", "--envelope", str(plan), "--auto-approve", "--summary-file", str(summary))
    assert r.code == 1
    assert "targets at this commit differ" in r.err
    assert workspace.paper_order_count() == 0
    assert "## reconciler apply: refused" in summary.read_text()


def test_plan_markdown_shows_target_changes_and_envelope(workspace: Workspace) -> None:
    r = workspace.run("plan", "--format", "markdown")
    assert r.code == 0
    assert "applied only within the *envelope* approved here" in r.out
    assert "±10.0%" in r.out


def test_import_is_a_library_call(workspace: Workspace) -> None:
    """The ownership and overwrite rules of `import`, without the CLI."""
    from decimal import Decimal

    import pytest

    from reconciler.errors import ReconcilerError
    from reconciler.execution.importing import import_portfolio
    from reconciler.runtime import Runtime

    rt = Runtime(workspace.config, workspace.journal_url)
    printed = import_portfolio(
        rt, "paper-taxable", name="bob-copy", out="-", step=Decimal("0.0001"), force=False
    )
    assert printed.path is None
    assert "account: paper-taxable" in printed.text
    with pytest.raises(ReconcilerError) as managed:
        import_portfolio(rt, "paper-taxable", name="bob-copy", out=None, step=Decimal("0.0001"), force=False)
    assert "already managed by portfolio 'bob-taxable'" in managed.value.message
    with pytest.raises(ReconcilerError) as unknown:
        import_portfolio(rt, "nobody", name=None, out="-", step=Decimal("0.0001"), force=False)
    assert "unknown account 'nobody'" in unknown.value.message
    own = workspace.root / "portfolios" / "bob-taxable.yaml"
    rewritten = import_portfolio(
        rt, "paper-taxable", name="bob-taxable", out=str(own), step=Decimal("0.0001"), force=True
    )
    assert rewritten.path == own
    assert own.read_text() == rewritten.text
    assert workspace.paper_order_count() == 0
