"""`reconciler plan`: observe, plan, evaluate policies, print; optionally save the sealed plan."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", help="write the sealed plan (JSON) to this file for `apply`")
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text", help="output format")
    p.add_argument(
        "--detailed-exitcode", action="store_true", help="exit 0 with no changes, 2 with changes, 1 on error"
    )


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from reconciler.cli.common import console, runtime
    from reconciler.execution.planfile import write_plan
    from reconciler.execution.planning import make_plan

    rt = runtime(args)
    plan = make_plan(rt)
    if args.out:
        write_plan(plan, Path(args.out))
    if args.format == "json":
        sys.stdout.write(plan.model_dump_json(indent=2) + "\n")
    elif args.format == "markdown":
        from reconciler.render.markdown import render_markdown

        sys.stdout.write(render_markdown(plan))
    else:
        from reconciler.render.text import render_plan

        out = console(args)
        render_plan(plan, out)
        if args.out:
            out.print(f"\nSaved the plan to {args.out}. Apply exactly this plan with: reconciler apply {args.out}")
    if plan.blocked:
        return 1 if args.detailed_exitcode else 0
    if args.detailed_exitcode and plan.has_changes:
        return 2
    return 0
