"""Approve an envelope, not exact orders: how far orders recomputed at apply time may stray from the reviewed
ones.

Prices move between review and merge, so the orders recomputed on merge never equal the reviewed ones exactly.
The reviewed plan defines an envelope: per portfolio and symbol, the side and the notional within
`notional_band` of the reviewed notional, and the portfolio's turnover at most `turnover_band` above the
reviewed turnover. An order the reviewed plan did not contain is outside; an order the new plan no longer
needs (the holding drifted back within its band) is allowed, since not trading never moves an account further
from what was reviewed. Pure: plain values in, a verdict out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from reconciler.core.models import Plan, Side
from reconciler.core.numbers import ONE, ZERO, money
from reconciler.core.rules import EnvelopeSettings

# defined with every other error; importable here too
from reconciler.errors import EnvelopeError as EnvelopeError


@dataclass(frozen=True)
class Bound:
    """The approved range of one order: side fixed, notional in [low, high]."""

    portfolio: str
    symbol: str
    side: Side
    reviewed: Decimal
    low: Decimal
    high: Decimal

    def contains(self, side: Side, notional: Decimal) -> bool:
        """Whether an order of this side and notional stays within the reviewed bound."""
        return side == self.side and self.low <= notional <= self.high


@dataclass(frozen=True)
class Breach:
    """One way the new orders leave the envelope, said in words a reviewer understands."""

    portfolio: str
    symbol: str | None
    message: str

    def render(self) -> str:
        """The breach as one line naming the portfolio and symbol."""
        where = f"{self.portfolio} {self.symbol}" if self.symbol else self.portfolio
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class EnvelopeCheck:
    """A new plan judged against the reviewed plan's envelope: the bounds, and every breach that refuses it.
    A new plan judged against the reviewed plan's envelope: the bounds, and every breach that refuses it."""

    reviewed_hash: str
    bounds: list[Bound]
    breaches: list[Breach] = field(default_factory=list)
    dropped: list[Bound] = field(default_factory=list)
    max_deviation: Decimal = ZERO

    @property
    def ok(self) -> bool:
        """Whether the new plan stays within the envelope, so apply on merge may go on."""
        return not self.breaches


def _orders(plan: Plan) -> dict[tuple[str, str], tuple[Side, Decimal]]:
    """(portfolio, symbol) → (side, notional); the planner emits at most one order per symbol and
    portfolio."""
    out: dict[tuple[str, str], tuple[Side, Decimal]] = {}
    for pp in plan.portfolios:
        for a in pp.actions:
            key = (pp.name, a.symbol)
            # never from the planner; summed by signed notional so the check stays well defined
            if key in out:
                side, n = out[key]
                signed = (n if side == "buy" else -n) + (a.notional if a.side == "buy" else -a.notional)
                out[key] = ("buy" if signed >= 0 else "sell", abs(signed))
            else:
                out[key] = (a.side, a.notional)
    return out


def envelope_of(plan: Plan, settings: EnvelopeSettings) -> list[Bound]:
    """The bounds a reviewer approves along with a plan, one per order."""
    band = settings.notional_band
    return [
        Bound(portfolio, symbol, side, n, n * (ONE - band), n * (ONE + band))
        for (portfolio, symbol), (side, n) in sorted(_orders(plan).items())
    ]


