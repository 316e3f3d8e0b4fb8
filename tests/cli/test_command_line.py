"""The command line itself: usage errors exit 1 (2 means "changes"), ids and limits are checked, and numbers in
YAML are read exactly as written."""

from __future__ import annotations

import pytest

from reconciler.cli.main import main
from tests.conftest import Workspace


@pytest.mark.parametrize(
    "argv",
    [["plan", "--detailed-exitcode", "--bogus"], ["status", "--format", "yaml"], ["history", "--limit", "0"],
     ["history", "--limit", "x"], ["nosuchcommand"]],
)
def test_a_usage_error_exits_1_never_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 1
    assert "error:" in capsys.readouterr().err


def test_an_empty_journal_url_is_an_error(workspace: Workspace) -> None:
    r = workspace.run("--journal", "", "history")
    assert r.code == 1 and "--journal is empty" in r.err


def test_show_says_when_a_prefix_is_ambiguous(workspace: Workspace) -> None:
    assert workspace.run("history").code == 0  # creates the journal
    ids = [f"{n:x}0000000-0000-4000-8000-000000000000" for n in (10, 10, 11)]
    ids[1] = "a1" + ids[1][2:]
    for apply_id in ids:
        workspace.execute(
            "insert into applies (id, plan_hash, targets_hash, actor, status, started_at)"
            " values (:id, 'p', 't', 'test', 'succeeded', CURRENT_TIMESTAMP)", id=apply_id,
        )
    r = workspace.run("show", "a")
    assert r.code == 1 and "ambiguous" in r.err and "a0000000" in r.err and "a1000000" in r.err, r.err
    assert workspace.run("show", "a1").code == 0
    r = workspace.run("show", "ff")
    assert r.code == 1 and "no apply id starts with 'ff'" in r.err


def test_weights_are_read_exactly_as_written(workspace: Workspace) -> None:
    # 0.12345678901234567 + 0.87654321098765433 is exactly 1; through a binary float it is not.
    path = workspace.root / "portfolios" / "college-fund.yaml"
    path.write_text(
        "apiVersion: reconciler.dev/v1\nkind: Portfolio\nmetadata: {name: college-fund}\n"
        "spec:\n  account: paper-college\n  targets: {VTI: 0.12345678901234567, BND: 0.87654321098765433}\n"
    )
    r = workspace.run("validate")
    assert r.code == 0, r.out + r.err


def test_a_closed_output_pipe_stops_with_a_word_not_a_traceback(workspace: Workspace) -> None:
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line (`reconciler ... | head -0`)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "reconciler.cli.main", "--config", str(workspace.config), "--no-color",
             "validate"],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr
    assert "stopped: the output pipe closed." in done.stderr and "Traceback" not in done.stderr


def test_validate_names_a_missing_kind_and_the_other_files_account_line(workspace: Workspace) -> None:
    folder = workspace.root / "portfolios"
    (folder / "nokind.yaml").write_text("apiVersion: reconciler.dev/v1\nmetadata: {name: x}\nspec: {}\n")
    r = workspace.run("validate")
    assert r.code == 1 and "nokind.yaml:1:1: field kind: missing" in r.err, r.err
    (folder / "nokind.yaml").unlink()
    alice = (folder / "alice-ira.yaml").read_text()
    line = next(n for n, text in enumerate(alice.splitlines(), start=1) if text.strip().startswith("account:"))
    (folder / "twin.yaml").write_text(alice.replace("name: alice-ira", "name: twin"))
    r = workspace.run("validate")
    assert r.code == 1 and "already managed by another portfolio" in r.err
    assert f"alice-ira.yaml:{line}:" in r.err, r.err  # the other file, at its spec.account line
