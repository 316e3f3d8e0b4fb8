"""Lots against positions at every plan (issue 26, Ledger): where the journal's lots do not account for what
the broker holds (a transfer, a corporate action, a trade made elsewhere), the plan says so per symbol and
records it, and nothing tax-aware is done for that symbol until the ledger is fixed; nothing guesses. Pure:
the shell puts the lots on the observation (execution.planning), so apply re-derives the same plan."""

from __future__ import annotations

from reconciler.core.ledger import LotMismatch, disagreement_notes, mismatches
from reconciler.core.models import Observation, PortfolioPlan


def with_lot_agreement(pp: PortfolioPlan, obs: Observation) -> PortfolioPlan:
    """The plan with a note and a `lot_mismatches` entry per symbol whose lots disagree with the broker;
    unchanged for an account whose observation carries no lots (a portfolio without a `tax:` block)."""
    if obs.lots is None:
        return pp
    differ = mismatches(obs.lots, obs.positions)
    if not differ:
        return pp
    return pp.model_copy(update={
        "lot_mismatches": {s: LotMismatch(ledger=held, broker=have) for s, (held, have) in differ.items()},
        "notes": [*pp.notes, *disagreement_notes(differ)],
    })
