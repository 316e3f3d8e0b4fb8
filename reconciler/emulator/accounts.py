"""The emulator's records: an account (cash, positions, unsettled sale proceeds, activities) and its orders,
and an order as Alpaca writes it. The rules that move them live in `state.py` and `fills.py`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from reconciler.core.numbers import ZERO
from reconciler.emulator.market import asset_id, iso

OPEN_STATUSES = {"pending_new", "new", "accepted", "partially_filled", "pending_cancel"}


@dataclass
class EmuOrder:
    """An order as the emulator holds it, in Alpaca's terms."""

    id: str
    client_order_id: str
    symbol: str
    side: str
    qty: Decimal  # for a notional order: set once its price is known (at the first fill)
    created: datetime
    status: str = "pending_new"
    filled_qty: Decimal = ZERO
    notional_filled: Decimal = ZERO
    reject_reason: str | None = None
    fills_booked: int = 0
    limit_price: Decimal | None = None
    notional: Decimal | None = None
    updated: datetime | None = None
    cancel_requested: datetime | None = None

    def json(self) -> dict[str, Any]:
        """The order as Alpaca's API returns it."""
        avg = (
            (self.notional_filled / self.filled_qty).quantize(Decimal("0.0001")) if self.filled_qty else None
        )
        kind = "market" if self.limit_price is None else "limit"
        done = self.status in ("filled", "canceled", "rejected", "expired")
        return {
            "id": self.id, "client_order_id": self.client_order_id, "created_at": iso(self.created),
            "updated_at": iso(self.updated or self.created), "submitted_at": iso(self.created),
            "filled_at": iso(self.updated or self.created) if self.status == "filled" else None,
            "expired_at": None,
            "canceled_at": iso(self.updated or self.created) if self.status == "canceled" else None,
            "failed_at": iso(self.updated or self.created) if self.status == "rejected" else None,
            "replaced_at": None, "replaced_by": None, "replaces": None, "asset_id": asset_id(self.symbol),
            "symbol": self.symbol, "asset_class": "us_equity",
            "notional": None if self.notional is None else str(self.notional),
            "qty": None if self.notional is not None else str(self.qty),  # Alpaca: null for a notional order
            "filled_qty": str(self.filled_qty), "filled_avg_price": None if avg is None else str(avg),
            "order_class": "simple", "order_type": kind, "type": kind, "side": self.side,
            "position_intent": None,
            "time_in_force": "day",
            "limit_price": None if self.limit_price is None else str(self.limit_price),
            "stop_price": None, "status": self.status, "extended_hours": False, "legs": None,
            "trail_percent": None,
            "trail_price": None, "hwm": None, "subtag": None, "source": None, "expires_at": None,
            "reject_reason": self.reject_reason if done else None,
        }


@dataclass
class EmuAccount:
    """An emulated Alpaca account: its keys, cash, positions, orders and activities."""

    key_id: str
    secret: str
    name: str
    cash: Decimal
    positions: dict[str, Decimal]
    unsettled: list[tuple[Decimal, date]] = field(default_factory=list)
    orders: dict[str, EmuOrder] = field(default_factory=dict)
    by_client: dict[str, str] = field(default_factory=dict)
    activities: list[dict[str, Any]] = field(default_factory=list)
    basis: dict[str, Decimal] = field(default_factory=dict)  # cost of each position, for avg_entry_price
    # (side, qty, price) since posting
    fee_trades: list[tuple[str, Decimal, Decimal]] = field(default_factory=list)
    fee_day: date | None = None  # the session whose fees are accruing
    fee_started: datetime | None = None  # the first execution since the last posting

    @property
    def unsettled_cash(self) -> Decimal:
        """Sale proceeds not yet settled."""
        return sum((u[0] for u in self.unsettled), ZERO)
