"""`reconciler lots`: load an account's tax lots from a broker export into the journal, and show them against
the broker's positions and the prices a plan would use."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from reconciler import files
from reconciler.core.ledger import HeldLot, LotStanding, mismatches, standings
from reconciler.core.numbers import ZERO
from reconciler.errors import ReconcilerError
from reconciler.execution.services import Services
from reconciler.journal.lots import account_lots, replace_lots
from reconciler.workspace.lots_csv import parse_lots


@dataclass(frozen=True)
class LotsView:
    """What `reconciler lots ACCOUNT` shows."""

    account: str
    today: date
    lots: list[LotStanding]
    mismatches: dict[str, tuple[Decimal, Decimal]]

    def to_json(self) -> dict[str, Any]:
        """The JSON output: numbers as strings, exact."""
        def total(long: bool) -> str:
            return str(sum((s.unrealized or ZERO for s in self.lots if s.long_term is long), ZERO))

        return {
            "account": self.account,
            "as_of": self.today.isoformat(),
            "lots": [
                {
                    "symbol": s.lot.symbol,
                    "acquired": s.lot.acquired.isoformat(),
                    "quantity": str(s.lot.quantity),
                    "cost_basis": str(s.lot.cost_basis),
                    "term": "long" if s.long_term else "short",
                    "price": None if s.price is None else str(s.price),
                    "unrealized": None if s.unrealized is None else str(s.unrealized),
                }
                for s in self.lots
            ],
            "unrealized": {"short_term": total(False), "long_term": total(True)},
            "mismatches": [
                {"symbol": sym, "ledger": str(ledger), "broker": str(broker)}
                for sym, (ledger, broker) in self.mismatches.items()
            ],
        }


def _known_account(accounts: Collection[str], account: str) -> None:
    if account not in accounts:
        raise ReconcilerError(
            f"unknown account {account!r}", where="command line",
            fix=f"use one of the accounts in reconciler.yaml: {', '.join(sorted(accounts))}",
        )


def import_lots(rt: Services, account: str, path: Path) -> list[HeldLot]:
    """Read and check the whole file first; then replace the account's lots of the symbols it lists."""
    _known_account(rt.config.broker.accounts, account)
    lots = parse_lots(files.read_text(path, files.LOTS), path, rt.clock.now().date())
    replace_lots(rt.journal, account, lots)
    return lots


def show_lots(rt: Services, account: str) -> LotsView:
    """The account's lots at the prices of the observation a plan makes, and where they disagree with it."""
    _known_account(rt.config.broker.accounts, account)
    lots = account_lots(rt.journal, account)
    observation = rt.broker.observe(account, sorted({lot.symbol for lot in lots}))
    prices = {s: q.price for s, q in observation.quotes.items()}
    today = rt.clock.now().date()
    return LotsView(account, today, standings(lots, prices, today), mismatches(lots, observation.positions))
