"""Entry point: parse arguments, dispatch to a command module, map errors to exit codes.

Only the module of the command being run is imported, and with it what that command needs (pydantic,
SQLAlchemy, rich, the runtime): `reconciler --help` lists every command from COMMANDS without loading any, so
it starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from reconciler import __version__, files
from reconciler.brokers.refusals import keep_raw_bodies
from reconciler.errors import OutputError, ReconcilerError
from reconciler.execution.stopping import Terminated, sigterm_as_interrupt
from reconciler.logs import setup
from reconciler.secrets.redact import ScrubbedStream

COMMANDS = {
    "validate": "Check reconciler.yaml and every portfolio file.",
    "plan": "Observe the accounts and show the orders that would reconcile them.",
    "apply": "Apply a saved plan (or plan and ask), sending each order once.",
    "history": "List recent applies from the journal.",
    "show": "Show one apply from the journal: orders, fills, policy decisions, events.",
    "status": "Per portfolio: Synced, Progressing, OutOfSync, Locked or Unknown, with the drift in weights.",
    "import": "Write a portfolio file whose targets are an account's current holdings.",
    "fmt": "Normalise portfolio YAML files in place, keeping comments.",
    "github": "Post the plan comment on a pull request; keep the drift issue up to date.",
    "reconcile": "Make the journal agree with the broker; report orders and positions it cannot explain.",
    "force-unlock": "Remove the lock of an apply that died (or --list the locks).",
    "emulator": "Run the Alpaca-compatible broker emulator on 127.0.0.1, with fault knobs.",
    "backtest": "Run rebalancing strategies on price history through the planner, after costs and taxes.",
    "lots": "Show an account's tax lots with unrealized gains, or import them from a broker's CSV export.",
    "costs": "Slippage, commission and fill latency learned from the journal's fills, with intervals.",
}

ALIASES = {"status": ["drift"]}

# The global options that take a value: the word after one is its value, never the command. --no-color,
# --version and --help take none.
_VALUED = ("--config", "--journal", "--log-format", "--log-level", "--broker-bodies")
_FLAGS = ("--no-color", "--require-journal", "--version", "--help")


def _module(command: str) -> str:
    return f"reconciler.cli.{command.replace('-', '_')}_cmd"


def _common(p: argparse.ArgumentParser, default: object) -> None:
    p.add_argument("-c", "--config", default=default, help="path to reconciler.yaml (default:"
                   " ./reconciler.yaml)")
    p.add_argument("--journal", default=default, help="journal database URL (overrides journal.url)")
    p.add_argument(
        "--require-journal", action="store_true", default=default,
        help="a journal that does not exist is an error, never read as empty or created (always on when"
        " CI=true)",
    )
    p.add_argument("--log-format", choices=["text", "json"], default=default, help="log format on stderr")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default=default)
    p.add_argument("--no-color", action="store_true", default=default, help="plain output without colours")
    p.add_argument(
        "--broker-bodies", default=default, metavar="FILE",
        help="for debugging: append the body of every broker error answer to FILE, scrubbed of secrets (never"
        " shown otherwise: messages keep its status, code, a capped message, its size and digest)",
    )


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 1 like every other error: 2 means "changes" (plan
    --detailed-exitcode) and "out of sync" (status), and a typo in a CI script must not read as either."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def command_in(argv: Sequence[str]) -> str | None:
    """The command argv names (an alias as its command), read as argparse reads it; None when it names
    none."""
    names = {name: name for name in COMMANDS} | {
        a: name for name, aliases in ALIASES.items() for a in aliases
    }
    value_next = False
    for arg in argv:
        if value_next:
            value_next = False
        elif arg in names:
            return names[arg]
        elif arg == "-c" or (arg.startswith("--") and "=" not in arg and _takes_value(arg)):
            value_next = True
    return None


def _takes_value(option: str) -> bool:
    # argparse also takes an unambiguous prefix of a long option: --conf, --log-l
    matches = [o for o in (*_VALUED, *_FLAGS) if o.startswith(option)]
    return len(matches) == 1 and matches[0] in _VALUED


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command's name and help, but the options of `command` only: only its module is imported."""
    parser = _Parser(
        prog="reconciler",
        description="Infrastructure-as-code for investment portfolios: plan and apply target allocations.",
    )
    _common(parser, None)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, aliases=ALIASES.get(name, []))
        p.set_defaults(command=name)  # `drift` runs the `status` module
        _common(p, argparse.SUPPRESS)
        if name == command:
            importlib.import_module(_module(name)).add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and map whatever it raises to a message and an exit code (never a traceback)."""
    argv = sys.argv[1:] if argv is None else argv
    closed = _closed_streams()
    if closed:
        # Nothing runs: a file the command opens could take the closed descriptor, and its output (or an
        # apply's report of what it sent) would be written into that file instead.
        message = (
            f"Error: standard {' and '.join(closed)} closed: reconciler would have nowhere to say what it"
            " does\n"
            "  fix: run it with its output open (redirect it to a file, or to /dev/null)\n"
        )
        if "error" not in closed:
            os.write(2, message.encode())
        return 1
    command = command_in(argv)
    parser = build_parser(command)
    args = parser.parse_args(argv)
    if args.command is not None and args.command != command:  # never run a command without its options
        parser.error(
            f"the command was read as {command!r} but parsed as {args.command!r} (a bug in reconciler; report"
            " it)"
        )
    if args.version:
        print(f"reconciler {__version__}")
        return 0
    if not args.command:
        parser.print_help()
        return 1
    setup(args.log_format or "text", args.log_level or "warning")

    module = importlib.import_module(_module(args.command))
    # Every byte the command writes passes the redaction layer: a broker's error that echoes a key, an
    # exception quoting a header. Restored after, for hosts (tests) that call main() in their own process.
    real = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = ScrubbedStream(sys.stdout), ScrubbedStream(sys.stderr)
    try:
        return _run(args, module)
    finally:
        sys.stdout, sys.stderr = real


def _closed_streams() -> list[str]:
    """Which of standard output and error are closed (Python then sets them to None)."""
    closed = []
    for name, stream, fd in (("output", sys.stdout, 1), ("error", sys.stderr, 2)):
        if stream is None:
            closed.append(name)
            continue
        try:
            stream.fileno()
        except (OSError, ValueError):
            continue  # not a file (a test's capture): open by construction
        try:
            os.fstat(fd)
        except OSError:
            closed.append(name)
    return closed


def _run(args: argparse.Namespace, module: Any) -> int:
    try:
        bodies = Path(args.broker_bodies) if args.broker_bodies else None
        if bodies is not None:  # refused before anything runs, not at the first error body
            files.check_writable(bodies, files.BODIES, "--broker-bodies")
        keep_raw_bodies(bodies)
        with sigterm_as_interrupt():
            code: int = module.run(args)
        sys.stdout.flush()  # here, so that output that cannot be written is reported below, not at exit
        return code
    except ReconcilerError as exc:
        print(f"Error: {exc.render()}", file=sys.stderr)
        return exc.exit_code
    except (BrokenPipeError, OutputError) as exc:
        # The reader went away (`| head`), or the output is full (/dev/full) or failing. Say so on stderr (an
        # apply stops there: the journal has what was sent), and point stdout at /dev/null so exiting raises
        # nothing more. A closed pipe exits as a shell does on SIGPIPE; an output that failed is an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        sent = (
            " Orders already sent are in the journal (`reconciler history`)."
            if args.command == "apply"
            else ""
        )
        if isinstance(exc, BrokenPipeError):
            print(f"stopped: the output pipe closed.{sent}", file=sys.stderr)
            return 141
        print(
            f"Error: standard output: cannot write ({exc.strerror or exc}); the output is incomplete.{sent}\n"
            "  fix: free space on the device standard output goes to, or redirect it elsewhere",
            file=sys.stderr,
        )
        return 1
    except Terminated:
        print(
            "terminated (SIGTERM). The order being sent was finished and journaled; nothing more was sent."
            " Orders already sent are in the journal: `reconciler history` shows the apply.",
            file=sys.stderr,
        )
        return 143
    except KeyboardInterrupt:
        print(
            "interrupted. Orders already sent stay at the broker and are in the journal: `reconciler"
            " reconcile` (or the next apply) adopts them; `reconciler history` shows the apply.",
            file=sys.stderr,
        )
        return 130
    except Exception as exc:  # a bug, not bad input: say so briefly; the traceback goes to the debug log
        logging.getLogger("reconciler").debug("internal error", exc_info=True)
        print(
            f"Internal error: {type(exc).__name__}: {exc}\n  (a bug in reconciler; rerun with --log-level"
            " debug"
            " for the traceback and report it)",
            file=sys.stderr,
        )
        return 1
    finally:
        keep_raw_bodies(None)


def run() -> None:
    """The console script's entry point: `main` with the process's arguments, its result the exit status."""
    sys.exit(main())


if __name__ == "__main__":
    run()
