"""`reconciler history`: the most recent applies in the journal."""

from __future__ import annotations

import argparse
import json

from reconciler.cli.common import console, positive_int, runtime
from reconciler.journal.reports import history
from reconciler.render.records import render_history


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", "--limit", type=positive_int, default=20, help="how many applies to list (at least 1)")
    p.add_argument("--format", choices=["text", "json"], default="text")


def run(args: argparse.Namespace) -> int:
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
