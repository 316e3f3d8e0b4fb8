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
