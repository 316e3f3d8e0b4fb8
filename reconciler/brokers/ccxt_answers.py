"""What an exchange's answers through ccxt mean: orders, fees, tickers, the cash balance and price precision,
read into the adapter's types. Pure functions of ccxt's unified structures (numbers read as Decimal through
the same bounds as every broker answer); the adapter in `ccxt.py` does the I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ccxt.base.decimal_to_precision import DECIMAL_PLACES, SIGNIFICANT_DIGITS

from reconciler.brokers.base import OrderRequest, OrderState, OrderStatus
from reconciler.brokers.payload import number
from reconciler.core.models import Quote
from reconciler.core.numbers import ZERO
from reconciler.errors import BrokerError


def exchange_number(value: Any, field: str, *, negative_ok: bool = False) -> Decimal:
    """An exchange's number through the same bounds as every broker answer (a coin has up to 18 decimals)."""
    return number(value, field, "the exchange (ccxt)", missing=ZERO, negative_ok=negative_ok, max_decimals=18)


def order_status(order: dict[str, Any]) -> OrderStatus:
    """ccxt's unified order status as ours; an open order is partially filled once anything has filled."""
    status = order.get("status")
    filled = exchange_number(order.get("filled"), "filled")
    if status == "closed":
        return "filled"
    if status in ("canceled", "expired"):
        return "canceled"
    if status == "rejected":
        return "rejected"
    return "partially_filled" if filled > 0 else "accepted"


def _fees(o: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in (o.get("fees") or ([o["fee"]] if o.get("fee") else [])) if f]


def third_fee_currencies(o: dict[str, Any], quote_currency: str) -> set[str]:
    """Currencies an order's fees are paid in besides the coin traded and the cash (Binance's BNB
    discount)."""
    base = str(o.get("symbol") or "").split("/")[0]
    return {str(f["currency"]) for f in _fees(o) if f.get("currency") not in (None, base, quote_currency)}


def order_state(
    o: dict[str, Any], quote_currency: str, client_order_id: str | None = None,
    request: OrderRequest | None = None,
    fee_prices: Mapping[str, Decimal] | None = None,
) -> OrderState:
    """An order as ccxt describes it. Some exchanges answer a new order with little more than its id (OKX,
    Bybit): what they leave out comes from our request, never a guess. A fee paid in a third currency (BNB) is
    a cash cost at that currency's price in `fee_prices`, and an answer without one is refused; `fee_prices`
    None: a listing, whose commission nobody records, leaves such fees out."""
    base = str(o.get("symbol") or "").split("/")[0] or (request.symbol if request else "")
    filled = exchange_number(o.get("filled"), "filled")
    # Binance: "cummulativeQuoteQty < 0 means the data isn't available for this order" (some historical
    # orders), which ccxt passes on as a negative cost and average: no price, not a broken answer.
    average = exchange_number(o.get("average"), "average", negative_ok=True) if o.get("average") else None
    cost = exchange_number(o.get("cost"), "cost", negative_ok=True) if o.get("cost") else None
    if average is not None and average <= 0:
        average = None
    if average is None and filled > 0 and cost is not None and cost > 0:
        average = cost / filled  # the average is what the fills cost per unit
    commission = in_kind = ZERO
    elsewhere: dict[str, Decimal] = {}  # fees paid in a third asset, by asset
    for fee in _fees(o):
        amount = exchange_number(fee.get("cost"), "fee", negative_ok=True)
        currency = fee.get("currency")
        if currency == base and base != quote_currency:
            in_kind += amount  # kept in the coin: the balance grows by the fill less this
            commission += amount * average if average else ZERO  # and valued in cash, as a cost
        elif currency in (None, quote_currency):
            commission += amount
        elif fee_prices is None:
            continue
        elif fee_prices.get(str(currency)) is not None:
            commission += amount * fee_prices[str(currency)]  # e.g. BNB, valued when the answer is read
            elsewhere[str(currency)] = elsewhere.get(str(currency), ZERO) + amount
        else:
            raise BrokerError(
                f"order {client_order_id or o.get('clientOrderId')} paid a fee of {amount} {currency}, which"
                f" has no price against {quote_currency}", where="the exchange (ccxt)",
                fix=f"the exchange must list {currency}/{quote_currency}; nothing was recorded from this"
                " answer",
            )
    if len(elsewhere) > 1:
        raise BrokerError(
            f"order {client_order_id or o.get('clientOrderId')} paid fees in {', '.join(sorted(elsewhere))}"
            " at once,"
            " which the journal cannot record", where="the exchange (ccxt)",
            fix="pay fees in one asset (e.g. turn Binance's BNB fee discount on or off); nothing was"
            " recorded",
        )
    fee_asset, fee_asset_amount = next(iter(elsewhere.items()), (None, ZERO))
    side = o.get("side") or (request.side if request else None)
    ordered = o.get("amount") if o.get("amount") is not None else (request.quantity if request else None)
    return OrderState(
        client_order_id=client_order_id or str(o.get("clientOrderId") or ""),
        broker_order_id=str(o.get("id") or ""), symbol=base,
        side="buy" if side == "buy" else "sell", quantity=exchange_number(ordered, "amount"),
        filled_quantity=filled, avg_price=average, commission=commission, fee_in_kind=in_kind,
        fee_asset=fee_asset,
        fee_asset_amount=fee_asset_amount,
        status=order_status(o),
        reject_reason="rejected by the exchange" if o.get("status") == "rejected" else None,
    )


