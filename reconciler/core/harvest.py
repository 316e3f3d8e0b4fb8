"""Tax-loss harvesting, pure: the holdings `tax.harvest` sells to realise a loss, swapped into a substitute.

A holding is harvested when one of its lots has an unrealized loss of at least `min_loss` and the holding as
a whole is at a loss: it is sold in full, so the sale realises a net loss whatever the lot method (selling
only the losing lots would need a per-symbol band the planner does not have), and its target weight moves to
a substitute the user named (`tax.substitutes`), which the planner then buys. The wash-sale guard
(core.wash_guard) decides whether the sale and the substitute's buy may go ahead. Live plans and the
backtester run this same function: both plan through core.planner.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from reconciler.core.ledger import HeldLot
from reconciler.core.numbers import ZERO


def unrealized(lot: HeldLot, price: Decimal) -> Decimal:
    """What selling the whole lot at `price` would realise before costs (negative: a loss)."""
    return lot.quantity * price - lot.cost_basis


def harvestable(
    lots: Iterable[HeldLot], prices: Mapping[str, Decimal], positions: Mapping[str, Decimal],
    min_loss: Decimal,
) -> dict[str, Decimal]:
    """symbol → the holding's unrealized loss (negative), for each holding worth harvesting: a lot at a loss
    of `min_loss` or more, the holding at a net loss, and the ledger's lots accounting for every unit held (a
    ledger that disagrees with the broker decides nothing)."""
    by_symbol: dict[str, list[HeldLot]] = {}
    for lot in lots:
        by_symbol.setdefault(lot.symbol, []).append(lot)
    out: dict[str, Decimal] = {}
    for symbol, held in sorted(by_symbol.items()):
        price = prices.get(symbol)
        units = sum((lot.quantity for lot in held), ZERO)
        if price is None or units <= 0 or units != positions.get(symbol, ZERO):
            continue
        results = [unrealized(lot, price) for lot in held]
        total = sum(results, ZERO)
        if total < 0 and min(results) <= -min_loss:
            out[symbol] = total
    return out
