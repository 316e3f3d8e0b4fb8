"""A day's planned orders sent in the backtest as apply sends them: each sized by the one rule apply uses
(core.legs.size_leg: shrunk to the cash really there, skipped without a sound quote or enough cash), then
filled by the paper broker's fill model, which still rejects a buy its cash does not cover (as the paper
broker does)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from reconciler.backtest.costs import FillModel
from reconciler.core.legs import SkippedLeg, budget_after, size_leg
from reconciler.core.models import Action, Quote
from reconciler.core.rules import Trading


# Slotted, not frozen: one per fill (thousands a run), four times cheaper to build; nothing mutates it.
@dataclass(slots=True)
class Filled:
    """One order sent and filled: as planned, as sent, and its fill."""

    action: Action
    quantity: Decimal
    limit: Decimal | None
    price: Decimal
    commission: Decimal


@dataclass
class DayOrders:
    """What became of a day's orders: the fills in order, the events (kind, message), the cash after."""

    cash: Decimal
    filled: list[Filled] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)
    # Every order as sized for sending, filled or not: (symbol, side, quantity, limit), for the replay test.
    sent: list[tuple[str, str, Decimal, Decimal | None]] = field(default_factory=list)


def send_orders(
    actions: list[Action], quotes: Mapping[str, Quote], cash: Decimal, trading: Trading, fills: FillModel
) -> DayOrders:
    """Size each order as apply would (its budget: the cash, then each fill's) and fill it, in order."""
    day = DayOrders(cash)
    budget = cash
    unit = fills.costs.unit_costs()  # in the caller's context, as size_leg would work it out per order
    for a in actions:
        quote = quotes.get(a.symbol)
        sized = size_leg(a, quote, budget, trading, fills.costs, unit)
        if isinstance(sized, SkippedLeg):
            day.events.append(("skipped", f"{a.side} {a.quantity} {a.symbol}: {sized.message}"))
            continue
        if sized.shrunk is not None:
            day.events.append(("shrunk", f"buy {a.symbol}: {sized.shrunk}"))
        qty = sized.quantity
        day.sent.append((a.symbol, a.side, qty, sized.limit))
        price = a.price if quote is None else quote.price
        filled = fills.fill(a.side, qty, price, sized.limit)
        if filled is None:  # the limit is not reached: cancelled unfilled, as apply would
            day.events.append(("unfilled", f"{a.side} {qty} {a.symbol}: limit not reached"))
            continue
        fill, commission = filled
        notional = fill * qty
        if a.side == "buy" and notional + commission > day.cash:
            # The paper broker rejects an order without the buying power for it.
            message = f"buy {qty} {a.symbol}: needs {notional + commission:.2f}, has {day.cash:.2f}"
            day.events.append(("rejected", message))
            continue
        day.cash += notional - commission if a.side == "sell" else -(notional + commission)
        budget = budget_after(budget, a.side, notional, commission, trading)
        day.filled.append(Filled(a, qty, sized.limit, fill, commission))
    return day

