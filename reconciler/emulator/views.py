"""The emulator's account and its positions as Alpaca's API answers them (GET /v2/account, GET /v2/positions),
read from the books in `state.py`, with the faults the knobs ask for."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from reconciler.core.numbers import ZERO
from reconciler.emulator import fees
from reconciler.emulator.accounts import EmuAccount
from reconciler.emulator.market import asset_id

if TYPE_CHECKING:
    from reconciler.emulator.state import Emulator


def account_json(emu: Emulator, acct: EmuAccount) -> dict[str, Any]:
    """GET /v2/account's answer, with any faults the knobs ask for."""
    emu.progress(acct)
    f = emu.faults
    unsettled = acct.unsettled_cash
    # Alpaca's `cash` is the whole cash balance, sale proceeds included before they settle.
    accrued = fees.pending(acct, emu.fee_rates)  # deducted from cash until posted, as Alpaca does
    cash = (
        acct.cash - accrued + (ZERO if f.settled_cash_only else unsettled) + Decimal(str(f.cash_offset))
    )
    equity = emu.equity(acct)
    long_value = equity - acct.cash - unsettled
    power = emu.buying_power(acct)
    return {
        "id": emu.account_id(acct), "account_number": acct.key_id,
        "status": "ACTIVE", "crypto_status": "INACTIVE", "currency": "USD", "buying_power": str(power),
        "regt_buying_power": str(power), "daytrading_buying_power": "0",
        "non_marginable_buying_power": str(max(ZERO, acct.cash + unsettled - emu.reserved(acct))),
        "options_buying_power": "0", "cash": str(cash), "accrued_fees": str(accrued),
        "pending_transfer_in": "0",
        "portfolio_value": str(equity), "pattern_day_trader": False, "trading_blocked": f.trading_blocked,
        "transfers_blocked": False, "account_blocked": False, "created_at": "2024-01-02T14:30:00Z",
        "trade_suspended_by_user": False, "multiplier": str(emu.multiplier(acct)),
        "shorting_enabled": False,
        "equity": str(equity), "last_equity": str(equity), "long_market_value": str(long_value),
        "short_market_value": "0", "initial_margin": str(long_value / 2), "maintenance_margin": "0",
        "last_maintenance_margin": "0", "sma": "0", "daytrade_count": 0, "options_approved_level": 0,
        "options_trading_level": 0,
    }

def position_json(emu: Emulator, acct: EmuAccount, symbol: str) -> dict[str, Any]:
    """One position as GET /v2/positions returns it."""
    qty = acct.positions[symbol]
    price, prev = emu.prices.get(symbol, (ZERO, None))
    basis = acct.basis.get(symbol, qty * price)
    value = qty * price
    return {
        "asset_id": asset_id(symbol), "symbol": symbol, "exchange": "ARCA", "asset_class": "us_equity",
        "asset_marginable": True, "avg_entry_price": str((basis / qty).quantize(Decimal("0.0001"))),
        "qty": str(qty), "qty_available": str(qty - emu.pending_sells(acct, symbol)), "side": "long",
        "market_value": str(value), "cost_basis": str(basis), "unrealized_pl": str(value - basis),
        "unrealized_plpc": str(((value - basis) / basis).quantize(Decimal("0.0001")) if basis else ZERO),
        "unrealized_intraday_pl": "0", "unrealized_intraday_plpc": "0", "current_price": str(price),
        "lastday_price": str(prev if prev is not None else price), "change_today": "0",
    }
