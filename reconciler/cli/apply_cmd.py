"""`reconciler apply`: apply a saved plan, or plan now and ask for approval."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("plan", nargs="?", help="a plan file written by `plan --out`; without it, plan now and ask")
    p.add_argument("--auto-approve", action="store_true", help="apply without asking")
    p.add_argument(
        "--override", action="append", default=[], metavar="POLICY",
        help="override a soft-mandatory policy (repeatable); needs --reason; recorded in the journal",
    )
    p.add_argument("--reason", help="why the overridden policies may be ignored (recorded with who)")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from reconciler.cli.common import console, runtime
    from reconciler.errors import ApprovalError, ReconcilerError
    from reconciler.execution.executor import apply_plan
    from reconciler.render.fmt import qty
    from reconciler.render.text import render_plan
    from reconciler.runtime import actor

    if args.override and not (args.reason and args.reason.strip()):
        raise ReconcilerError(
            "--override needs --reason", where="command line", fix='add --reason "why this is acceptable"'
        )
    rt = runtime(args)
    out = console(args)
    if args.plan:
        from reconciler.execution.planfile import read_plan

        plan = read_plan(Path(args.plan))
    else:
        from reconciler.execution.planning import make_plan

        plan = make_plan(rt)
        render_plan(plan, out)
        if plan.has_changes and not plan.blocked and not args.auto_approve:
            if not sys.stdin.isatty():
                raise ApprovalError(
                    "refusing to apply without approval (no terminal to ask on)",
                    where="command line",
                    fix="review a saved plan and run `reconciler apply PLAN --auto-approve`",
                )
            answer = input("\nDo you want to perform these actions? Only 'yes' will be accepted: ")
            if answer.strip() != "yes":
                out.print("Apply cancelled.")
                return 1
    overrides = {name: args.reason for name in args.override}
    result = apply_plan(plan, rt, actor=actor(), overrides=overrides)
    if result.status in ("noop", "already-applied"):
        out.print(f"[green]Nothing to do:[/green] {result.message}.")
        return 0
    for o in result.outcomes:
        colour = "green" if o.status == "filled" else "red"
        price = f" @ {o.avg_price}" if o.avg_price is not None else ""
        extra = f" — {o.message}" if o.message else ""
        out.print(
            f"  [{colour}]{o.status:>8}[/{colour}] {o.side} {qty(o.quantity)} {o.symbol}{price}"
            f"  ({o.portfolio}, {o.client_order_id}){extra}"
        )
    filled = sum(1 for o in result.outcomes if o.status == "filled")
    out.print(
        f"\nApply {result.apply_id} {result.status}: {filled}/{len(result.outcomes)} orders filled."
        f" See `reconciler show {(result.apply_id or '')[:8]}`."
    )
    return 0 if result.ok else 1
