"""`reconciler validate`: schema, weights, references and policies, without touching a broker."""

from __future__ import annotations

import argparse

from reconciler.brokers.prices import load_prices
from reconciler.cli.common import console, runtime


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-policies", action="store_true", help="skip compiling the Rego policies")


def run(args: argparse.Namespace) -> int:
    rt = runtime(args)
    ws = rt.workspace
    if ws.config.broker.kind == "paper":
        load_prices(ws.config.broker.prices, ws.root)  # a broken price CSV fails here, not at plan time
    if not args.no_policies:
        _ = rt.policies
    out = console(args)
    out.print(
        f"[green]✓[/green] {ws.config_path}: {len(ws.portfolios)} portfolio(s) in {len(ws.files)} file(s) are valid"
        + ("" if args.no_policies else f"; {len(rt.policies.packages)} policies compile")
    )
    return 0
