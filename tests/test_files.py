"""The file gate (reconciler/files.py) on real files: what it reads, what it refuses and why, and how it
writes."""

from __future__ import annotations

import errno
import os
import shutil
import socket
from pathlib import Path

import pytest

from reconciler import files
from reconciler.errors import FileError, PlanFileError, ReconcilerError
from tests.conftest import Workspace

SMALL = files.Kind("test file", 16, "pass a small file")


def _refused(path: Path, kind: files.Kind = files.YAML, **kw: Path) -> ReconcilerError:
    with pytest.raises(ReconcilerError) as caught:
        files.read_bytes(path, kind, **kw)
    return caught.value


# ---- reading ----

def test_a_regular_file_is_read_whole(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes(b"a: 1\n")
    assert files.read_bytes(tmp_path / "a.yaml", files.YAML) == b"a: 1\n"


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.yaml")  # opened for reading, it would wait for a writer forever
    assert _refused(tmp_path / "fifo.yaml").message == "not a regular file (a device, FIFO or socket)"


def test_a_device_is_refused(tmp_path: Path) -> None:
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    assert _refused(tmp_path / "zero.yaml").message == "not a regular file (a device, FIFO or socket)"


def test_a_socket_is_refused(tmp_path: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "s.yaml"))
    try:
        assert _refused(tmp_path / "s.yaml").message == "not a regular file (a device, FIFO or socket)"
    finally:
        server.close()


def test_a_folder_is_refused(tmp_path: Path) -> None:
    assert _refused(tmp_path).message == "this is a folder, not a file"


def test_a_file_over_its_kinds_cap_is_refused_before_reading(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * 17)
    assert _refused(tmp_path / "big", SMALL).message == "test file is 17 bytes, above the 16-byte limit"


def test_a_file_at_its_kinds_cap_is_read(tmp_path: Path) -> None:
    (tmp_path / "full").write_bytes(b"x" * 16)
    assert files.read_bytes(tmp_path / "full", SMALL) == b"x" * 16


def test_the_kind_chooses_the_error_class(tmp_path: Path) -> None:
    assert isinstance(_refused(tmp_path / "absent.json", files.PLAN), PlanFileError)


def test_a_missing_file_names_its_kind(tmp_path: Path) -> None:
    assert _refused(tmp_path / "absent.json", files.PLAN).message == "plan file not found"


