"""Apply on merge for a sequence of merges: which reviewed plan's envelope each portfolio is applied within.

The apply job at the tip of main applies every change merged since the last applied commit. The commits
between the two (first parents: one per merge, squash or direct push) each come with the plan reviewed on
their pull request, or none. A portfolio is applied within the envelope of the pull request that last changed
it; when that commit has no reviewed plan (a direct push) or its plan was reviewed with other targets for the
portfolio (planned before another change to it merged), a later reviewed plan that was reviewed with the
portfolio exactly as it is now covers it. A portfolio nobody changed in the sequence is covered by the newest
such plan, as a single merge's plan covers the drift it showed. A portfolio no reviewed plan covers is refused
by name when it has orders now. Pure: plain values in, a verdict out (docs/gitops.md, "A sequence of merges").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from reconciler.core.envelope import Breach, EnvelopeCheck, check_envelope
from reconciler.core.models import Plan
from reconciler.core.numbers import ZERO
from reconciler.core.rules import EnvelopeSettings

UNCOVERED = "no reviewed plan covers it"


@dataclass(frozen=True)
class Landed:
    """One first-parent commit of main since the last applied one, oldest first, with what it changed."""

    commit: str
    changed: frozenset[str] = frozenset()  # portfolios whose resolved targets this commit changed
    plan: Plan | None = None  # the plan reviewed on its pull request, when one was found
    pr: int | None = None
    why: str = ""  # why there is no reviewed plan (a direct push, no plan run, an expired artifact, ...)

    @property
    def label(self) -> str:
        """How messages name the change: its pull request, else its commit."""
        short = self.commit[:12]
        return f"pull request #{self.pr} ({short})" if self.pr else f"commit {short}"


@dataclass(frozen=True)
class Cover:
    """The reviewed plan a portfolio is applied within, or why none is."""

    portfolio: str
    by: Landed | None
    changed_by: Landed | None  # the last commit of the sequence that changed it
    reason: str = ""

    @property
    def plan(self) -> Plan | None:
        """The reviewed plan that covers the change, if any."""
        return self.by.plan if self.by else None


@dataclass(frozen=True)
class SequenceCheck:
    """The verdict for the whole sequence: one envelope check per covered portfolio, merged, plus refusals."""

    covers: list[Cover]
    check: EnvelopeCheck
    notes: list[str] = field(default_factory=list)


def covers(landed: Sequence[Landed], current_hashes: Mapping[str, str]) -> list[Cover]:
    """Per portfolio at the tip: the reviewed plan that covers it (see the module's rule)."""
    out = []
    for name in sorted(current_hashes):
        last = max((i for i, c in enumerate(landed) if name in c.changed), default=None)
        changer = landed[last] if last is not None else None
        later = [c for c in reversed(landed[(last if last is not None else 0):]) if c is not changer]
        candidates = ([changer] if changer else []) + later
        by = next(
            (
                c
                for c in candidates
                if c.plan is not None and c.plan.portfolio_hashes.get(name) == current_hashes[name]
            ),
            None,
        )
        reason = ""
        if by is None:
            if changer is not None and changer.plan is None:
                reason = f"its change came from {changer.label} with no reviewed plan ({changer.why})"
            elif changer is not None:
                reason = (f"the plan reviewed on {changer.label} has other targets for it than main now has"
                          " (it was"
                          " planned before another change to it merged), and no later reviewed plan has"
                          " these")
            else:
                reason = "no reviewed plan since the last applied commit was made with its current targets"
        out.append(Cover(name, by, changer, reason))
    return out


def _only(plan: Plan, name: str) -> Plan:
    """The plan narrowed to one portfolio, for the per-portfolio envelope check."""
    return plan.model_copy(update={
        "portfolios": [p for p in plan.portfolios if p.name == name],
        "target_changes": [c for c in plan.target_changes if c.portfolio == name],
        "portfolio_hashes": {k: v for k, v in plan.portfolio_hashes.items() if k == name},
    })


def check_sequence(
    landed: Sequence[Landed], current: Plan, settings: EnvelopeSettings,
    done: Mapping[str, Mapping[tuple[str, str], Decimal]] | None = None,
) -> SequenceCheck:
    """Every portfolio of `current` checked against the envelope of the reviewed plan that covers it.

    `done` is what earlier, partial applies traded, per commit of the sequence; a portfolio counts what was
    traded at its covering commit and after it, so finishing an interrupted apply never trades the reviewed
    amount twice.
    """
    done = done or {}
    found = covers(landed, current.portfolio_hashes)
    trading = {p.name for p in current.portfolios if p.actions}
    bounds, breaches, dropped, notes = [], [], [], []
    deviation = ZERO
    hashes = []
    for cover in found:
        name = cover.portfolio
        plan = cover.plan
        if plan is None or cover.by is None:
            if name in trading:
                breaches.append(Breach(name, None, f"{UNCOVERED}: {cover.reason}"))
            elif cover.changed_by is not None:
                notes.append(f"{name}: {cover.reason}; it needs no orders now, so nothing is refused")
            continue
        if cover.by is not (landed[-1] if landed else None):
            notes.append(f"{name}: within the plan reviewed on {cover.by.label}")
        start = next(i for i, c in enumerate(landed) if c is cover.by)
        since = [c.commit for c in landed[start:]]
        traded: dict[tuple[str, str], Decimal] = {}
        for commit in since:
            for key, notional in done.get(commit, {}).items():
                if key[0] == name:
                    traded[key] = traded.get(key, ZERO) + notional
        check = check_envelope(_only(plan, name), _only(current, name), settings, traded)
        hashes.append(plan.content_hash[:12])
        bounds += check.bounds
        breaches += [
            b if b.portfolio != "accounts" else Breach(name, None, b.message) for b in check.breaches
        ]
        dropped += check.dropped
        deviation = max(deviation, check.max_deviation)
    merged = EnvelopeCheck(",".join(sorted(set(hashes))), bounds, breaches, dropped, deviation)
    return SequenceCheck(found, merged, notes)


def reviewed_overrides(plans: Sequence[Plan]) -> dict[str, str]:
    """The overrides apply honours: those every plan covering a trading portfolio carries. An apply's
    overrides hold for all its portfolios, so one pull request's override must never waive a policy for
    another's portfolio."""
    if not plans:
        return {}
    common = set.intersection(*(p.overridden_policies for p in plans))
    return {
        name: "; ".join(sorted({o.journal_reason() for p in plans for o in p.overrides if o.policy == name}))
        for name in sorted(common)
    }


def batch_uncovered(
    landed: Sequence[Landed], current_hashes: Mapping[str, str]
) -> tuple[list[Cover], list[Cover]]:
    """A merge queue's batch before it merges: (covered, uncovered) among the portfolios its commits changed.
    Apply on merge would refuse an uncovered one whenever it has orders; the queue refuses it before it
    reaches main."""
    changed = set().union(*(c.changed for c in landed)) if landed else set()
    found = [c for c in covers(landed, current_hashes) if c.portfolio in changed]
    return [c for c in found if c.by is not None], [c for c in found if c.by is None]