def cash(balance: dict[str, Any], quote_currency: str) -> tuple[Decimal, Decimal, str | None]:
    """(settled, reserved, warning) from the cash currency's balance: spot settles on the trade, and what open
    orders lock is reserved; a total that is not free plus locked is named, not trusted."""
    held = balance.get(quote_currency) or {}
    free, used = (
        exchange_number(held.get("free"), "free cash"),
        exchange_number(held.get("used"), "locked cash"),
    )
    total = exchange_number(held.get("total"), "total cash") if held.get("total") is not None else free + used
    warning = None
    if abs(total - (free + used)) > Decimal("0.01"):
        warning = f"the exchange reports {total} {quote_currency} in all but {free} free and {used} locked"
    return min(total, free + used), used, warning


def ticker_quotes(tickers: dict[str, Any], now: Callable[[], datetime]) -> dict[str, Quote]:
    """Quotes by base currency from ccxt's tickers; a ticker without a price is left out, one without a time
    is as of `now()`."""
    out: dict[str, Quote] = {}
    for market, t in tickers.items():
        price = t.get("last") or t.get("close")
        if not price:
            continue
        base = market.split("/")[0]
        previous = t.get("previousClose") or t.get("open")
        stamp = t.get("timestamp")
        volume = t.get("baseVolume")
        bid, ask = t.get("bid"), t.get("ask")
        out[base] = Quote(
            bid=None if not bid else exchange_number(bid, f"bid of {market}"),
            ask=None if not ask else exchange_number(ask, f"ask of {market}"),
            symbol=base, price=exchange_number(price, f"price of {market}"),
            previous_close=None if not previous else exchange_number(previous, f"previous close of {market}"),
            as_of=datetime.fromtimestamp(stamp / 1000, UTC) if stamp else now(),
            daily_volume=None if volume is None else exchange_number(volume, f"24h volume of {market}"),
        )
    return out


def price_tick(precision_mode: int, precision: Any, limit: Decimal, market_id: str) -> Decimal:
    """The market's price step near `limit`, from its precision in the exchange's precision mode."""
    p = exchange_number(precision, f"price precision of {market_id}")
    if precision_mode == DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(p))
    if precision_mode == SIGNIFICANT_DIGITS:
        return Decimal(1).scaleb(limit.adjusted() - int(p) + 1)
    return p  # TICK_SIZE
