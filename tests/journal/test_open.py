"""A journal URL that would lose or misplace the record is refused before anything happens."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Workspace


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("sqlite://", "in-memory journal"),
        ("sqlite:///:memory:", "in-memory journal"),
        ("sqlite:////nonexistent-reconciler/dir/journal.db", "folder of the journal file does not exist"),
        ("not a url", "not a database URL"),
    ],
)
def test_bad_journal_urls_are_refused(workspace: Workspace, url: str, says: str) -> None:
    r = workspace.run("--journal", url, "apply", "--auto-approve")
    assert r.code == 1, r.err
    assert says in r.err, r.err
    assert "Traceback" not in r.err, r.err
    assert not Path("/nonexistent-reconciler").exists()
    assert workspace.paper_order_count() == 0


def test_a_file_that_is_not_a_database(workspace: Workspace, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 100)
    r = workspace.run("--journal", f"sqlite:///{notes}", "history")
    assert r.code == 1, r.err
    assert "file is not a database" in r.err, r.err
    assert "Internal error" not in r.err, r.err


def test_the_journal_folder_itself_is_created(workspace: Workspace, tmp_path: Path) -> None:
    r = workspace.run("--journal", f"sqlite:///{tmp_path / 'new-folder' / 'journal.db'}", "history")
    assert r.code == 0, r.err
    assert (tmp_path / "new-folder" / "journal.db").is_file()
