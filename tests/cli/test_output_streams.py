"""Standard output closed, full (/dev/full) or a pipe whose reader left: a clear message on stderr and the
right exit code, never a traceback; an apply says that what it sent is in the journal. Real processes, real
descriptors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import Workspace


def _run(
    workspace: Workspace, *argv: str, stdout: int | None, close_stdout: bool = False
) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "reconciler.cli.main",
        "--config",
        str(workspace.config),
        "--no-color",
        *argv,
    ]
    if close_stdout:  # `reconciler ... >&-`
        command = ["sh", "-c", 'exec "$@" >&-', "sh", *command]
    return subprocess.run(command, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120)


@pytest.mark.parametrize("command", [("validate",), ("plan",), ("apply", "--auto-approve")])
def test_a_closed_stdout_is_refused_before_anything_runs(
    workspace: Workspace, command: tuple[str, ...]
) -> None:
    done = _run(workspace, *command, stdout=None, close_stdout=True)
    assert done.returncode == 1, done.stderr
    assert "standard output closed" in done.stderr
    assert "Traceback" not in done.stderr
    assert workspace.paper_order_count() == 0


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_stdout_is_an_error_with_a_message(workspace: Workspace) -> None:
    with open("/dev/full", "w") as full:
        done = _run(workspace, "plan", stdout=full.fileno())
    assert done.returncode == 1, done.stderr
    assert "standard output: cannot write (No space left on device)" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_an_apply_to_a_full_stdout_says_what_was_sent_is_in_the_journal(workspace: Workspace) -> None:
    with open("/dev/full", "w") as full:
        done = _run(workspace, "apply", "--auto-approve", stdout=full.fileno())
    assert done.returncode == 1, done.stderr
    assert "Orders already sent are in the journal" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_pipe_closed_before_a_plan_prints_stops_with_141(workspace: Workspace) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = _run(workspace, "plan", stdout=write_end)
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr
    assert "stopped: the output pipe closed." in done.stderr
    assert "Traceback" not in done.stderr
