"""`reconciler apply`: apply a saved plan, plan now and ask, or (GitOps, on merge) apply within a reviewed
envelope. The one command that sends orders, so every guard before a send is reached from here."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from reconciler import files, shown
from reconciler.cli.common import add_lock_timeout, add_target, console, runtime
from reconciler.core.sequence import reviewed_overrides
from reconciler.errors import ApprovalError, ReconcilerError, StalePlanError
from reconciler.execution.executor import apply_plan, match_once
from reconciler.execution.judge import read_judged_plan
from reconciler.execution.merge_apply import (
    already_applied,
    check_merge,
    envelope_refusal,
    landed_since,
    read_reviewed,
    refuse_older_than_applied,
)
from reconciler.execution.planning import make_plan
from reconciler.execution.services import ApplySession
from reconciler.execution.workers import run_workers
from reconciler.journal.reports import show
from reconciler.journal.sentences import filled_of, order_sentence
from reconciler.notify import notify
from reconciler.render.markdown import render_apply_summary
from reconciler.render.outcomes import OutcomeStream
from reconciler.render.progress import ApplyProgress, render_work_report
from reconciler.render.text import render_envelope, render_plan
from reconciler.runtime import Runtime, actor
from reconciler.secrets.redact import scrub

if TYPE_CHECKING:
    from rich.console import Console

    from reconciler.core.models import Plan
    from reconciler.execution.leg import ApplyResult


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the apply command's flags: a plan file, or plan now, or a reviewed envelope on merge; main
    builds the parser from each command's."""
    p.add_argument("plan", nargs="?", help="a plan file written by `plan --out`; without it, plan now and"
                   " ask")
    p.add_argument(
        "--envelope", metavar="REVIEWED_PLAN",
        help="apply on merge: plan now, refuse unless every new order stays within the envelope of this"
        " reviewed plan (see docs/gitops.md), then apply; a commit already applied sends nothing",
    )
    p.add_argument("--auto-approve", action="store_true", help="apply without asking")
    p.add_argument(
        "--all", action="store_true",
        help="with a plan file: put its accounts in the journal's work queue and apply them with --workers"
        " workers; the same command on other machines sharing a PostgreSQL journal joins in, each account"
        " applied once",
    )
    p.add_argument(
        "--workers", type=int, default=1, metavar="N",
        help="with --all: accounts applied at once, by worker processes (up to two per core) and threads"
        " within them (default 1)",
    )
    p.add_argument(
        "--override", action="append", default=[], metavar="POLICY",
        help="override a soft-mandatory policy (repeatable); needs --reason; recorded in the journal",
    )
    p.add_argument("--reason", help="why the overridden policies may be ignored (recorded with who)")
    add_target(p)
    add_lock_timeout(p)
    p.add_argument(
        "--summary-file", metavar="PATH",
        help="append a markdown summary of the result to this file (in GitHub Actions: $GITHUB_STEP_SUMMARY);"
        " checked writable before anything is sent",
    )
    p.epilog = (
        f"Exit codes: 0 applied (or nothing to do), 1 refused or failed, {SUMMARY_MISSING} applied but the"
        " --summary-file could not be written (the orders and the journal stand), 130 interrupted, 141 output"
        " pipe closed."
    )


# Not 1: the orders were sent and are journaled; only the summary file is missing, and CI must tell the two
# apart.
SUMMARY_MISSING = 3


