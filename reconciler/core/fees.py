"""Regulatory fees a US equity trade accrues at Alpaca: FINRA's TAF and the SEC's fee on sells, the CAT fee on
buys and sells. Alpaca tracks them intraday, deducts the pending amounts from the account's cash, and posts
each day's total, rounded up to the cent, as a FEE activity at the end of the day (docs.alpaca.markets/docs/
regulatory-fees; alpaca.markets/support/regulatory-fees). The rates are settings: they change a few times a
year."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_CEILING, Decimal

from pydantic import Field

from reconciler.core.models import Frozen
from reconciler.core.rules import Money

CENT = Decimal("0.01")


class FeeRates(Frozen):
    """Per-share and per-dollar rates. Defaults: the highest current values Alpaca publishes (its API docs'
    table lists CAT 0.000046 and SEC 0.0000278; its support page CAT 0.0000265 and SEC 0.00 since May 2025),
    so the fees modelled are an upper bound of what is pending: a cash shortfall is accepted up to them, never
    beyond."""

    taf_per_share: Money = Field(Decimal("0.000166"), description="FINRA TAF per share sold.")
    taf_max_per_trade: Money = Field(Decimal("8.30"), description="FINRA TAF cap per trade.")
    cat_per_share: Money = Field(Decimal("0.000046"), description="CAT fee per share bought or sold (shares"
                                 " rounded up to a whole share).")
    sec_per_dollar: Money = Field(Decimal("0.0000278"), description="SEC fee per dollar sold ($27.80 per"
                                  " million).")


def round_up(amount: Decimal) -> Decimal:
    """Up to the cent, as Alpaca rounds each day's cumulative fee."""
    return amount.quantize(CENT, rounding=ROUND_CEILING)


def trade_fees(side: str, qty: Decimal, price: Decimal, rates: FeeRates) -> dict[str, Decimal]:
    """The unrounded fees one execution accrues, by Alpaca's fee name (TAF, REG, CAT)."""
    fees = {"CAT": qty.to_integral_value(rounding=ROUND_CEILING) * rates.cat_per_share}
    if side != "buy":
        fees["TAF"] = min(qty * rates.taf_per_share, rates.taf_max_per_trade)
        fees["REG"] = qty * price * rates.sec_per_dollar
    return fees


def day_fees(trades: Iterable[tuple[str, Decimal, Decimal]], rates: FeeRates) -> dict[str, Decimal]:
    """One day's fee per name, each cumulative total rounded up to the cent (zero totals left out)."""
    totals: dict[str, Decimal] = {}
    for side, qty, price in trades:
        for name, amount in trade_fees(side, qty, price, rates).items():
            totals[name] = totals.get(name, Decimal(0)) + amount
    return {name: round_up(total) for name, total in totals.items() if total > 0}
