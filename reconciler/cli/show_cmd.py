"""`reconciler show APPLY_ID | PLAN.json`: everything the journal holds about one apply, or a saved plan (like
`terraform show`): what an apply did, or what a plan file will do, read without SQL or a broker."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reconciler.cli.common import console, runtime
from reconciler.errors import ReconcilerError
from reconciler.execution.planfile import read_plan
from reconciler.journal.reports import show
from reconciler.render.records import render_apply
from reconciler.render.text import render_plan, render_target_changes


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the apply id or plan file to show, and the format; main builds the parser from each command's.
    Declare the apply id or plan file to show, and the format; main builds the parser from each command's."""
    p.add_argument(
        "apply_id", metavar="APPLY_ID|PLAN",
        help="an apply id, or a unique prefix of one (see `reconciler history`); or a plan file written by"
        " `plan --out`, shown (its seal checked) without the journal or the broker",
    )
    p.add_argument("--format", choices=["text", "json"], default="text")


def _show_plan(args: argparse.Namespace, path: Path) -> int:
    plan = read_plan(path)  # a missing, tampered or unknown-format file is an error naming it
    if args.format == "json":
        sys.stdout.write(plan.model_dump_json(indent=2) + "\n")
        return 0
    out = console(args)
    if plan.target_changes:
        render_target_changes(plan, out)
    render_plan(plan, out)
    return 0


def run(args: argparse.Namespace) -> int:
    """Show one apply from the journal, or a saved plan with its seal checked."""
    if args.apply_id.endswith(".json") or Path(args.apply_id).is_file():
        return _show_plan(args, Path(args.apply_id))
    a = show(runtime(args).journal, args.apply_id)
    if a is None:
        raise ReconcilerError(
            f"no apply id starts with {args.apply_id!r}", where="reconciler show",
            fix="use an id (or its first characters) from `reconciler history`",
        )
    if args.format == "json":
        print(json.dumps(a, default=str, indent=2))
        return 0
    render_apply(a, console(args))
    return 0
