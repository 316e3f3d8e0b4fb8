"""Helpers every command shares: the runtime from global options and a console."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from reconciler.runtime import Runtime


def runtime(args: argparse.Namespace) -> Runtime:
    from reconciler.errors import ReconcilerError
    from reconciler.runtime import Runtime

    if args.journal is not None and not args.journal.strip():
        raise ReconcilerError(
            "--journal is empty", where="command line",
            fix="give a journal URL (sqlite:///path/journal.db, postgresql+psycopg://...) or leave --journal out",
        )
    return Runtime(config_path=Path(getattr(args, "config", None) or "reconciler.yaml"), journal_url=args.journal)


def console(args: argparse.Namespace, stderr: bool = False) -> Console:
    from rich.console import Console

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
