"""Price sources for the paper broker: a static map, or the last rows of a CSV of daily closes."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from reconciler import files
from reconciler.errors import ReconcilerError
from reconciler.workspace.models import PaperPrices


@dataclass(frozen=True)
class Price:
    """A symbol's price with its previous close and volume, what the paper broker quotes from."""

    price: Decimal
    previous_close: Decimal | None
    volume: Decimal | None = None


def load_prices(spec: PaperPrices, root: Path) -> dict[str, Price]:
    """Static prices win over CSV prices for the same symbol."""
    out: dict[str, Price] = {}
    if spec.csv:
        out.update(_from_csv(root / spec.csv, spec.as_of, root))
    for sym, q in spec.static.items():
        out[sym] = Price(q.price, q.previous_close, q.volume)
    return out


def _from_csv(path: Path, as_of: str | None, root: Path) -> dict[str, Price]:
    where = str(path)
    text = files.read_text(path, files.PRICES, workspace=root, missing_fix="fix broker.prices.csv in"
                           " reconciler.yaml")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ReconcilerError(
            f"not a CSV file: {exc}", where=where,
            fix="write one date column and one column of closes per symbol"
        ) from None
    # (line number, row): a blank line is no row, but the lines after it keep their numbers in messages.
    # Counted after blanks are dropped: a header over blank lines only has no row to price from.
    body = [(n, r) for n, r in enumerate(rows[1:], start=2) if r and any(c.strip() for c in r)]
    if not rows or len(rows[0]) < 2 or not body:
        raise ReconcilerError(
            "price CSV needs a header (date, SYMBOL, ...) and at least one row", where=where,
            fix="write one date column and one column of closes per symbol",
        )
    header = [h.strip() for h in rows[0]]
    seen: set[str] = set()
    for col, name in enumerate(header[1:], start=2):
        if not name or name in seen:
            raise ReconcilerError(
                f"column {col}: {'an empty column name' if not name else f'column {name!r} appears twice'}",
                where=f"{where}:1", fix="name each symbol's column once",
            )
        seen.add(name)
    previous: str | None = None
    for line, row in body:
        day = row[0].strip()
        _check_date(day, line, where)
        if previous is not None and day <= previous:
            raise ReconcilerError(
                f"date {day} {'appears twice' if day == previous else f'comes after {previous}'}: dates must"
                " be"
                " unique and in increasing order", where=f"{where}:{line}",
                fix="sort the rows by date, one per day",
            )
        previous = day
        if len(row) > len(header):
            raise ReconcilerError(
                f"{len(row)} cells in a row under a header of {len(header)} columns", where=f"{where}:{line}",
                fix="one cell per column (leave a cell empty where there is no price)",
            )
        for i in range(1, len(row)):
            _cell(row, i, f"{where}:{line}", header)
    if as_of is not None:
        body = [(n, r) for n, r in body if r[0].strip()[:10] <= as_of]
        if not body:
            raise ReconcilerError(
                f"no rows on or before {as_of}", where=where,
                fix="choose an as_of date inside the CSV's range"
            )
    (last_line, last) = body[-1]
    prev = body[-2] if len(body) > 1 else None
    out: dict[str, Price] = {}
    for i, sym in enumerate(header[1:], start=1):
        price = _cell(last, i, f"{where}:{last_line}", header)
        if price is None:
            continue
        out[sym] = Price(price, _cell(prev[1], i, f"{where}:{prev[0]}", header) if prev else None)
    return out


def _check_date(day: str, line: int, where: str) -> None:
    try:
        date.fromisoformat(day[:10])
    except ValueError:
        raise ReconcilerError(
            f"not a date: {day!r} in column 1", where=f"{where}:{line}", fix="write dates as YYYY-MM-DD"
        ) from None


def _cell(row: list[str], i: int, where: str, header: list[str]) -> Decimal | None:
    if i >= len(row) or not row[i].strip():
        return None
    column = header[i] if i < len(header) else f"column {i + 1}"
    try:
        value = Decimal(row[i].strip())
    except InvalidOperation:
        raise ReconcilerError(
            f"not a number: {row[i]!r} in column {column!r} of row dated {row[0]}", where=where,
            fix="prices must be plain numbers",
        ) from None
    if not value.is_finite() or value <= 0:
        raise ReconcilerError(
            f"invalid price {row[i]!r} in column {column!r} of row dated {row[0]}", where=where,
            fix="prices must be positive numbers; leave the cell empty where there is no price",
        )
    return value
