"""The generic lots CSV `reconciler lots import` reads (a broker's export, rewritten to these four columns):

    symbol,acquired,quantity,cost_basis
    VTI,2021-03-04,10,2003.50

`acquired` is the trade date (YYYY-MM-DD), `cost_basis` the lot's whole cost, fees included. Every problem is
reported at its file and line, all at once, and nothing is imported while one remains."""

from __future__ import annotations

import csv
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from reconciler.core.ledger import HeldLot
from reconciler.errors import ReconcilerError, SpecError
from reconciler.workspace.models import SYMBOL_PATTERN

COLUMNS = ("symbol", "acquired", "quantity", "cost_basis")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_lots(text: str, path: Path, today: date) -> list[HeldLot]:
    """The file's lots, oldest first per symbol; a SpecError naming every bad line otherwise."""
    problems: list[ReconcilerError] = []
    lines = text.splitlines()
    header = next(csv.reader(lines[:1]), [])
    if tuple(h.strip().lower() for h in header) != COLUMNS:
        raise SpecError([ReconcilerError(
            f"the header is {','.join(header) or '(empty)'!r}, not {','.join(COLUMNS)}", where=f"{path}:1",
            fix=f"make the first line exactly: {','.join(COLUMNS)}",
        )])
    lots: list[HeldLot] = []
    for number, row in enumerate(csv.reader(lines[1:]), start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        where = f"{path}:{number}"
        if len(row) != len(COLUMNS):
            problems.append(ReconcilerError(
                f"{len(row)} values, not {len(COLUMNS)}", where=where, fix=f"give {','.join(COLUMNS)}"))
            continue
        lot = _lot([cell.strip() for cell in row], where, today, problems)
        if lot is not None:
            lots.append(lot)
    if not lots and not problems:
        problems.append(ReconcilerError("no lots: the file has a header only", where=f"{path}:1",
                                        fix="add one line per lot under the header"))
    if problems:
        raise SpecError(problems)
    return sorted(lots, key=lambda lot: (lot.symbol, lot.acquired))


def _lot(cells: list[str], where: str, today: date, problems: list[ReconcilerError]) -> HeldLot | None:
    symbol, acquired, quantity, cost = cells
    found = len(problems)
    if not re.match(SYMBOL_PATTERN, symbol):
        problems.append(ReconcilerError(f"symbol {symbol!r} is not a symbol", where=where,
                                        fix="symbols are upper case (VTI, BRK.B)"))
    day = _day(acquired, today, where, problems)
    qty = _number(quantity, "quantity", where, problems, positive=True)
    basis = _number(cost, "cost_basis", where, problems, positive=False)
    if len(problems) > found or day is None or qty is None or basis is None:
        return None
    return HeldLot(symbol, day, qty, basis)


def _day(text: str, today: date, where: str, problems: list[ReconcilerError]) -> date | None:
    try:
        day = date.fromisoformat(text) if _DATE.match(text) else None
    except ValueError:
        day = None
    if day is None:
        problems.append(ReconcilerError(f"acquired {text!r} is not a date", where=where,
                                        fix="write the trade date as YYYY-MM-DD"))
    elif day > today:
        problems.append(ReconcilerError(f"acquired {text} is after today ({today})", where=where,
                                        fix="check the date: a lot is bought before it is imported"))
        return None
    return day


def _number(
    text: str, name: str, where: str, problems: list[ReconcilerError], *, positive: bool
) -> Decimal | None:
    try:
        value = Decimal(text.replace(",", "")) if text else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value < 0 or (positive and value == 0):
        above = "above 0" if positive else "0 or more"
        problems.append(ReconcilerError(f"{name} {text!r} is not a number {above}", where=where,
                                        fix=f"write {name} as a plain decimal, e.g. 10 or 2003.50"))
        return None
    return value
