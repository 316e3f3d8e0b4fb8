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
    notional: Decimal  # price × quantity


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
    # Without a limit band size_leg sends a sell as planned (a market order): that answer without the call;
    # and a market order fills at the quote times the side's factor (FillModel.fill's first branch, inline).
    market_sells = fills.costs.limit_band is None
    charge, buy_factor, sell_factor = fills.charge, fills.buy, fills.sell
    events, sent, done = day.events, day.sent, day.filled
    for a in actions:
        quote = quotes.get(a.symbol)
        side = a.side
        if market_sells and side == "sell":
            qty, limit = a.quantity, None
        else:
            sized = size_leg(a, quote, budget, trading, fills.costs, unit)
            if isinstance(sized, SkippedLeg):
                events.append(("skipped", f"{side} {a.quantity} {a.symbol}: {sized.message}"))
                continue
            if sized.shrunk is not None:
                events.append(("shrunk", f"buy {a.symbol}: {sized.shrunk}"))
            qty, limit = sized.quantity, sized.limit
        sent.append((a.symbol, side, qty, limit))
        price = a.price if quote is None else quote.price
        if market_sells and limit is None:
            fill = price * (buy_factor if side == "buy" else sell_factor)
            notional = fill * qty
            commission = charge(qty, notional)
        else:
            filled = fills.fill(side, qty, price, limit)
            if filled is None:  # the limit is not reached: cancelled unfilled, as apply would
                events.append(("unfilled", f"{side} {qty} {a.symbol}: limit not reached"))
                continue
            fill, commission = filled
            notional = fill * qty
        if side == "sell":
            day.cash += notional - commission
        elif notional + commission > day.cash:
            # The paper broker rejects an order without the buying power for it.
            message = f"buy {qty} {a.symbol}: needs {notional + commission:.2f}, has {day.cash:.2f}"
            events.append(("rejected", message))
            continue
        else:
            day.cash -= notional + commission
        budget = budget_after(budget, side, notional, commission, trading)
        done.append(Filled(a, qty, limit, fill, commission, notional))
    return day
