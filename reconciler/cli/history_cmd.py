"""`reconciler history`: the most recent applies in the journal, so an operator sees what ran without SQL."""

from __future__ import annotations

import argparse
import json

from reconciler.cli.common import console, positive_int, runtime
from reconciler.journal.reports import history
from reconciler.render.records import render_history


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare `--limit` and `--format`; main builds the parser from each command's."""
    p.add_argument("-n", "--limit", type=positive_int, default=20, help="how many applies to list (at least"
                   " 1)")
    p.add_argument("--format", choices=["text", "json"], default="text")


def run(args: argparse.Namespace) -> int:
    """List the most recent applies as a table or JSON."""
    rows = history(runtime(args).journal, args.limit)
    out = console(args)
    if args.format == "json":
        print(json.dumps(rows, default=str, indent=2))
        return 0
    if not rows:
        out.print("No applies recorded yet.")
        return 0
    render_history(rows, out)
    return 0