def check_envelope(
    reviewed: Plan, current: Plan, settings: EnvelopeSettings,
    done: dict[tuple[str, str], Decimal] | None = None
) -> EnvelopeCheck:
    """Is every order of `current` inside the envelope `reviewed` defines?

    `done` is what earlier, partial applies of the same commit already traded ((portfolio, symbol) → signed
    notional, buys positive): the re-run's orders plus those must stay inside the bounds, so finishing an
    interrupted apply is allowed and trading the reviewed amount twice is not.
    """
    done = done or {}
    bounds = envelope_of(reviewed, settings)
    breaches: list[Breach] = []
    breaches += _target_breaches(reviewed, current)
    if sorted(reviewed.config_accounts) != sorted(current.config_accounts):
        breaches.append(Breach("accounts", None, "the configured accounts differ from the reviewed plan's"))
    by_key = {(b.portfolio, b.symbol): b for b in bounds}
    orders = _orders(current)
    deviation = ZERO
    for (portfolio, symbol), (side, notional) in sorted(orders.items()):
        bound = by_key.get((portfolio, symbol))
        if bound is None:
            breaches.append(
                Breach(portfolio, symbol, f"{side} {money(notional)} was not in the reviewed plan")
            )
            continue
        if side != bound.side:
            breaches.append(
                Breach(portfolio, symbol, f"now a {side} of {money(notional)}; the reviewed plan had a"
                       f" {bound.side}")
            )
            continue
        signed = done.get((portfolio, symbol), ZERO)
        before = signed if side == "buy" else -signed  # what earlier runs traded in this order's direction
        total = notional + before
        if bound.reviewed > 0:
            deviation = max(deviation, abs(total - bound.reviewed) / bound.reviewed)
        if before == 0 and not bound.contains(side, notional):
            change = (notional - bound.reviewed) / bound.reviewed if bound.reviewed > 0 else ONE
            breaches.append(
                Breach(
                    portfolio, symbol,
                    f"{side} {money(notional)} is {change:+.1%} from the reviewed {money(bound.reviewed)},"
                    f" outside ±{settings.notional_band:.0%} ({money(bound.low)}–{money(bound.high)})",
                )
            )
        elif before != 0 and total > bound.high:
            # Finishing an interrupted apply may need less than the rest (prices moved, or a fill came in at a
            # better price), never more than the reviewed order in all.
            breaches.append(
                Breach(
                    portfolio, symbol,
                    f"{side} {money(notional)} on top of {money(before)} already traded at this commit is"
                    f" {money(total)}, above the reviewed {money(bound.reviewed)}"
                    f" +{settings.notional_band:.0%} ({money(bound.high)})",
                )
            )
    breaches += _turnover_breaches(reviewed, current, settings.turnover_band)
    dropped = [b for b in bounds if (b.portfolio, b.symbol) not in orders]
    return EnvelopeCheck(reviewed.content_hash, bounds, breaches, dropped, deviation)


def _target_breaches(reviewed: Plan, current: Plan) -> list[Breach]:
    """Targets that differ from the reviewed ones, where it matters.

    Per portfolio: a portfolio the reviewed plan changed must still have the reviewed targets (its change was
    not changed again), and a portfolio with orders now must have the targets its orders were reviewed
    against. A portfolio another pull request changed since, which needs no orders now (its own apply ran),
    does not void this plan. Plans written before per-portfolio hashes compare all targets at once.
    """
    if not reviewed.portfolio_hashes or not current.portfolio_hashes:
        if reviewed.targets_hash == current.targets_hash:
            return []
        return [Breach(
            "targets", None,
            "the targets at this commit differ from the reviewed plan's (another change was merged after the"
            " plan was reviewed, or the plan belongs to another pull request)",
        )]
    changed_by_review = {c.portfolio for c in reviewed.target_changes}
    trading = {pp.name for pp in current.portfolios if pp.actions}
    out = []
    for name in sorted(set(reviewed.portfolio_hashes) | set(current.portfolio_hashes)):
        if reviewed.portfolio_hashes.get(name) == current.portfolio_hashes.get(name):
            continue
        if name in changed_by_review:
            out.append(Breach(
                name, None,
                "its targets at this commit differ from the reviewed change (another pull request changed"
                " this portfolio after the review)",
            ))
        elif name in trading:
            out.append(Breach(
                name, None,
                "its targets at this commit differ from the reviewed plan's (another pull request changed"
                " them), and it has orders now that this review did not approve",
            ))
    return out


def _turnover_breaches(reviewed: Plan, current: Plan, band: Decimal) -> Iterable[Breach]:
    before = {pp.name: pp.turnover for pp in reviewed.portfolios}
    for pp in current.portfolios:
        if not pp.actions:
            continue
        limit = before.get(pp.name, ZERO) * (ONE + band)
        if pp.turnover > limit:
            yield Breach(
                pp.name, None,
                f"turnover {pp.turnover:.2%} is above the reviewed {before.get(pp.name, ZERO):.2%}"
                f" + {band:.0%} (at most {limit:.2%})",
            )
