"""`reconciler validate`: schema, weights, references and policies, without touching a broker, so a pull
request's mistakes fail in CI before anyone plans."""

from __future__ import annotations

import argparse

from rich.text import Text

from reconciler.brokers.plugin import plugin_for
from reconciler.cli.common import console, runtime
from reconciler.core.tax_rules import not_acting


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare `--no-policies`; main builds the parser from each command's."""
    p.add_argument("--no-policies", action="store_true", help="skip compiling the Rego policies")


def run(args: argparse.Namespace) -> int:
    """Check the workspace and its policies without a broker, so CI fails before a plan is made."""
    rt = runtime(args)
    ws = rt.workspace
    out = console(args)
    broker = ws.config.broker
    # The broker's offline checks (the paper broker's price CSV fails here, not at plan time) and its
    # warnings.
    plugin = plugin_for(broker, f"{ws.config_path}: broker.kind")
    warnings = list(plugin.check_files(broker, ws.root, ws.portfolios))
    for p in ws.portfolios:
        idle = not_acting(p.tax) if p.tax is not None else []
        if idle:
            warnings.append(f"{p.source}: tax: {', '.join(idle)} validated but not acted on yet: plans ignore"
                            " them")
    if not args.no_policies:
        _ = rt.policies
    out.print(
        f"[green]✓[/green] {ws.config_path}: {len(ws.portfolios)} portfolio(s) in {len(ws.files)} file(s) are"
        " valid"
        + ("" if args.no_policies else f"; {len(rt.policies.packages)} policies compile")
    )
    for warning in warnings:
        out.print(Text(f"! {warning}", style="yellow"))
    return 0
