"""The command line itself: usage errors exit 1 (2 means "changes"), ids and limits are checked, numbers in
YAML are read exactly as written, and only the command being run is imported (so `reconciler --help` starts
fast)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from reconciler.cli.main import _FLAGS, _VALUED, ALIASES, COMMANDS, build_parser, main
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


def _in_a_fresh_process(*argv: str) -> tuple[str, set[str]]:
    """What `reconciler ARGV` prints, and every module it imported, run by a new interpreter."""
    code = (
        "import json, sys\n"
        "from reconciler.cli.main import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60, check=False
    )
    *printed, modules = done.stdout.splitlines()
    return "\n".join(printed), set(json.loads(modules))


def _commands(modules: set[str]) -> set[str]:
    return {m for m in modules if m.startswith("reconciler.cli.") and m.endswith("_cmd")}


def test_help_lists_every_command_and_imports_none() -> None:
    """`reconciler --help` stays fast (bench/plan_scale.py times it): no command module, and none of the heavy
    libraries the commands use."""
    out, modules = _in_a_fresh_process("--help")
    assert not [name for name in COMMANDS if f"\n    {name} " not in out], out
    assert not _commands(modules)
    assert not {"pydantic", "sqlalchemy", "rich"} & modules


def test_a_commands_help_imports_that_command_alone() -> None:
    out, modules = _in_a_fresh_process("plan", "--help")
    assert "--detailed-exitcode" in out
    assert _commands(modules) == {"reconciler.cli.plan_cmd"}


# One option (or subcommand) of each command's own, shown by its --help.
OWN_OPTION = {
    ("validate",): "--no-policies", ("plan",): "--detailed-exitcode", ("apply",): "--auto-approve",
    ("history",): "--limit", ("show",): "APPLY_ID|PLAN", ("status",): "--notify", ("drift",): "--notify",
    ("import",): "--step", ("fmt",): "--check", ("github",): "drift-issue",
    ("github", "comment"): "--max-comments",
    ("github", "apply-result"): "--summary", ("github", "drift-issue"): "--label",
    ("reconcile",): "--give-up",
    ("force-unlock",): "--list", ("emulator",): "--seed", ("backtest",): "--strategy",
    ("lots",): "import ACCOUNT FILE",
    ("costs",): "--min-fills",
}


def test_every_command_and_alias_has_its_help_checked() -> None:
    aliases = {alias for names in ALIASES.values() for alias in names}
    assert {argv[0] for argv in OWN_OPTION} == set(COMMANDS) | aliases


@pytest.mark.parametrize(("argv", "option"), sorted(OWN_OPTION.items()))
def test_each_commands_help_shows_its_own_options(
    argv: tuple[str, ...], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    assert option in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["-c", "plan", "status", "--format", "yaml"], "invalid choice: 'yaml'"),
        # argparse takes the abbreviation
        (["--conf", "plan", "drift", "--format", "yaml"], "invalid choice: 'yaml'"),
        (["--config=plan", "--no-color", "status", "--format", "yaml"], "invalid choice: 'yaml'"),
        (
            ["--journal", "apply", "--log-format", "json", "--log-level", "info", "history", "-n", "0"],
            "0 is less than 1",
        ),
    ],
)
def test_the_command_is_the_one_after_the_global_options_values(
    argv: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A global option's value that is also a command's name is not the command: the options parsed are those
    of the command after it (its own check rejects the value, rather than "unrecognized arguments")."""
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 1
    assert error in capsys.readouterr().err


def test_the_command_scan_knows_every_global_option() -> None:
    """main finds the command before parsing, skipping the values of the global options: it must know which
    take one (a new global option added to the parser but not to the scan would be read as a command)."""
    options = {(o, a.nargs != 0) for a in build_parser()._actions for o in a.option_strings}
    assert {o for o, valued in options if valued and o.startswith("--")} == set(_VALUED)
    assert {o for o, valued in options if not valued and o.startswith("--")} == set(_FLAGS)
    assert {o for o, valued in options if valued and not o.startswith("--")} == {"-c"}


def test_an_empty_journal_url_is_an_error(workspace: Workspace) -> None:
    r = workspace.run("--journal", "", "history")
    assert r.code == 1
    assert "--journal is empty" in r.err


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
    assert r.code == 1, r.err
    assert "ambiguous" in r.err, r.err
    assert "a0000000" in r.err, r.err
    assert "a1000000" in r.err, r.err
    assert workspace.run("show", "a1").code == 0
    r = workspace.run("show", "ff")
    assert r.code == 1
    assert "no apply id starts with 'ff'" in r.err


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
    assert "stopped: the output pipe closed." in done.stderr
    assert "Traceback" not in done.stderr


def test_validate_names_a_missing_kind_and_the_other_files_account_line(workspace: Workspace) -> None:
    folder = workspace.root / "portfolios"
    (folder / "nokind.yaml").write_text("apiVersion: reconciler.dev/v1\nmetadata: {name: x}\nspec: {}\n")
    r = workspace.run("validate")
    assert r.code == 1, r.err
    assert "nokind.yaml:1:1: field kind: missing" in r.err, r.err
    (folder / "nokind.yaml").unlink()
    alice = (folder / "alice-ira.yaml").read_text()
    line = next(
        n for n, text in enumerate(alice.splitlines(), start=1) if text.strip().startswith("account:")
    )
    (folder / "twin.yaml").write_text(alice.replace("name: alice-ira", "name: twin"))
    r = workspace.run("validate")
    assert r.code == 1
    assert "already managed by another portfolio" in r.err
    assert f"alice-ira.yaml:{line}:" in r.err, r.err  # the other file, at its spec.account line
