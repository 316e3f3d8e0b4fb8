"""The paper broker's ledger: accounts, positions, unsettled sale proceeds and orders, kept in the journal
database.

Only this module knows those tables. The paper broker decides prices, fills and settlement dates and calls
these functions inside its own transaction (`engine.begin()`), so one order's checks and bookings stay atomic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from reconciler.core.numbers import ZERO
from reconciler.journal import tables as t
from reconciler.journal.database import upsert


@dataclass(frozen=True)
class PaperOrder:
    """One order the paper broker received, as booked."""

    client_order_id: str
    account: str
    broker_order_id: str
    symbol: str
    side: str
    quantity: Decimal
    filled_quantity: Decimal
    fill_price: Decimal | None
    commission: Decimal
    status: str
    reject_reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: Mapping[Any, Any]) -> PaperOrder:
        """A paper order from its row."""
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Proceeds:
    """Sale proceeds not settled yet."""

    id: int
    amount: Decimal
    settles_on: str  # ISO date


def has_account(c: Connection, account: str) -> bool:
    """Whether the paper account exists yet, so it is opened from its seed only once."""
    found = c.execute(select(t.paper_accounts.c.account).where(t.paper_accounts.c.account == account)).first()
    return found is not None


def open_account(
    c: Connection, account: str, cash: Decimal, positions: Mapping[str, Decimal], now: datetime
) -> None:
    """Open a paper account with its seeded cash and positions, the books it trades from then on."""
    c.execute(insert(t.paper_accounts).values(account=account, cash_settled=cash, created_at=now))
    for symbol, quantity in positions.items():
        if quantity != 0:
            c.execute(insert(t.paper_positions).values(account=account, symbol=symbol, quantity=quantity))


# What every paper order runs, built once with bound parameters (journal/store.py says why).
_CASH = select(t.paper_accounts.c.cash_settled).where(t.paper_accounts.c.account == bindparam("b_account"))
_SET_CASH = update(t.paper_accounts).where(t.paper_accounts.c.account == bindparam("b_account"))
_POSITION = select(t.paper_positions.c.quantity).where(
    t.paper_positions.c.account == bindparam("b_account"), t.paper_positions.c.symbol == bindparam("b_symbol")
)
_ORDER = select(t.paper_orders).where(
    t.paper_orders.c.account == bindparam("b_account"), t.paper_orders.c.client_order_id == bindparam("b_cid")
)
_ADD_ORDER = insert(t.paper_orders)


def cash(c: Connection, account: str) -> Decimal:
    """The paper account's settled cash, as the books hold it."""
    value = c.execute(_CASH, {"b_account": account}).scalar_one()
    assert isinstance(value, Decimal)
    return value


def set_cash(c: Connection, account: str, amount: Decimal) -> None:
    """Replace the paper account's settled cash after a fill or a settlement."""
    c.execute(_SET_CASH, {"b_account": account, "cash_settled": amount})


def positions(c: Connection, account: str) -> dict[str, Decimal]:
    """The paper account's non-zero holdings, what an observation reports."""
    rows = c.execute(
        select(t.paper_positions.c.symbol, t.paper_positions.c.quantity).where(
            t.paper_positions.c.account == account
        )
    ).all()
    return {s: q for s, q in rows if q != 0}


def position(c: Connection, account: str, symbol: str) -> Decimal:
    """One holding of the paper account (zero when none), to check a sale against."""
    value = c.execute(_POSITION, {"b_account": account, "b_symbol": symbol}).scalar()
    return value if isinstance(value, Decimal) else ZERO


def set_position(c: Connection, account: str, symbol: str, quantity: Decimal) -> None:
    """The holding of `symbol` becomes `quantity` (none at zero)."""
    if quantity == 0:
        c.execute(
            delete(t.paper_positions)
            .where(t.paper_positions.c.account == account, t.paper_positions.c.symbol == symbol)
        )
    else:
        upsert(c, t.paper_positions, {"account": account, "symbol": symbol}, {"quantity": quantity})


def proceeds(c: Connection, account: str) -> list[Proceeds]:
    """Unsettled proceeds, the oldest settlement first."""
    rows = c.execute(
        select(t.paper_unsettled.c.id, t.paper_unsettled.c.amount, t.paper_unsettled.c.settles_on)
        .where(t.paper_unsettled.c.account == account)
        .order_by(t.paper_unsettled.c.settles_on, t.paper_unsettled.c.id)
    ).all()
    return [Proceeds(int(i), amount, settles_on) for i, amount, settles_on in rows]


def add_proceeds(c: Connection, account: str, amount: Decimal, settles_on: str) -> None:
    """Record a sale's proceeds as unsettled until their settlement date."""
    c.execute(insert(t.paper_unsettled).values(account=account, amount=amount, settles_on=settles_on))


def settle(c: Connection, account: str, today: str) -> None:
    """Proceeds due by `today` (ISO date) join the settled cash."""
    due = [p for p in proceeds(c, account) if p.settles_on <= today]
    if not due:
        return
    set_cash(c, account, cash(c, account) + sum((p.amount for p in due), ZERO))
    c.execute(delete(t.paper_unsettled).where(t.paper_unsettled.c.id.in_([p.id for p in due])))


def draw_proceeds(c: Connection, account: str, amount: Decimal) -> None:
    """Spend `amount` out of unsettled proceeds, oldest first."""
    for p in proceeds(c, account):
        if amount <= 0:
            break
        take = min(amount, p.amount)
        amount -= take
        if p.amount == take:
            c.execute(delete(t.paper_unsettled).where(t.paper_unsettled.c.id == p.id))
        else:
            c.execute(
                update(t.paper_unsettled).where(t.paper_unsettled.c.id == p.id).values(amount=p.amount - take)
            )


def find_order(c: Connection, account: str, client_order_id: str) -> PaperOrder | None:
    """The paper order with this client id, so a resend finds the order it already placed."""
    row = c.execute(_ORDER, {"b_account": account, "b_cid": client_order_id}).mappings().first()
    return None if row is None else PaperOrder.of(row)


def orders(c: Connection, account: str) -> list[PaperOrder]:
    """The paper account's orders in the order they were placed, for listing and reconciling."""
    rows = (
        c.execute(
            select(t.paper_orders)
            .where(t.paper_orders.c.account == account)
            .order_by(t.paper_orders.c.created_at)
        )
        .mappings()
        .all()
    )
    return [PaperOrder.of(r) for r in rows]


def add_order(c: Connection, order: PaperOrder) -> None:
    """Store a paper order under its client id, the record a lookup finds it by."""
    c.execute(_ADD_ORDER, {name: getattr(order, name) for name in order.__dataclass_fields__})
