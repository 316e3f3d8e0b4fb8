"""Text from outside is shown as text: control characters visible, workflow commands broken, mentions inert —
and the CLI's outputs all pass the escaper of their kind (a hostile policy message through plan, the job
summary and a log line)."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import pytest

from reconciler import shown
from reconciler.cli.apply_cmd import _Summary
from reconciler.logs import setup
from reconciler.secrets.redact import ScrubbedStream
from tests.conftest import Workspace

HOSTILE = "\x1b[2J\x1b]0;pwned\x07 \u202etxt.exe\u202c \x9b31m ::add-mask::x ##[error]y @ops-team #123"
COMMAND_LINE = re.compile(r"^\s*::", re.MULTILINE)


def test_escape_sequences_are_shown_not_run() -> None:
    assert "\x1b" not in shown.terminal(HOSTILE)


def test_c1_controls_are_shown_not_run() -> None:
    assert "\x9b" not in shown.terminal(HOSTILE)


def test_bidirectional_overrides_are_shown_not_applied() -> None:
    assert "\u202e" not in shown.terminal(HOSTILE)


def test_a_control_is_written_as_a_visible_escape() -> None:
    assert shown.terminal("a\x1bb\u202ec") == "a\\x1bb\\u202ec"


@pytest.mark.parametrize("line", ["::add-mask::x", "  ::set-output name=a::b", "\t::error::boom"])
def test_a_workflow_command_at_a_line_start_is_broken(line: str) -> None:
    assert not COMMAND_LINE.search(shown.terminal(f"before\n{line}\nafter"))


def test_a_v1_workflow_command_anywhere_is_broken() -> None:
    assert "##[" not in shown.terminal("text ##[error]boom")


def test_tab_and_newline_are_kept() -> None:
    assert shown.terminal("a\tb\nc") == "a\tb\nc"


def test_our_colour_codes_are_kept_on_a_terminal_only_when_asked() -> None:
    assert shown.terminal("\x1b[1;31mred\x1b[0m", keep_colour=True) == "\x1b[1;31mred\x1b[0m"


def test_colour_kept_still_shows_other_escapes() -> None:
    assert "\x1b[2J" not in shown.terminal("\x1b[31m\x1b[2J", keep_colour=True)


@pytest.mark.parametrize("ref", ["@ops-team", "#123", "GH-45"])
def test_a_mention_or_reference_is_inert_in_markdown(ref: str) -> None:
    assert ref not in shown.markdown(f"ask {ref} now")


def test_markdown_headings_and_emails_are_left_alone() -> None:
    assert shown.markdown("## Plan\nmail a@b.example") == "## Plan\nmail a@b.example"


def test_a_stream_written_in_pieces_still_breaks_a_command_line() -> None:
    sink = io.StringIO()
    stream = ScrubbedStream(sink)
    for piece in ("first line\n", "::add-mask::x", "\n"):
        stream.write(piece)
    assert not COMMAND_LINE.search(sink.getvalue())


def test_a_stream_does_not_break_colons_inside_a_line() -> None:
    sink = io.StringIO()
    stream = ScrubbedStream(sink)
    for piece in ("time ", "::", "ok\n"):
        stream.write(piece)
    assert sink.getvalue() == "time ::ok\n"


def test_text_logs_show_a_message_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    setup("text", "info")
    logging.getLogger("reconciler.test").warning("broker said %s", "ok\n::add-mask::x \x1b[2J")
    err = capsys.readouterr().err
    assert not COMMAND_LINE.search(err)
    assert "\x1b" not in err


def hostile_policy(ws: Workspace) -> None:
    message = HOSTILE.replace("\\", "\\\\").replace('"', '\\"')
    escaped = message.encode("unicode_escape").decode().replace("\\x", "\\u00")
    (ws.root / "policies" / "hostile.rego").write_text(
        "package reconciler.hostile\nimport rego.v1\n\n"
        f'warn contains msg if {{ msg := "line one\\n::add-mask::secret {escaped}" }}\n'
    )


def test_a_hostile_policy_message_reaches_the_plan_output_as_text(workspace: Workspace) -> None:
    hostile_policy(workspace)
    r = workspace.run("plan")
    assert "::add-mask::" in r.out  # the message is shown ...
    assert not COMMAND_LINE.search(r.out)  # ... as text


def test_a_hostile_policy_message_runs_no_escape_in_the_plan_output(workspace: Workspace) -> None:
    hostile_policy(workspace)
    r = workspace.run("plan")
    assert "\x1b" not in r.out + r.err


def test_the_job_summary_makes_mentions_inert(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    _Summary(str(path)).write("refused", "ask @ops-team about #123 \x1b[2J")
    assert "@ops-team" not in path.read_text()
