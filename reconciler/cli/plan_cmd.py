"""`reconciler plan`: observe, plan, evaluate policies, print; optionally save the sealed plan, so what is
reviewed is exactly what `apply` sends."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.cli.common import add_record, add_target, console, runtime
from reconciler.cli.raise_option import add_raise, with_raises
from reconciler.core.plan import reseal
from reconciler.errors import ReconcilerError
from reconciler.execution.judge import seal_for_saving
from reconciler.execution.planfile import write_plan
from reconciler.execution.planning import causes_of, plan_against
from reconciler.gitops.overrides import read_overrides
from reconciler.render.markdown import Proposal, render_markdown
from reconciler.render.text import render_plan, render_target_changes

if TYPE_CHECKING:
    from reconciler.runtime import Runtime


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the plan command's flags: output, format, exit code, targets, a proposed change; main builds
    the parser from each command's."""
    p.add_argument("--out", help="write the sealed plan (JSON) to this file for `apply`")
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text", help="output format")
    p.add_argument(
        "--detailed-exitcode", action="store_true", help="exit 0 with no changes, 2 with changes, 1 on error"
    )
    p.add_argument(
        "--base", metavar="REF",
        help="git ref (branch, tag, commit) to compare the targets with: shows the weight changes since it"
        " and records its commit in the plan (on a pull request: the base branch)",
    )
    add_record(p, "plan")
    add_target(p)
    add_raise(p)
    p.add_argument(
        "--proposed", metavar="REF",
        help="plan the targets, policies and settings as they are at this git ref (a pull request's merge"
        " commit), read from git objects as data, with this checkout's code, broker and journal; refused when"
        " the ref changes the broker or journal settings (docs/gitops.md: the trust model)",
    )
    p.add_argument(
        "--overrides", metavar="FILE",
        help="record the overrides a code owner made on the pull request (`github overrides --out FILE`) in"
        " the plan: the soft-mandatory denials they waive no longer fail it, and apply on merge honours them",
    )


def run(args: argparse.Namespace) -> int:
    """Plan every portfolio (or the targeted ones) and print or save the sealed plan."""
    rt = runtime(args, read_only=not args.record)
    if args.proposed is not None:
        from reconciler.runtime import proposed_runtime

        with proposed_runtime(rt, args.proposed) as proposal:
            return _plan(args, proposal, trusted=rt)
    return _plan(args, rt, trusted=rt)


def _plan(args: argparse.Namespace, rt: Runtime, *, trusted: Runtime) -> int:
    if args.raise_cash:
        if args.out:
            raise ReconcilerError(
                "--raise is a preview and cannot be saved for apply", where="command line",
                fix="add the withdrawal to the portfolio's withdrawals: (amount and date) and plan again",
            )
        rt = with_raises(rt, args.raise_cash)
    plan, base = plan_against(rt, args.base, record=args.record, only=args.target)
    if args.overrides:
        accepted = read_overrides(Path(args.overrides)).accepted
        rt.policies.check_overrides(o.policy for o in accepted)  # the proposal's levels: soft-mandatory only
        plan = reseal(plan, overrides=accepted)
    if args.out:
        # Sealed with the trusted checkout's key, never with one a pull request's configuration names.
        write_plan(seal_for_saving(plan, trusted), Path(args.out))  # refuses a folder or an unwritable path
    if args.format == "json":
        sys.stdout.write(plan.model_dump_json(indent=2) + "\n")
    elif args.format == "markdown":
        from reconciler.cli.whatif import what_if_report

        proposal = Proposal(causes=causes_of(rt, plan, base), what_if=what_if_report(trusted, rt, plan, base))
        sys.stdout.write(render_markdown(plan, rt.workspace.config.apply.envelope, proposal))
    else:
        out = console(args)
        if base is not None:
            render_target_changes(plan, out, note=base.note)
        render_plan(plan, out)
        if args.out:
            out.print(f"\nSaved the plan to {args.out}. Apply exactly this plan with: reconciler apply"
                      f" {args.out}")
    # never a success, whatever the convention
    if any(r.blocks(plan.overridden_policies) for r in plan.blocked):
        return 1
    if args.detailed_exitcode and plan.has_changes:
        return 2
    return 0