class _Summary:
    """The markdown result for CI, appended to --summary-file when one is given."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.written = False  # one summary per run: the most specific writer wins, the catch-all comes last
        self.outcome: tuple[str, str] | None = None  # (title, message) of that summary, for the notification
        self.failed: ReconcilerError | None = None  # why the file could not be written, when it could not

    def check(self) -> None:
        """Refuse now, before anything is sent, a summary file the gate would not write."""
        if self.path:
            files.check_writable(Path(self.path), files.SUMMARY, "--summary-file")

    def write(self, title: str, message: str, **context: Any) -> None:
        if self.written:
            return
        self.written = True
        self.outcome = (title, message)
        if not self.path:
            return
        text = shown.markdown(scrub(render_apply_summary(title, message, **context))) + "\n"
        try:
            files.write_text(Path(self.path), text, files.SUMMARY, "--summary-file", append=True)
        except ReconcilerError as exc:  # the apply's outcome stands; run() says the summary is missing
            self.failed = exc


def run(args: argparse.Namespace) -> int:
    """Apply a plan through the broker under the policies and the journal; the exit code says how it went."""
    if args.override and not (args.reason and args.reason.strip()):
        raise ReconcilerError(
            "--override needs --reason", where="command line", fix='add --reason "why this is acceptable"'
        )
    if args.plan and args.envelope:
        raise ReconcilerError(
            "give a plan file or --envelope REVIEWED_PLAN, not both", where="command line",
            fix="`apply PLAN` applies exactly PLAN; `apply --envelope PLAN` plans now and checks against"
            " PLAN",
        )
    if args.all and not args.plan:
        raise ReconcilerError(
            "--all needs a plan file", where="command line",
            fix="save a plan with `reconciler plan --out plan.json`, then `reconciler apply plan.json --all`",
        )
    if args.target and (args.plan or args.envelope):
        raise ReconcilerError(
            "--target chooses what to plan now; a saved plan and a reviewed envelope are applied whole",
            where="command line",
            fix="plan with --target and save that plan (`reconciler plan --target P --out plan.json`), then"
            " apply it",
        )
    if not 1 <= args.workers <= 64:
        raise ReconcilerError(
            f"--workers {args.workers} is out of range", where="command line", fix="use a number from 1 to 64"
        )
    summary = _Summary(args.summary_file)
    summary.check()
    rt: Runtime | None = None
    # This command's own state (who acts, the lock wait, the plans checked), dropped when it returns.
    session = ApplySession(actor(), getattr(args, "lock_timeout", 0.0))
    try:
        rt = runtime(args)
        out = console(args)
        if args.all:
            code = _apply_all(args, rt, session, out)
        elif args.envelope:
            code = _apply_in_envelope(args, rt, session, out, summary)
        else:
            code = _apply(args, rt, session, out, summary)
    except ReconcilerError as exc:
        summary.write("refused", exc.render())
        if rt is not None:
            _notify_failure(rt, summary)
        _say_summary_missing(summary)
        raise
    if code != 0:
        _notify_failure(rt, summary)
    if _say_summary_missing(summary) and code == 0:
        return SUMMARY_MISSING
    return code


def _say_summary_missing(summary: _Summary) -> bool:
    """Say on stderr that the summary file was not written (whatever the apply did stands); True when so."""
    if summary.failed is None:
        return False
    print(
        f"Error: the apply summary is missing: {summary.failed.render()}\n  The apply's outcome above stands:"
        " orders"
        " sent are at the broker and in the journal (`reconciler history`, `reconciler show APPLY_ID`).",
        file=sys.stderr,
    )
    return True


def _notify_failure(rt: Runtime, summary: _Summary) -> None:
    """The `apply_failed` notifications (reconciler.yaml: notifications): never changes the apply's
    outcome."""
    try:
        settings = rt.config.notifications
    except ReconcilerError:
        return  # no valid configuration, so no notification settings either; the error itself is reported
    title, message = summary.outcome or ("failed", "the apply did not complete; see its output")
    notify(settings, "apply_failed", f"reconciler apply: {title}", scrub(message))


def _apply(
    args: argparse.Namespace, rt: Runtime, session: ApplySession, out: Console, summary: _Summary
) -> int:
    if args.plan:
        plan = read_judged_plan(Path(args.plan), rt)
    else:
        # Adopt a crashed apply's orders first.
        plan = make_plan(rt, reconcile_first=session, only=args.target)
        render_plan(plan, out)
        if not _approved(args, plan, out):
            return 1
    return _execute(args, rt, session, out, summary, plan)


def _apply_all(args: argparse.Namespace, rt: Runtime, session: ApplySession, out: Console) -> int:
    """Every account of the plan through the journal's work queue, `--workers` at a time."""
    watcher = ApplyProgress(console(args, stderr=True), rt.clock)
    try:
        watcher.say(f"reading and checking the plan {args.plan}")
        plan = read_judged_plan(Path(args.plan), rt)
        overrides = {name: args.reason for name in args.override}
        rt.policies.check_overrides(overrides)
        # Checked here once, before any worker starts: a plan for other targets fails as one clear error, not
        # as one failed work item per account. The workers inherit the targets loaded for it.
        match_once(plan, rt.workspace, session)
        report = run_workers(
            plan, rt.for_worker, workers=args.workers, actor=session.actor, overrides=overrides,
            on_progress=watcher, say=watcher.say, session=session,
        )
    finally:
        watcher.close()
    render_work_report(report, watcher.last, out)
    return 0 if report.ok else 1


