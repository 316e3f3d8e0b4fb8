"""What Alpaca refuses in an order's shape before it looks at the account, as the emulator answers it: each
with Alpaca's status and its generic validation code (docs/execution.md's table has the source of each)."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

VALIDATION = 40010001  # Alpaca's generic validation code: a duplicate client_order_id, and any invalid order
MAX_CLIENT_ORDER_ID = 128  # characters
QTY_STEP = Decimal("0.000000001")  # fractional quantities: 9 decimals
MIN_FRACTIONAL = Decimal(1)  # dollars, for a fractional or notional order

Refusal = tuple[int, dict[str, Any]]


def client_id_refusal(cid: str) -> Refusal | None:
    """Alpaca's 422 for a client order id over its length limit, or None when the id is acceptable."""
    if len(cid) > MAX_CLIENT_ORDER_ID:
        return 422, {"code": VALIDATION, "message": "client_order_id must be no more than"
                     f" {MAX_CLIENT_ORDER_ID}"
                     " characters"}
    return None


def shape_refusal(symbol: str, qty: Decimal | None, notional: Decimal | None, kind: str, extended_hours: Any,
                  price: Decimal | None) -> Refusal | None:
    """Too many decimals, extended hours on anything but a limit order, a fractional order under $1 (at its
    limit price, else the market's), or a symbol that is no asset (`price` None)."""
    if price is None:
        return 422, {"code": 42210000, "message": f"asset \"{symbol}\" not found"}
    if qty is not None and qty != qty.quantize(QTY_STEP, rounding=ROUND_DOWN):
        return 422, {"code": VALIDATION, "message": "qty must have at most 9 decimal places"}
    if extended_hours is True and kind != "limit":
        return 422, {"code": VALIDATION, "message": "extended hours order must be DAY limit orders"}
    fractional = notional is not None or (qty is not None and qty != qty.to_integral_value())
    value = notional if notional is not None else (qty or Decimal(0)) * price
    if fractional and price > 0 and value < MIN_FRACTIONAL:
        return 422, {"code": VALIDATION, "message": "fractional orders must be at least $1 in value"}
    return None
