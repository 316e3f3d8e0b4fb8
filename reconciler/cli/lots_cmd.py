"""`reconciler lots ACCOUNT` shows an account's tax lots; `reconciler lots import ACCOUNT FILE` loads them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.text import Text

from reconciler.cli.common import console, runtime
from reconciler.errors import ReconcilerError
from reconciler.execution.lots import import_lots, show_lots


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the lots command's account, subcommand and file; main builds the parser from each command's."""
    p.add_argument("words", nargs="+", metavar="ACCOUNT | import ACCOUNT FILE",
                   help="an account to show, or `import ACCOUNT FILE` to load lots from a CSV of"
                   " symbol,acquired,quantity,cost_basis (it replaces the account's lots of the symbols it"
                   " lists)")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format (showing lots)")


def run(args: argparse.Namespace) -> int:
    """Show an account's tax lots, or import them, so tax-aware sells start from the real cost basis."""
    words: list[str] = args.words
    if words[0] == "import":
        if len(words) != 3:
            raise ReconcilerError("lots import takes an account and a file", where="command line",
                                  fix="reconciler lots import ACCOUNT FILE")
        lots = import_lots(runtime(args), words[1], Path(words[2]))
        symbols = len({lot.symbol for lot in lots})
        console(args).print(Text(f"✓ {len(lots)} lot(s) of {symbols} symbol(s) imported into {words[1]}"))
        return 0
    if len(words) != 1:
        raise ReconcilerError("lots takes one account", where="command line",
                              fix="reconciler lots ACCOUNT, or reconciler lots import ACCOUNT FILE")
    view = show_lots(runtime(args, read_only=True), words[0])
    if args.format == "json":
        sys.stdout.write(json.dumps(view.to_json(), indent=2) + "\n")
        return 0
    out = console(args)
    if not view.lots:
        out.print(Text(f"{view.account}: no lots in the journal (reconciler lots import {view.account}"
                       " FILE)"))
    for s in view.lots:
        gain = "no quote" if s.unrealized is None else f"unrealized {s.unrealized:,.2f}"
        term = "long-term" if s.long_term else "short-term"
        out.print(Text(f"{s.lot.symbol:<8} {s.lot.acquired} {s.lot.quantity:>12} cost"
                       f" {s.lot.cost_basis:>14,.2f}  {term:<10} {gain}"))
    totals = view.to_json()["unrealized"]
    out.print(Text(f"unrealized: short-term {totals['short_term']}, long-term {totals['long_term']}"))
    for symbol, (ledger, broker) in view.mismatches.items():
        out.print(Text(f"! {symbol}: lots hold {ledger}, the broker {broker}: tax-aware choices for {symbol}"
                       " are"
                       " off until the lots are fixed (reconciler lots import)", style="yellow"))
    return 0
