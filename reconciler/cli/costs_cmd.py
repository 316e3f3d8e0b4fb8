"""`reconciler costs`: slippage, commission and fill latency learned from the journal's own fills."""

from __future__ import annotations

import argparse
import json
import sys

from reconciler.cli.common import console, positive_int, runtime
from reconciler.core.learned_costs import FLOOR, MIN_FILLS
from reconciler.errors import CostsFitError
from reconciler.journal.costs import learned
from reconciler.journal.database import safe_url
from reconciler.render.costs import costs_lines


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the costs command's flags; main builds the parser from each command's."""
    p.add_argument(
        "--min-fills",
        type=positive_int,
        default=MIN_FILLS,
        metavar="N",
        help=f"fit a broker and symbol class only from at least N fills (default {MIN_FILLS}, at least"
        f" {FLOOR})",
    )
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    p.epilog = (
        "Exit codes: 0 at least one broker and symbol class fitted, 1 too few fills for any (or an error)."
    )


def run(args: argparse.Namespace) -> int:
    """Print the costs learned from the journal's fills, so a backtest or a plan can use real ones."""
    if args.min_fills < FLOOR:
        raise CostsFitError(
            f"--min-fills {args.min_fills} is too few to fit an interval on",
            where="--min-fills",
            fix=f"give at least {FLOOR}",
        )
    rt = runtime(args, read_only=True)
    broker = rt.config.broker
    fits = learned(rt.journal, broker.kind, broker.accounts, args.min_fills)
    if args.format == "json":
        doc = {"min_fills": args.min_fills, "groups": [f.as_dict() for f in fits]}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        out = console(args)
        for line in costs_lines(fits, safe_url(rt.journal_location[0])):
            out.print(line, markup=False, highlight=False, soft_wrap=True)
    if not any(f.refused is None for f in fits):
        why = (
            "; ".join(f"{f.broker} {f.symbol_class}: {f.refused}" for f in fits)
            or "the journal holds no fills"
        )
        raise CostsFitError(
            f"too few fills to learn costs from: {why}",
            where="reconciler costs",
            fix=f"apply more orders first, or lower --min-fills (at your risk: {MIN_FILLS} is where the"
            " intervals"
            " start to be trustworthy)",
        )
    return 0
