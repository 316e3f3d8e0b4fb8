"""Price sources for the paper broker: a static map, or the last rows of a CSV of daily closes."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from reconciler.errors import ReconcilerError
from reconciler.spec.models import PaperPrices


@dataclass(frozen=True)
class Price:
    price: Decimal
    previous_close: Decimal | None
    volume: Decimal | None = None


def load_prices(spec: PaperPrices, root: Path) -> dict[str, Price]:
    """Static prices win over CSV prices for the same symbol."""
    out: dict[str, Price] = {}
    if spec.csv:
        out.update(_from_csv(root / spec.csv, spec.as_of))
    for sym, q in spec.static.items():
        out[sym] = Price(q.price, q.previous_close, q.volume)
    return out


def _from_csv(path: Path, as_of: str | None) -> dict[str, Price]:
    where = str(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise ReconcilerError(
            f"cannot read price CSV: {exc.strerror}", where=where, fix="fix broker.prices.csv in reconciler.yaml"
        ) from None
    if len(rows) < 2 or len(rows[0]) < 2:
        raise ReconcilerError(
            "price CSV needs a header (date, SYMBOL, ...) and at least one row", where=where,
            fix="write one date column and one column of closes per symbol",
        )
    header = [h.strip() for h in rows[0]]
    body = [r for r in rows[1:] if r and any(c.strip() for c in r)]
    body.sort(key=lambda r: r[0])
    if as_of is not None:
        body = [r for r in body if r[0][:10] <= as_of]
        if not body:
            raise ReconcilerError(
                f"no rows on or before {as_of}", where=where, fix="choose an as_of date inside the CSV's range"
            )
    last = body[-1]
    prev = body[-2] if len(body) > 1 else None
    out: dict[str, Price] = {}
    for i, sym in enumerate(header[1:], start=1):
        price = _cell(last, i, where, len(rows))
        if price is None:
            continue
        out[sym] = Price(price, _cell(prev, i, where, len(rows)) if prev else None)
    return out


def _cell(row: list[str], i: int, where: str, line: int) -> Decimal | None:
    if i >= len(row) or not row[i].strip():
        return None
    try:
        value = Decimal(row[i].strip())
    except InvalidOperation:
        raise ReconcilerError(
            f"not a number: {row[i]!r} in column {i + 1} of row dated {row[0]}", where=where,
            fix="prices must be plain numbers",
        ) from None
    if not value.is_finite() or value <= 0:
        raise ReconcilerError(
            f"invalid price {row[i]!r} in column {i + 1} of row dated {row[0]}", where=where,
            fix="prices must be positive numbers; leave the cell empty where there is no price",
        )
    return value
