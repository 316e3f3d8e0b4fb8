"""Booking one fill in the emulator's books: what a fill moves in the account (position, cost basis, cash or
unsettled proceeds, fees) and what it tells (the order's status, the trade_updates event, the FILL
activity)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from reconciler.core.numbers import ZERO
from reconciler.emulator import fees
from reconciler.emulator.accounts import EmuAccount, EmuOrder
from reconciler.emulator.market import iso

if TYPE_CHECKING:
    from reconciler.emulator.state import Emulator


def stamp_id(ts: datetime) -> str:
    """Alpaca's activity ids: the time to the millisecond, then `::` and a unique part (they sort by time)."""
    return ts.strftime("%Y%m%d%H%M%S") + f"{ts.microsecond // 1000:03d}"


def book_fill(emu: Emulator, acct: EmuAccount, o: EmuOrder, qty: Decimal, price: Decimal) -> None:
    """Book one fill of `o`: the position and its basis, cash (a buy spends settled cash, then unsettled
    proceeds, then margin; a sale's proceeds settle later), the fees, the order's state, the stream's event
    and the FILL activity."""
    if qty <= 0:
        return
    notional = qty * price
    held = acct.positions.get(o.symbol, ZERO)
    if o.side == "buy":
        acct.positions[o.symbol] = held + qty
        acct.basis[o.symbol] = acct.basis.get(o.symbol, held * price) + notional
        # Settled cash first, then unsettled proceeds (oldest first), then a margin loan: cash goes
        # negative.
        take = min(notional, max(acct.cash, ZERO))
        acct.cash -= take
        need = notional - take
        rest = []
        for amount, settles in sorted(acct.unsettled, key=lambda u: u[1]):
            used = min(amount, need)
            need -= used
            if amount - used > 0:
                rest.append((amount - used, settles))
        acct.unsettled = rest
        acct.cash -= need
    else:
        acct.positions[o.symbol] = held - qty
        if held:
            acct.basis[o.symbol] = acct.basis.get(o.symbol, held * price) * (held - qty) / held
        settles = emu.sessions_after(emu.today(), emu.settlement_days)
        if emu.settlement_days == 0:
            acct.cash += notional
        else:
            acct.unsettled.append((notional, settles))
    if acct.positions[o.symbol] == 0:
        del acct.positions[o.symbol]
        acct.basis.pop(o.symbol, None)
    fees.accrue(acct, emu.now(), emu.today(), o.side, qty, price)
    o.filled_qty += qty
    o.notional_filled += notional
    o.updated = emu.clock.now()
    if o.filled_qty >= o.qty:
        o.status = "filled"
    elif o.status != "pending_cancel":
        o.status = "partially_filled"
    emu.emit(acct, "fill" if o.status == "filled" else "partial_fill", o, {
        # `price`: "the average price per share at which the order was filled" (Alpaca's streaming page).
        "execution_id": str(uuid.uuid4()), "qty": str(qty),
        "price": str((o.notional_filled / o.filled_qty).quantize(Decimal("0.0001"))),
        "position_qty": str(acct.positions.get(o.symbol, ZERO)),
    })
    acct.activities.append(
        {
            "id": f"{stamp_id(emu.now())}::{o.id[:8]}{o.fills_booked:04d}",
            "account_id": emu.account_id(acct),
            "activity_type": "FILL", "transaction_time": iso(emu.now()),
            "type": "fill" if o.status == "filled" else "partial_fill", "price": str(price),
            "qty": str(qty),
            "side": o.side, "symbol": o.symbol, "leaves_qty": str(o.qty - o.filled_qty), "order_id": o.id,
            "cum_qty": str(o.filled_qty), "order_status": o.status if o.status != "pending_cancel"
            else "partially_filled",
        }
    )

