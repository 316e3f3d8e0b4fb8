"""`reconciler import ACCOUNT`: write a portfolio YAML whose targets are the account's current holdings: the
first plan of an existing account then changes nothing until the targets are edited."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation

from reconciler.cli.common import console, runtime
from reconciler.errors import ReconcilerError
from reconciler.execution.importing import import_portfolio


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the account to import and where to write its portfolio; main builds the parser from each
    command's."""
    p.add_argument("account", help="an account configured in reconciler.yaml (broker.accounts)")
    p.add_argument("--name", help="portfolio name (default: the account name)")
    p.add_argument(
        "--out", metavar="PATH",
        help="file to write (default: PORTFOLIOS_DIR/NAME.yaml); `-` prints it instead",
    )
    p.add_argument(
        "--step", default="0.0001", help="weights are multiples of this (default 0.0001, one basis point)"
    )
    p.add_argument("--force", action="store_true", help="overwrite the file if it exists")


def run(args: argparse.Namespace) -> int:
    """Write a portfolio file whose targets are the account's holdings today."""
    try:
        step = Decimal(args.step)
    except InvalidOperation:
        step = Decimal("NaN")
    if not step.is_finite() or not Decimal("1e-12") <= step <= 1:
        raise ReconcilerError(
            f"--step {args.step!r} must be a number above 0 and at most 1 (weights are multiples of it)",
            where="command line", fix="use e.g. --step 0.0001 (one basis point)",
        ) from None
    done = import_portfolio(
        runtime(args), args.account, name=args.name, out=args.out, step=step, force=args.force
    )
    if done.path is None:
        sys.stdout.write(done.text)
        return 0
    console(args).print(
        f"[green]✓[/green] wrote {done.path}: portfolio {done.name!r} holding account {args.account!r} as it"
        " is"
        " now. Edit the weights, then `reconciler plan`."
    )
    return 0
