"""`reconciler validate`: schema, weights, references and policies, without touching a broker."""

from __future__ import annotations

import argparse

from rich.text import Text

from reconciler.brokers.prices import load_prices
from reconciler.cli.common import console, runtime
from reconciler.core.models import Desired


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-policies", action="store_true", help="skip compiling the Rego policies")


def unpriced(portfolios: list[Desired], held: dict[str, list[str]], priced: set[str]) -> dict[str, list[str]]:
    """By portfolio, the symbols it targets or its account holds that the price source has never seen (a typo
    such as VNQQ): plan would block the portfolio on them."""
    out = {}
    for p in portfolios:
        missing = sorted((set(p.targets) | set(held.get(p.account, []))) - priced)
        if missing:
            out[p.name] = missing
    return out


def run(args: argparse.Namespace) -> int:
    rt = runtime(args)
    ws = rt.workspace
    out = console(args)
    warnings: dict[str, list[str]] = {}
    broker = ws.config.broker
    if broker.kind == "paper":
        prices = load_prices(broker.prices, ws.root)  # a broken price CSV fails here, not at plan time
        held = {name: list(a.positions) for name, a in broker.accounts.items()}
        warnings = unpriced(ws.portfolios, held, set(prices))
    if not args.no_policies:
        _ = rt.policies
    out.print(
        f"[green]✓[/green] {ws.config_path}: {len(ws.portfolios)} portfolio(s) in {len(ws.files)} file(s) are valid"
        + ("" if args.no_policies else f"; {len(rt.policies.packages)} policies compile")
    )
    sources = {p.name: p.source for p in ws.portfolios}
    for name, symbols in warnings.items():
        out.print(Text(
            f"! portfolio {name} ({sources[name]}): {', '.join(symbols)} has no price in broker.prices (static or"
            " csv): a typo? plan will block this portfolio until it is priced", style="yellow",
        ))
    return 0
