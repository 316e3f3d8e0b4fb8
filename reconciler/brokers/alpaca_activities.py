"""Alpaca's account activities as the ledger reads them: every documented type, what its cash means, and one
activity reduced to what the ledger keeps of it (an `Entry`). Pure functions of the JSON.

The types: Alpaca's Trading API reference (account activities), the Broker API's ActivityType enum and its
2026-11-06 changelog (the types the listing returns), and alpaca-py's `ActivityType` (tests compare them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from reconciler.brokers.alpaca_answers import ACTIVITIES, is_sale, trade_date
from reconciler.brokers.payload import number, reading
from reconciler.core.numbers import ZERO

TRADES = frozenset({"FILL"})  # cash is qty × price; a sale's proceeds settle T+N sessions after the trade
# `net_amount` is cash in or out at once: deposits, withdrawals, journals, fees, interest, dividends and their
# withholdings, cash from corporate actions and transfers.
CASH = frozenset({
    "CSD", "CSW", "CSR", "TRANS", "JNL", "JNLC", "FEE", "CFEE", "PTC", "PTR", "INT", "INTNRA", "INTTW",
    "INTPNL",
    "INVPNL", "DIV", "DIVCGL", "DIVCGS", "DIVFEE", "DIVFT", "DIVNRA", "DIVROC", "DIVTW", "DIVTXEX", "DIVWH",
    "WH",
    "MA", "REORG", "ACATC", "CIL", "SPIN", "MISC", "OPCSH", "SWP", "VOF", "FXCNV",
})
# Trades that are not fills (options, currencies, trades booked outside Alpaca, DVP flips) and entries whose
# cash timing Alpaca does not document: their cash may be unsettled, so money they bring in is held back while
# in the settlement window, as unknown types' is.
HELD = frozenset({
    "OPTRD", "OPASN", "OPEXC", "OPCA", "FXTRD", "EXTRD", "DVF", "OCT", "CORR", "ALLOC", "FIMAT", "ECEXP",
    "SUB",
    "TRD",
})
# Securities only (transfers in kind, splits, name and symbol changes, expiries, memos): no cash.
SECURITIES = frozenset({"ACATS", "JNLS", "NC", "SC", "SPLIT", "SSO", "SSP", "OPEXP", "MEM", "DTCS", "SEG"})
KNOWN = TRADES | CASH | HELD | SECURITIES
VOID_STATUSES = frozenset({"canceled", "correct"})  # an activity cancelled, or replaced by its correction


@dataclass(frozen=True)
class Entry:
    """What the ledger keeps of one activity: its effect on cash (None: an amount it cannot read), whether
    that cash is spendable at once, and for fills what settlement and fees need."""

    id: str
    kind: str
    day: date  # a fill's session date in New York, else the activity's date
    void: bool
    cash: Decimal | None
    side: str = ""  # fills: buy or sell
    qty: Decimal = ZERO
    price: Decimal = ZERO

    @property
    def effect(self) -> Decimal:
        """The activity's effect on cash (zero when voided or unknown)."""
        return ZERO if self.void or self.cash is None else self.cash

    @property
    def known(self) -> bool:
        """Whether the ledger knows this kind of activity; an unknown kind makes the cash doubtful."""
        return self.kind in KNOWN

    @property
    def held(self) -> Decimal:
        """Money in whose settlement is not known (a trade that is not a fill, an unknown type): not spendable
        while in the window."""
        if self.kind in TRADES or self.kind in CASH or self.void or self.cash is None:
            return ZERO
        return max(self.cash, ZERO)

    def to_json(self) -> dict[str, str | bool | None]:
        """The entry as JSON, to keep the ledger's window between runs."""
        return {"id": self.id, "kind": self.kind, "day": self.day.isoformat(), "void": self.void,
                "cash": None if self.cash is None else str(self.cash), "side": self.side,
                "qty": str(self.qty),
                "price": str(self.price)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Entry:
        """An entry kept by `to_json`."""
        cash = raw.get("cash")
        return cls(id=str(raw["id"]), kind=str(raw["kind"]), day=date.fromisoformat(str(raw["day"])),
                   void=bool(raw["void"]), cash=None if cash is None else Decimal(str(cash)),
                   side=str(raw.get("side", "")), qty=Decimal(str(raw.get("qty", "0"))),
                   price=Decimal(str(raw.get("price", "0"))))


def entry(a: dict[str, Any]) -> Entry:
    """One activity as the ledger keeps it; a fill without a readable quantity or price is refused by name."""
    kind = str(a.get("activity_type"))
    void = str(a.get("status") or "executed").lower() in VOID_STATUSES
    with reading(ACTIVITIES):
        if kind in TRADES:
            qty = number(a.get("qty"), "qty", ACTIVITIES)
            price = number(a.get("price"), "price", ACTIVITIES)
            side = "sell" if is_sale(a) else "buy"
            return Entry(id=str(a.get("id")), kind=kind, day=trade_date(a), void=void,
                         cash=qty * price if side == "sell" else -qty * price, side=side, qty=qty,
                         price=price)
        raw = a.get("net_amount")
        cash = None if raw in (None, "") else number(raw, "net_amount", ACTIVITIES, negative_ok=True)
    return Entry(id=str(a.get("id")), kind=kind, day=_day(a), void=void, cash=cash)


def _day(a: dict[str, Any]) -> date:
    try:
        return date.fromisoformat(str(a.get("date") or "")[:10])
    except ValueError:
        return trade_date({**a, "transaction_time": a.get("transaction_time") or a.get("date")})
