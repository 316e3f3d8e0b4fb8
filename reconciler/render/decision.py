"""What a reviewer decides on, worked out once for the comment's opening block and its portfolio sections.

The comment opens with the decision: what merging will trade (per portfolio: orders, two-sided notional, the
envelope apply holds it to), what is blocked and why (denials grouped by policy and level, with counts), what
needs an override, and the notes that change the outcome. Portfolios are ordered by severity (blocked, waiting
for an override, warned, clear) and then by size, so a plan of hundreds shows its worst and largest first and
counts the rest. Every "and N more" says where the rest is: a section that is posted, or the plan artifact.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from reconciler.core.attribution import Cause
from reconciler.core.models import Level, Plan, PolicyResult, PortfolioPlan
from reconciler.core.numbers import ZERO
from reconciler.core.rules import EnvelopeSettings
from reconciler.render.fmt import money

DECISION_ROWS = 15  # portfolios named in each list of the opening block before the rest is counted
GROUP_NAMES = 3  # portfolios named per policy group
NOTE_ROWS = 10  # notes quoted in the opening block

# Severity, worst first: the order of the opening block's lists and of the portfolio sections.
BLOCKED, OVERRIDE, WARNED, CLEAR = range(4)
_LEVELS: dict[str, int] = {"hard-mandatory": 0, "soft-mandatory": 1, "advisory": 2}

# Notes that change what merging does: cash not spent, orders not placed, a portfolio not traded. Matched on
# the planner's own wording (core/planner.py), which a test keeps in step.
_WEIGHTY = re.compile(
    r"unsettled cash is not spent|under the minimum trade|would cost more than|no spendable cash|buying"
    r" nothing|still open at the broker|market was closed|less than one quantity"
)


def weighty(note: str) -> bool:
    """Whether a planner note changes what merging does (and so is shown, never folded)."""
    return _WEIGHTY.search(note) is not None


@dataclass(frozen=True)
class Row:
    """One portfolio as the decision sees it."""

    pp: PortfolioPlan
    severity: int
    results: list[PolicyResult]
    cause: Cause | None
    turnover_cap: Decimal | None  # the envelope: the most turnover apply accepts on merge

    @property
    def name(self) -> str:
        """The portfolio's name."""
        return self.pp.name

    @property
    def notional(self) -> Decimal:
        """Two-sided: bought plus sold."""
        return self.pp.buy_notional + self.pp.sell_notional

    @property
    def notes(self) -> list[str]:
        """The notes worth a reader's attention."""
        return [n for n in self.pp.notes if weighty(n)]

    @property
    def shown(self) -> bool:
        """Whether it gets a section: it trades, is blocked, a policy said something or a note matters."""
        return bool(self.pp.actions or self.pp.blocked or self.results or self.notes)


@dataclass(frozen=True)
class Group:
    """The results of one policy at one level and kind, over every portfolio it names (worst portfolio
    first)."""

    policy: str
    kind: str
    level: Level
    effect: str  # blocks | override | overridden | advisory | warning
    rows: list[Row]
    example: PolicyResult


@dataclass(frozen=True)
class Decision:
    """The opening block's content, and the order of the sections after it."""

    rows: list[Row]  # every portfolio, worst and largest first
    trading: list[Row]  # those whose orders go out on merge
    held: list[Row]  # those with orders that a blocking denial holds back
    groups: list[Group]
    notes: list[tuple[Row, str]]
    orders: int
    buys: int
    notional: Decimal
    buy_notional: Decimal
    sell_notional: Decimal
    commissions: Decimal
    turnover: Decimal
    change_orders: int  # of the orders going out, those the pull request's target changes cause
    drift_orders: int  # and those old drift causes (None of either without a base commit: see `attributed`)
    attributed: bool
    # every changed portfolio was planned again with its base targets: drift is counted per order
    replanned: bool
    posted: frozenset[str] = field(default_factory=frozenset)  # portfolios with a section in a posted comment

    @property
    def sections(self) -> list[Row]:
        """The rows shown, in order of severity."""
        return [r for r in self.rows if r.shown]

    def elsewhere(self, rows: Sequence[Row]) -> str:
        """Where rows the opening block does not name are: "3 in their sections below, 2 only in the plan
        file"."""
        below = sum(1 for r in rows if r.name in self.posted)
        said = []
        if below:
            said.append(f"{below} in {'its section' if below == 1 else 'their sections'} below")
        if len(rows) - below:
            said.append(f"{len(rows) - below} only in the plan file (the `reconciler-plan` artifact,"
                        " `plan.json`)")
        return ", ".join(said)


