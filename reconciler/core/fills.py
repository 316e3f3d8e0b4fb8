"""Where an order may fill: the limit price apply sets, and the one fill rule the paper broker and the
backtester share. Pure.

A market order fills wherever the book is when it arrives; a marketable limit order at the fresh quote ± a
band fills at once in a normal market and not at all in a fast one, so a thin book or a flash move costs at
most the band. Buys are budgeted at their limit, so the cash check holds whatever the fill.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from reconciler.core.models import Side
from reconciler.core.numbers import BPS


def round_limit(side: Side, price: Decimal, tick: Decimal) -> Decimal:
    """A limit price on the venue's tick, rounded the safe way: a buy's down, a sell's up (never worse than
    asked)."""
    if tick <= 0:
        return price
    rounding = ROUND_FLOOR if side == "buy" else ROUND_CEILING
    return (price / tick).to_integral_value(rounding) * tick  # by position: a keyword costs more (hot path)


def limit_price(side: Side, quote: Decimal, band: Decimal) -> Decimal:
    """The marketable limit for an order priced at `quote`: above it for a buy, below it for a sell."""
    return quote * (1 + band) if side == "buy" else quote * (1 - band)


def slip_factor(side: Side, slippage_bps: Decimal) -> Decimal:
    """What slippage multiplies an order's quote by to give its fill: above one for a buy, below for a
    sell."""
    slip = slippage_bps / BPS
    return 1 + slip if side == "buy" else 1 - slip


def fill_price(side: Side, quote: Decimal, slippage_bps: Decimal, limit: Decimal | None) -> Decimal | None:
    """What an order fills at: the quote moved against it by the slippage; None when that is beyond its limit
    (the market moved past the limit: nothing fills, and the order is cancelled at the fill timeout)."""
    price = quote * slip_factor(side, slippage_bps)
    if limit is not None and (price > limit if side == "buy" else price < limit):
        return None
    return price


def alpaca_tick(price: Decimal) -> Decimal:
    """US equities trade in cents at $1 and above, in hundredths of a cent below (Rule 612; Alpaca refuses a
    sub-penny limit on a stock above $1)."""
    return Decimal("0.01") if price >= 1 else Decimal("0.0001")


def impossible_fill(
    sent: tuple[str, str, Decimal], answered: tuple[str, str, Decimal], filled: Decimal
) -> str | None:
    """Why a broker's answer about an order cannot be true, judged against the order we sent, (symbol, side,
    quantity) from the journal, never against the quantity the answer claims; None when it can be."""
    symbol, side, quantity = sent
    their_symbol, their_side, their_quantity = answered
    if their_symbol != symbol or their_side != side:  # their symbol is not echoed: it is untrusted text
        return f"it describes another symbol or side than the order we sent ({side} {quantity} {symbol})"
    if filled < 0:
        return f"it reports a negative fill ({filled})"
    if filled > quantity:
        return f"it reports {filled} filled (of {their_quantity}), but we sent an order for {quantity}"
    return None
