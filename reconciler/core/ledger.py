"""The lot ledger's values: a lot as the journal keeps it, each lot's standing at a price, and the check that
the ledger still accounts for what the broker holds (a transfer, a corporate action or a manual trade breaks
it, and then nothing tax-aware is done for that symbol: the ledger never guesses)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from reconciler.core.lots import long_term
from reconciler.core.numbers import ZERO


@dataclass(frozen=True, slots=True)
class HeldLot:
    """A lot as the journal's ledger keeps it: the total cost paid (fees included) keeps the basis exact."""

    symbol: str
    acquired: date
    quantity: Decimal
    cost_basis: Decimal


class LotMismatch(BaseModel):
    """A symbol whose lots disagree with the broker's holding, as the plan records it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ledger: Decimal
    broker: Decimal


@dataclass(frozen=True, slots=True)
class LotStanding:
    """One open lot on a day at a price: its term if sold that day and the gain a sale would realise."""

    lot: HeldLot
    long_term: bool
    price: Decimal | None  # None: the symbol has no quote, so no gain is shown
    unrealized: Decimal | None


def standings(lots: Iterable[HeldLot], prices: Mapping[str, Decimal], today: date) -> list[LotStanding]:
    """Each lot's term and unrealized gain (before costs) at today's prices."""
    out = []
    for lot in lots:
        price = prices.get(lot.symbol)
        gain = None if price is None else lot.quantity * price - lot.cost_basis
        out.append(LotStanding(lot, long_term(lot.acquired, today), price, gain))
    return out


def mismatches(
    lots: Iterable[HeldLot], positions: Mapping[str, Decimal]
) -> dict[str, tuple[Decimal, Decimal]]:
    """symbol → (units in the ledger's lots, units the broker holds) wherever they differ, for every symbol
    either side knows: each one is a symbol whose tax-aware choices must stay off until the ledger is
    fixed."""
    held: dict[str, Decimal] = {}
    for lot in lots:
        held[lot.symbol] = held.get(lot.symbol, ZERO) + lot.quantity
    return {
        s: (held.get(s, ZERO), positions.get(s, ZERO))
        for s in sorted(held.keys() | positions.keys())
        if held.get(s, ZERO) != positions.get(s, ZERO)
    }


def agreement(lots: Iterable[HeldLot] | None, positions: Mapping[str, Decimal]) -> dict[str, bool]:
    """Per symbol either side knows, whether the ledger's lots account for exactly what the broker holds: the
    symbols whose sells may choose lots and estimate their tax (none without a ledger, `lots` None)."""
    if lots is None:
        return {s: False for s in sorted(positions)}
    lots = list(lots)
    differ = mismatches(lots, positions)
    return {s: s not in differ for s in sorted({lot.symbol for lot in lots} | positions.keys())}


def disagreement_notes(differ: Mapping[str, tuple[Decimal, Decimal]]) -> list[str]:
    """One plan note per symbol whose lots disagree with the broker: what each side says and the fix."""
    return [
        f"lots: {symbol} — the ledger's lots hold {ledger}, the broker {broker} (a transfer, a corporate"
        f" action or a trade made elsewhere?); tax-aware choices for {symbol} are off until the ledger is"
        f" fixed (`reconciler lots import ACCOUNT FILE` with the broker's lots)"
        for symbol, (ledger, broker) in differ.items()
    ]
