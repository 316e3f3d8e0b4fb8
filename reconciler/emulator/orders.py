"""What Alpaca refuses in an order's shape before it looks at the account, as the emulator answers it: each
with Alpaca's status and its generic validation code (docs/execution.md's table has the source of each)."""

from __future__ import annotations

import uuid
from collections.abc import Container, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from reconciler.emulator.faults import Faults

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


@dataclass(frozen=True)
class OrderRequest:
    """A POST /v2/orders body that passed every check of its own: what the account's checks judge next."""

    symbol: str
    side: str
    qty: Decimal | None
    notional: Decimal | None
    cid: str
    limit: Decimal | None


def read_order(body: Any, taken: Container[str], faults: Faults,
               prices: Mapping[str, tuple[Decimal, Decimal | None]]) -> OrderRequest | Refusal:
    """Read an order's body in Alpaca's order of refusals (shape, a client id already `taken`, a blocked
    account, the type, fractions, the limit's increment, the asset), or the first refusal that applies."""
    invalid = 422, {"code": VALIDATION, "message": "invalid order request"}
    if not isinstance(body, dict):
        return invalid
    try:
        symbol, side = str(body["symbol"]), str(body["side"])
        qty = None if body.get("qty") is None else Decimal(str(body["qty"]))
        notional = None if body.get("notional") is None else Decimal(str(body["notional"]))
    except (KeyError, ArithmeticError, ValueError):
        return invalid
    cid = str(body.get("client_order_id") or uuid.uuid4())
    if (refused := client_id_refusal(cid)) is not None:
        return refused
    if cid in taken:
        return 422, {"code": 40010001, "message": "client_order_id must be unique"}
    if faults.trading_blocked:
        return 403, {"code": 40310000, "message": "account is not authorized to trade"}
    if (qty is None) == (notional is None):
        return 422, {"code": VALIDATION, "message": "qty or notional is required, not both"}
    if qty is not None and qty <= 0:
        return 422, {"code": VALIDATION, "message": "qty must be > 0"}
    if side not in ("buy", "sell") or (notional is not None and notional < 1):
        return 422, {"code": VALIDATION, "message": "invalid side, qty or notional (notional is at least $1)"}
    kind, limit = body.get("type", "market"), None
    if kind not in ("market", "limit") or body.get("time_in_force", "day") != "day":
        return 422, {"code": VALIDATION, "message": f"unsupported order type {kind!r} or time_in_force"}
    fractional = (qty is not None and qty != qty.to_integral_value()) or notional is not None
    if (fractional and symbol in faults.not_fractionable) or (notional is not None and kind != "market"):
        return 422, {"code": VALIDATION, "message": "fractional orders need a fractionable asset, and"
                     " notional orders must be market orders"}
    if kind == "limit":
        try:
            limit = Decimal(str(body["limit_price"]))
        except (KeyError, ArithmeticError, ValueError):
            return 422, {"code": VALIDATION, "message": "limit_price is required for limit orders"}
        if not limit.is_finite() or limit <= 0:
            return 422, {"code": VALIDATION, "message": "limit_price must be positive"}
        if limit != limit.quantize(Decimal("0.01") if limit >= 1 else Decimal("0.0001")):
            return 422, {"code": 42210000, "message": "invalid limit_price. sub-penny increment does not"
                         " fulfill minimum pricing criteria"}
    known = prices.get(symbol)
    refused = shape_refusal(symbol, qty, notional, str(kind), body.get("extended_hours"),
                            None if known is None else (limit or known[0]))
    if refused is not None:
        return refused
    return OrderRequest(symbol, side, qty, notional, cid, limit)