def test_text_is_decoded_once_as_utf8_and_a_bad_byte_is_named(tmp_path: Path) -> None:
    (tmp_path / "l1.yaml").write_bytes("a: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(FileError, match=r"not UTF-8 text \(byte 6 is 0xe9\)"):
        files.read_text(tmp_path / "l1.yaml", files.YAML)


def test_a_link_inside_the_workspace_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real.yaml").write_text("a: 1\n")
    (tmp_path / "link.yaml").symlink_to(tmp_path / "real.yaml")
    assert files.read_text(tmp_path / "link.yaml", files.YAML, workspace=tmp_path) == "a: 1\n"


def test_a_link_out_of_the_workspace_is_refused(tmp_path: Path) -> None:
    ws, outside = tmp_path / "ws", tmp_path / "secret.txt"
    ws.mkdir()
    outside.write_text("token: abc\n")
    (ws / "stolen.yaml").symlink_to(outside)
    assert "outside the workspace" in _refused(ws / "stolen.yaml", workspace=ws).message


def test_a_path_out_of_the_workspace_is_refused(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "prices.csv").write_text("date,VTI\n")
    assert "outside the workspace" in _refused(ws / ".." / "prices.csv", workspace=ws).message


def test_a_path_named_on_the_command_line_may_be_anywhere(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text("{}")
    (tmp_path / "ws").mkdir()
    assert files.read_text(tmp_path / "ws" / ".." / "plan.json", files.PLAN) == "{}"


# ---- writing ----

def test_a_write_replaces_the_file_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old, and longer than the new content\n")
    files.write_text(target, "new\n", files.PLAN, "--out")
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_a_write_keeps_the_old_files_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    target.chmod(0o600)
    files.write_text(target, "new", files.PLAN, "--out")
    assert target.stat().st_mode & 0o777 == 0o600


def test_append_keeps_what_was_there(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    target.write_text("first\n")
    files.write_text(target, "second\n", files.SUMMARY, "--summary-file", append=True)
    assert target.read_text() == "first\nsecond\n"


@pytest.mark.parametrize("make", ["fifo", "folder", "link", "device"])
def test_a_target_that_is_not_a_regular_file_is_refused_and_left_alone(tmp_path: Path, make: str) -> None:
    target = tmp_path / "out"
    if make == "fifo":
        os.mkfifo(target)
    elif make == "folder":
        target.mkdir()
    elif make == "link":
        (tmp_path / "elsewhere").write_text("kept")
        target.symlink_to(tmp_path / "elsewhere")
    else:
        target.symlink_to("/dev/null")
    with pytest.raises(ReconcilerError):
        files.write_text(target, "x", files.SUMMARY, "--out")
    assert target.is_symlink() or target.is_dir() or target.is_fifo()


def test_a_link_target_is_named_as_a_link(tmp_path: Path) -> None:
    (tmp_path / "real").write_text("kept")
    (tmp_path / "out").symlink_to(tmp_path / "real")
    with pytest.raises(ReconcilerError, match="--out is a symbolic link"):
        files.check_writable(tmp_path / "out", files.PLAN, "--out")


def test_a_missing_folder_is_refused_without_parents(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="the folder does not exist"):
        files.check_writable(tmp_path / "no" / "out.md", files.SUMMARY, "--summary-file")


def test_parents_creates_the_missing_folders(tmp_path: Path) -> None:
    files.write_text(tmp_path / "a" / "b" / "plan.json", "{}", files.PLAN, "--out", parents=True)
    assert (tmp_path / "a" / "b" / "plan.json").read_text() == "{}"


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")

    def full(*_: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "replace", full)  # the disk fills up at the rename
    with pytest.raises(PlanFileError, match="No space left on device"):
        files.write_text(target, "new", files.PLAN, "--out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    assert target.read_text() == "old"


# ---- through the commands ----

def test_a_portfolio_linking_out_of_the_workspace_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    secret = tmp_path / "credentials.yaml"
    secret.write_text("kind: Portfolio\n")
    (workspace.root / "portfolios" / "stolen.yaml").symlink_to(secret)
    r = workspace.run("validate")
    assert r.code == 1
    assert "stolen.yaml: resolves to" in r.err


def test_a_fifo_among_the_portfolios_is_refused_not_skipped(workspace: Workspace) -> None:
    os.mkfifo(workspace.root / "portfolios" / "pipe.yaml")
    r = workspace.run("validate")
    assert "pipe.yaml: not a regular file" in r.err


def test_a_policies_folder_linking_out_of_the_workspace_is_refused(
    workspace: Workspace, tmp_path: Path
) -> None:
    # policies.dir itself must be a relative folder (the configuration's schema); a link there leads
    # elsewhere.
    shutil.move(workspace.root / "policies", tmp_path / "elsewhere")
    (workspace.root / "policies").symlink_to(tmp_path / "elsewhere")
    r = workspace.run("plan")
    assert r.code == 1
    assert "outside the workspace" in r.err


def test_apply_refuses_an_unwritable_summary_before_sending_anything(workspace: Workspace) -> None:
    (workspace.root / "summary.md").mkdir()
    r = workspace.run("apply", "--auto-approve", "--summary-file", str(workspace.root / "summary.md"))
    assert r.code == 1
    assert "--summary-file takes a file name" in r.err
    assert workspace.paper_order_count() == 0


def test_a_summary_that_cannot_be_written_after_orders_says_so_and_the_orders_stand(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*_: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "replace", full)  # the disk fills up once the orders are out
    r = workspace.run("apply", "--auto-approve", "--summary-file", str(workspace.root / "summary.md"))
    assert r.code == 3
    assert "the apply summary is missing" in r.err
    assert "Internal error" not in r.err
    assert workspace.paper_order_count() > 0
