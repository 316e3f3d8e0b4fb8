"""The policies at apply: every order is judged as it will be sent — its quantity after any shrinking, priced
at the quote it is sent with — before it is sent.

Judging costs one policy evaluation (rego-cpp: a few milliseconds, most of an order's CPU). So a portfolio's
orders are first judged together, in one apply-phase document holding all of them as they would be sent now:
when nothing in it blocks, each of those orders is cleared as it is. An order sent with another quantity or
quote than the one cleared (shrunk for want of cash, re-quoted), or any order of a set that something blocks,
is judged alone, and a block then stops that order only. This holds because policies deny on the presence of
an action (`some a in input.actions`), never on its absence or on how many there are: what denies an order
alone denies it among others (docs/policies.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from functools import cached_property

from reconciler.core.checks import OrderInput, order_denials
from reconciler.core.models import Action, PolicyResult, PortfolioPlan, Quote
from reconciler.core.order_size import independent_price
from reconciler.core.valuation import floors_of
from reconciler.execution.services import Services
from reconciler.journal.prices import last_fill_prices
from reconciler.policy.inputs import policy_input

_Key = tuple[int, Decimal, Decimal | None, datetime | None]


def _priced(action: Action, quote: Quote | None) -> Action:
    return (
        action
        if quote is None
        else replace(action, price=quote.price, notional=quote.price * action.quantity)
    )


def _key(action: Action, quote: Quote | None) -> _Key:
    return (
        action.leg,
        action.quantity,
        None if quote is None else quote.price,
        None if quote is None else quote.as_of,
    )


@dataclass
class OrderGate:
    """One portfolio's orders through the built-in send-phase checks and the policies, within one apply."""

    rt: Services
    pp: PortfolioPlan
    plan_hash: str
    apply_id: str
    overrides: dict[str, str]
    actor: str
    cleared: set[_Key] = field(default_factory=set)
    evaluations: int = 0  # policy evaluations run (what clearing saves), for tests and benchmarks

    @cached_property
    def _targets(self) -> dict[str, Decimal]:
        return {h.symbol: h.weight_target for h in self.pp.holdings}

    @cached_property
    def _fills(self) -> dict[str, Decimal]:
        # The journal's fill prices now, not the ones the plan file says it was made with.
        return last_fill_prices(self.rt.journal, {a.symbol for a in self.pp.actions})

    @cached_property
    def _floors(self) -> dict[str, Decimal]:
        desired = self.rt.workspace.by_name.get(self.pp.name)
        return floors_of(desired.symbols) if desired is not None else {}

    def prejudge(self, orders: list[tuple[Action, Quote | None]]) -> None:
        """Judge these orders together, as they would be sent now; when nothing blocks, each is cleared."""
        orders = [(a, q) for a, q in orders if a.quantity > 0 and _key(a, q) not in self.cleared]
        if len(orders) < 2:
            return  # one order is judged when it is sent, as it is sent
        results = self._evaluate([_priced(a, q) for a, q in orders], {a.symbol: q for a, q in orders if q})
        if any(r.blocks(self.overrides) for r in results):
            return  # some order is denied: each is judged alone when it is sent, so the denial names it
        self._record(results)
        self.cleared.update(_key(a, q) for a, q in orders)

    def check(self, action: Action, quote: Quote | None, held: Decimal) -> str | None:
        """Why this order, as it will be sent, must not be sent (a blocking denial), or None."""
        priced = _priced(action, quote)
        # The built-in checks of the send phase first (core.checks): hard-mandatory, never overridable.
        builtin = order_denials(OrderInput(
            self.pp.name, priced, quote, held, self.pp.equity, self.rt.size_limits,
            self._targets.get(action.symbol), independent_price(action.symbol, self._fills, self._floors),
        ))
        if builtin:
            self._record(builtin)
            return "; ".join(f"{r.policy}: {r.message}" for r in builtin)
        if _key(action, quote) in self.cleared:
            return None
        results = self._evaluate([priced], {action.symbol: quote} if quote is not None else {})
        self._record(results)
        blocking = [r for r in results if r.blocks(self.overrides)]
        return "; ".join(f"{r.policy}: {r.message}" for r in blocking) or None

    def _evaluate(self, actions: list[Action], quotes: dict[str, Quote]) -> list[PolicyResult]:
        self.evaluations += 1
        params = self.rt.workspace.config.policies.params
        doc = policy_input(
            self.pp, params, phase="apply", now=self.rt.clock.now(), actions=actions, quotes=quotes
        )
        return self.rt.policies.evaluate(doc, self.pp.name)

    def _record(self, results: list[PolicyResult]) -> None:
        self.rt.journal.record_policies(
            results, plan_hash=self.plan_hash, phase="apply", apply_id=self.apply_id,
            overrides=self.overrides,
            actor=self.actor,
        )