def severity(pp: PortfolioPlan, results: Sequence[PolicyResult], overrides: Collection[str]) -> int:
    """How bad a portfolio's plan is (blocked, needs override, ok), which orders and colours the outputs."""
    blocking = [r for r in results if r.blocks(overrides)]
    if pp.blocked or any(r.level == "hard-mandatory" for r in blocking):
        return BLOCKED
    if blocking:
        return OVERRIDE
    return WARNED if results else CLEAR


def _effect(r: PolicyResult, overrides: Collection[str]) -> str:
    if r.kind == "warn":
        return "warning"
    if r.overridden(overrides):
        return "overridden"
    if not r.blocking:
        return "advisory"
    return "blocks" if r.level == "hard-mandatory" else "override"


_EFFECTS = ("blocks", "override", "overridden", "advisory", "warning")


def decide(
    plan: Plan,
    envelope: EnvelopeSettings | None = None,
    causes: Mapping[str, Cause] | None = None,
    posted: Collection[str] | None = None,
) -> Decision:
    """The decision a plan puts to its reviewer. `posted`: the portfolios whose sections are posted (all by
    default)."""
    overrides = plan.overridden_policies
    by_portfolio = plan.results_by_portfolio
    rows = []
    for pp in plan.portfolios:
        results = by_portfolio.get(pp.name, [])
        cap = None
        if envelope is not None and pp.actions:
            cap = pp.turnover * (1 + envelope.turnover_band)
        rows.append(Row(pp, severity(pp, results, overrides), results, (causes or {}).get(pp.name), cap))
    rows.sort(key=lambda r: (r.severity, -r.notional, r.name))
    trading = [r for r in rows if r.pp.actions and r.severity > OVERRIDE]
    held = [r for r in rows if r.pp.actions and r.severity <= OVERRIDE]
    actions = [a for r in trading for a in r.pp.actions]
    buy = sum((r.pp.buy_notional for r in trading), ZERO)
    sell = sum((r.pp.sell_notional for r in trading), ZERO)
    equity = sum((r.pp.equity for r in trading), ZERO)
    drift = sum(
        1 for r in trading if r.cause is not None for a in r.pp.actions
        if r.cause.drift_quantity(a.symbol, a.side) >= a.quantity
    )
    order = {name: i for i, name in enumerate(r.name for r in rows)}
    grouped: dict[tuple[str, str, Level, str], list[tuple[Row, PolicyResult]]] = {}
    row_of = {r.name: r for r in rows}
    for res in plan.policy_results:
        row = row_of.get(res.portfolio)
        if row is None:
            continue
        grouped.setdefault((res.policy, res.kind, res.level, _effect(res, overrides)), []).append((row, res))
    groups = []
    for (policy, kind, level, effect), hits in grouped.items():
        hits.sort(key=lambda h: order[h[0].name])
        named = list({h[0].name: h[0] for h in hits}.values())
        groups.append(Group(policy, kind, level, effect, named, hits[0][1]))
    groups.sort(key=lambda g: (_EFFECTS.index(g.effect), _LEVELS[g.level], -len(g.rows), g.policy))
    return Decision(
        rows=rows, trading=trading, held=held, groups=groups,
        notes=[(r, n) for r in rows for n in r.notes],
        orders=len(actions), buys=sum(1 for a in actions if a.side == "buy"), notional=buy + sell,
        buy_notional=buy, sell_notional=sell, commissions=sum((a.est_commission for a in actions), ZERO),
        turnover=(buy + sell) / equity if equity > 0 else ZERO,
        change_orders=len(actions) - drift if causes is not None else 0, drift_orders=drift,
        attributed=causes is not None and plan.base_commit is not None,
        replanned=all(r.cause.replanned for r in trading if r.cause is not None),
        posted=frozenset(r.name for r in rows if r.shown) if posted is None else frozenset(posted),
    )


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def verdict(d: Decision) -> str:
    """The decision in one sentence, worst first: a denial leads, never "no changes" (our words and numbers
    only)."""
    blocked = [r for r in d.rows if r.severity == BLOCKED]
    waiting = [r for r in d.rows if r.severity == OVERRIDE]
    said = []
    if blocked:
        said.append(f"{_n(len(blocked), 'portfolio')} {'is' if len(blocked) == 1 else 'are'} blocked")
    if waiting:
        said.append(f"{_n(len(waiting), 'portfolio')} {'waits' if len(waiting) == 1 else 'wait'} for an"
                    " override")
    if d.trading:
        trades = (f"merging places {_n(d.orders, 'order')} in {_n(len(d.trading), 'portfolio')}"
                  f" ({money(d.notional)} traded)")
    elif said:
        trades = "merging places no orders"
    elif any(r.pp.outside_bands for r in d.rows):
        trades = ("merging places no orders, though some portfolios are outside their bands (the notes say"
                  " why)")
    else:
        trades = "merging places no orders: every portfolio is within its bands"
    sentence = "; ".join([*said, trades]) if said else trades
    return sentence[0].upper() + sentence[1:] + "."
