"""Apply on merge (`apply --envelope`): the rules that decide whether the orders computed now may be sent.

A commit is applied once, never after a later one (an old job re-run would undo what came after), and only
when every new order stays within the envelope approved with the reviewed plan that covers its portfolio: one
reviewed plan, or a folder of the reviewed plans of every commit since the last applied one (docs/gitops.md).
The command (cli/apply_cmd.py) parses, calls these in order and prints; nothing here prints or writes the job
summary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.core.envelope import EnvelopeCheck, EnvelopeError, check_envelope
from reconciler.core.models import Plan
from reconciler.core.sequence import UNCOVERED, Landed, check_sequence
from reconciler.errors import ReconcilerError, StalePlanError
from reconciler.execution.judge import judge_reviewed, read_judged_plan
from reconciler.execution.merge_sequence import landed_since_applied
from reconciler.execution.services import Services
from reconciler.gitops.repo import head_commit, is_ancestor
from reconciler.journal.commits import applied_commit, filled_at_commit, filled_by_commit, last_applied_commit


@dataclass(frozen=True)
class Reviewed:
    """What `--envelope` names, read and judged: the commit applied, and one reviewed plan or a folder."""

    source: str  # as given on the command line, for the messages
    commit: str | None  # the targets repository's HEAD, None outside git
    plan: Plan | None  # the one reviewed plan; None for a folder (sequenced)

    @property
    def sequenced(self) -> bool:
        """Whether a folder of reviewed plans was named (each commit checked against its own plan)."""
        return self.plan is None


def read_reviewed(rt: Services, source: str) -> Reviewed:
    """Read what `--envelope` names: a folder of reviewed plans needs git; one plan is judged now."""
    ws = rt.workspace
    commit, _ = head_commit(ws.root, ws.target_files)
    if Path(source).is_dir():
        if not commit:
            raise ReconcilerError(
                "a folder of reviewed plans applies the commits of a git repository; this is none",
                where=str(ws.root),
                fix="run in a clone of the targets repository, or pass one reviewed plan file",
            )
        return Reviewed(source, commit, None)
    reviewed = read_judged_plan(Path(source), rt)
    judge_reviewed(reviewed, rt)
    return Reviewed(source, commit, reviewed)


def refuse_older_than_applied(rt: Services, commit: str) -> None:
    """An old apply job run again must not undo what later commits applied (a change, then its revert, then
    the change's job re-run): a commit that is an ancestor of the last applied one is refused, and so is one
    whose ancestry cannot be told (a shallow clone)."""
    last = last_applied_commit(rt.journal)
    if last is None or last.commit == commit:
        return
    older = is_ancestor(rt.workspace.root, commit, last.commit)
    if older is False:
        return
    why = (
        f"commit {commit[:12]} is older than commit {last.commit[:12]}, applied {str(last.started_at)[:19]}"
        " (apply " + last.apply_id[:8] + "): applying it would undo what came after"
        if older else
        f"cannot tell whether commit {commit[:12]} is older than the last applied commit {last.commit[:12]}"
        " (the history is missing)"
    )
    raise StalePlanError(
        why + "; nothing was sent", where=f"commit {commit[:12]}",
        fix="apply the current tip of the default branch instead (re-run its apply job)" if older else
        "check out the full history (actions/checkout with fetch-depth: 0) and run again",
    )


def already_applied(rt: Services, commit: str) -> str | None:
    """Why nothing is sent for a commit applied already (each commit once), or None when it was not."""
    done = applied_commit(rt.journal, commit, rt.workspace.targets_hash)
    if done is None:
        return None
    return (
        f"commit {commit[:12]} was applied already (apply {done.apply_id[:8]}, {done.status},"
        f" {str(done.started_at)[:19]}); nothing sent"
    )


def landed_since(rt: Services, reviewed: Reviewed) -> list[Landed]:
    """The commits since the last applied one with their reviewed plans, for a folder; none for one plan."""
    if reviewed.plan is not None or not reviewed.commit:
        return []
    return landed_since_applied(rt, Path(reviewed.source), reviewed.commit)


@dataclass
class Verdict:
    """The orders computed now against what was reviewed: the check, what it was made against, the reviewed
    plan shown, and the plans that cover the traded portfolios (their overrides are honoured)."""

    check: EnvelopeCheck
    where: str
    reviewed: Plan | None
    covering: list[Plan] = field(default_factory=list)


def check_merge(
    rt: Services, reviewed: Reviewed, landed: list[Landed], plan: Plan, say: Callable[[str], None]
) -> Verdict:
    """Check the plan made now against the reviewed envelope: per commit landed since the last applied one (a
    folder, or no reviewed plan), else against the one reviewed plan; `say` is told the sequence's notes."""
    band = rt.workspace.config.apply.envelope
    if reviewed.plan is None:  # a folder: each portfolio against the plan of the commits that cover it
        shown = next((c.plan for c in reversed(landed) if c.plan is not None), None)
        result = check_sequence(landed, plan, band, filled_by_commit(rt.journal, [c.commit for c in landed]))
        for note in result.notes:
            say(note)
        trading = {p.name for p in plan.portfolios if p.actions}
        covering = [c.plan for c in result.covers if c.portfolio in trading and c.plan is not None]
        for judged in {p.content_hash: p for p in covering}.values():
            judge_reviewed(judged, rt)  # its overrides are honoured: its verdicts must be its own
        where = f"reviewed plans of {len(landed)} commit(s) since the last applied one ({reviewed.source})"
        return Verdict(result.check, where, shown, covering)
    commit = reviewed.commit
    traded = filled_at_commit(rt.journal, commit, rt.workspace.targets_hash) if commit else {}
    check = check_envelope(reviewed.plan, plan, band, traded)
    where = f"reviewed plan {reviewed.source} ({reviewed.plan.content_hash[:12]})"
    return Verdict(check, where, reviewed.plan, [reviewed.plan])


def envelope_refusal(verdict: Verdict) -> EnvelopeError:
    """The error of orders that leave the envelope, with what to do about it by the kind of breach."""
    return EnvelopeError(
        "the orders computed now leave the envelope approved with the reviewed plan: "
        + "; ".join(b.render() for b in verdict.check.breaches),
        where=verdict.where, fix=_envelope_fix(verdict.check),
    )


def _envelope_fix(check: EnvelopeCheck) -> str:
    """What to do about a breach, by its kind: no reviewed plan, other targets, or prices that moved."""
    if any(b.message.startswith(UNCOVERED) for b in check.breaches):
        why = ("A portfolio with orders now has no reviewed plan: open a pull request planned on top of this"
               " commit (a comment change under portfolios/ is enough), review the orders its plan shows and"
               " merge it")
    elif any(b.symbol is None for b in check.breaches):
        why = "The targets or accounts at this commit are not the reviewed ones"
    else:
        why = "Prices or holdings moved too far since the review"
    return f"nothing was sent. {why}: re-plan on a new pull request and review the new orders"
