"""Helpers every command shares: the runtime from global options and a console, so each command stays a thin
parse, call and print."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from reconciler.errors import ReconcilerError

if TYPE_CHECKING:
    from reconciler.runtime import Runtime


def runtime(args: argparse.Namespace, *, read_only: bool = False) -> Runtime:
    """The runtime of the global options; `read_only` for commands that only read the journal (plan,
    status)."""
    # Here, not at the top: the runtime brings SQLAlchemy, the policy engine and the brokers, and `fmt` (a
    # pre-commit hook) and `github apply-result` share this module without needing them.
    from reconciler.runtime import Runtime

    if args.journal is not None and not args.journal.strip():
        raise ReconcilerError(
            "--journal is empty", where="command line",
            fix="give a journal URL (sqlite:///path/journal.db, postgresql+psycopg://...) or leave --journal"
            " out",
        )
    return Runtime(
        config_path=Path(getattr(args, "config", None) or "reconciler.yaml"), journal_url=args.journal,
        read_only=read_only,
        require_journal=bool(getattr(args, "require_journal", False)),
    )


_UNITS = {"s": 1, "m": 60, "h": 3600}


def duration(text: str) -> float:
    """An argparse type: seconds, or a number with s, m or h (90, 90s, 5m, 1h), at most a day."""
    raw = text.strip().lower()
    unit = _UNITS.get(raw[-1:])
    number = raw[:-1] if unit else raw
    try:
        value = float(number) * (unit or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (e.g. 90s, 5m, 1h)") from None
    if not 0 <= value <= 86400 or value != value:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range (0 to 24h)")
    return value


def add_record(p: argparse.ArgumentParser, command: str) -> None:
    """The `--record` flag, worded per command, so reading commands stay read-only by default."""
    p.add_argument(
        "--record", action="store_true",
        help="record the observations in the journal (creating or migrating it if needed); without it"
        f" {command}"
        " only reads the journal, so a read-only credential is enough",
    )


def add_target(p: argparse.ArgumentParser) -> None:
    """The `--target` flag, shared so plan, apply and status limit portfolios the same way."""
    p.add_argument(
        "--target", action="append", default=[], metavar="PORTFOLIO",
        help="plan only this portfolio (repeatable), like terraform -target: the others are not observed or"
        " traded",
    )


def add_lock_timeout(p: argparse.ArgumentParser) -> None:
    """The `--lock-timeout` flag, shared so every command that locks an account waits the same way."""
    p.add_argument(
        "--lock-timeout", type=duration, default=0.0, metavar="DURATION",
        help="wait up to this long (90s, 5m) for an account locked by another live apply, instead of failing"
        " at once (default 0)",
    )


def console(args: argparse.Namespace, stderr: bool = False) -> Console:
    """The rich console every command prints through: colour, width and a closed pipe handled once."""
    plain = bool(getattr(args, "no_color", False))
    stream = sys.stderr if stderr else sys.stdout
    # Logs and CI job output are not terminals: give tables room instead of rich's 80-column fallback.
    width = None if stream.isatty() else 140
    out = Console(file=stream, no_color=plain, highlight=False, soft_wrap=True, width=width)
    out.on_broken_pipe = _broken_pipe  # type: ignore[method-assign]  # rich would exit 1 without a word
    return out


def _broken_pipe() -> None:
    raise BrokenPipeError("the output pipe closed")  # handled once, in cli.main


MAX_COUNT = 1_000_000  # any count a command takes (history --limit, --workers, ...) is far below this


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    if value > MAX_COUNT:
        raise argparse.ArgumentTypeError(f"{value} is more than {MAX_COUNT:,}")
    return value