def _apply_in_envelope(
    args: argparse.Namespace, rt: Runtime, session: ApplySession, out: Console, summary: _Summary
) -> int:
    """Plan now, refuse when the new orders leave the reviewed envelope, apply; each commit once.

    `--envelope` names one reviewed plan, or a folder of the reviewed plans of every commit since the last
    applied one (`github reviewed-plans`): then each portfolio is checked against the plan that covers it
    (execution.merge_apply holds the rules)."""
    reviewed = read_reviewed(rt, args.envelope)
    commit = reviewed.commit
    if commit:
        try:
            refuse_older_than_applied(rt, commit)
        except StalePlanError as stale:
            summary.write(
                "refused: not the current commit", stale.render(), commit=commit, reviewed=reviewed.plan
            )
            raise
        done = already_applied(rt, commit)
        if done is not None:
            out.print(f"[green]Nothing to do:[/green] {done}.")
            summary.write("already applied", done, commit=commit, reviewed=reviewed.plan)
            return 0
    landed = landed_since(rt, reviewed)
    plan = make_plan(rt, reconcile_first=session)  # adopt what a crashed apply left before observing
    render_plan(plan, out)
    band = rt.workspace.config.apply.envelope.notional_band
    verdict = check_merge(rt, reviewed, landed, plan, lambda note: out.print(f"  · {escape(note)}"))
    render_envelope(verdict.check, out, band)
    if not verdict.check.ok:
        refusal = envelope_refusal(verdict)
        summary.write(
            "refused: outside the reviewed envelope", refusal.render(), commit=commit, plan=plan,
            reviewed=verdict.reviewed, check=verdict.check, band=band,
        )
        raise refusal
    if not _approved(args, plan, out):
        return 1
    context = {"reviewed": verdict.reviewed, "check": verdict.check, "band": band}
    waived = reviewed_overrides(verdict.covering)
    for name, why in sorted(waived.items()):
        out.print(f"  · override {name} from the reviewed plan: {escape(why)}")
    return _execute(
        args, rt, session, out, summary, plan, record_noop=commit is not None, context=context, waived=waived
    )


def _approved(args: argparse.Namespace, plan: Plan, out: Console) -> bool:
    if not plan.has_changes or plan.blocked or args.auto_approve:
        return True
    if not sys.stdin.isatty():
        raise ApprovalError(
            "refusing to apply without approval (no terminal to ask on)",
            where="command line",
            fix="review a saved plan and run `reconciler apply PLAN --auto-approve`",
        )
    answer = input("\nDo you want to perform these actions? Only 'yes' will be accepted: ")
    if answer.strip() != "yes":
        out.print("Apply cancelled.")
        return False
    return True


def _execute(
    args: argparse.Namespace,
    rt: Runtime,
    session: ApplySession,
    out: Console,
    summary: _Summary,
    plan: Plan,
    *,
    record_noop: bool = False,
    context: dict[str, Any] | None = None,
    waived: dict[str, str] | None = None,
) -> int:
    who = session.actor
    overrides = {**(waived or {}), **{name: args.reason for name in args.override}}
    context = {"commit": plan.git_commit, "plan": plan, **(context or {})}
    stream = OutcomeStream(out, plan, rt.clock, rt.journal.intent, order_sentence)
    try:
        result = apply_plan(plan, rt, actor=who, overrides=overrides, on_outcome=stream, session=session)
    # refused before sending (stale, market closed, ...): the job summary says why
    except ReconcilerError as error:
        summary.write("refused", error.render(), **context)
        raise
    finally:
        stream.close()
    if result.status in ("noop", "already-applied"):
        if result.status == "noop" and record_noop and plan.git_commit:
            # Journal the commit as applied even with nothing to send, so it is applied once, like any other.
            apply_id = rt.journal.start_apply(plan.content_hash, plan.targets_hash, plan.git_commit, who)
            rt.journal.finish_apply(apply_id, "noop", "no changes at this commit")
        out.print(f"[green]Nothing to do:[/green] {result.message}.")
        summary.write("nothing to do", result.message, **context)
        return 0
    journaled = rt.journal.intents_for_plan(plan.content_hash)
    _print_end(result, journaled, out, stream)
    record = show(rt.journal, result.apply_id) if result.apply_id else None
    summary.write(result.status, _outcome_line(result, journaled), record=record, **context)
    return 0 if result.ok else 1


def _outcome_line(result: ApplyResult, journaled: dict[str, dict[str, Any]]) -> str:
    """The apply in one line, counted from the journal's final state of its orders."""
    rows = [journaled.get(o.client_order_id) for o in result.outcomes]
    filled = sum(1 for r in rows if r is not None and r["status"] == "filled")
    part = sum(1 for r in rows if r is not None and r["status"] != "filled" and filled_of(r) > 0)
    partly = f", {part} partly filled (the next plan picks up the rest)" if part else ""
    refused = f"; {len(result.refused)} portfolio(s) not traded" if result.refused else ""
    return (f"Apply {result.apply_id} {result.status}: {filled}/{len(result.outcomes)} orders"
            f" filled{partly}{refused}.")


def _print_end(
    result: ApplyResult, journaled: dict[str, dict[str, Any]], out: Console, stream: OutcomeStream
) -> None:
    """After the orders (streamed as they happened): the portfolios not traded, an interruption, the totals
    and the outcome in one line."""
    for name, why in sorted(result.refused.items()):
        out.print(f"  [red]not traded[/red] portfolio {escape(name)}: {escape('; '.join(why))}")
    if result.interrupted is not None:
        out.print(f"  [red]interrupted[/red]: {escape(result.interrupted)}")
    stream.finish()
    out.print(f"\n{_outcome_line(result, journaled)} See `reconciler show {(result.apply_id or '')[:8]}`.")
