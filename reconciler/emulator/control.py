"""The emulator's control endpoints under /_emulator/ (tests and demos, no authentication): change the fault
knobs and the prices, move the date, post a non-trade activity, make a trade the reconciler did not make, read
the whole state."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from reconciler.emulator.routing import ANY, Answer, table
from reconciler.emulator.state import Emulator


def _set_faults(emu: Emulator, body: Any) -> Answer:
    try:
        emu.set_faults(body)
    except KeyError as exc:
        return 400, {"message": f"unknown fault {exc}"}
    return 200, vars(emu.faults)


def _set_prices(emu: Emulator, body: Any) -> Answer:
    emu.set_prices(body)
    return 200, {"ok": True}


def _advance(emu: Emulator, body: Any) -> Answer:
    emu.day_offset += int(body.get("days", 1))
    return 200, {"today": emu.today().isoformat()}


def _activity(emu: Emulator, body: Any) -> Answer:
    acct = emu.find_account(body["account"])
    amount = Decimal(str(body["net_amount"]))
    status = str(body.get("status", "executed"))
    activity = emu.cash_activity(
        acct, str(body["activity_type"]), amount, str(body.get("description", "")), status
    )
    # A dividend and its withholding (DIV, DIVNRA) name the symbol, the shares paid on and the amount a share,
    # as Alpaca's non-trade activities do (docs.alpaca.markets/docs/account-activities, "The NonTradeActivity
    # Object").
    for key in ("symbol", "qty", "per_share_amount"):
        if body.get(key) is not None:
            activity[key] = str(body[key])
    acct.activities.append(activity)
    if status == "executed" and not body.get("no_cash"):
        acct.cash += amount
    return 200, {"ok": True}


def _trade(emu: Emulator, body: Any) -> Answer:
    emu.external_trade(body["account"], body["symbol"], body["side"], Decimal(str(body["qty"])))
    return 200, {"ok": True}


def _state(emu: Emulator, body: Any) -> Answer:
    for a in emu.accounts.values():
        emu.progress(a)
    return 200, {
        "requests": emu.requests, "paths": dict(emu.paths), "activities_served": emu.activities_served,
        "limited": emu.limited, "errors": emu.errors, "ghosts": emu.ghosts,
        "accounts": {
            k: {"cash": str(a.cash), "unsettled": str(a.unsettled_cash),
                "positions": {s: str(q) for s, q in a.positions.items()},
                "orders": [o.json() for o in sorted(a.orders.values(), key=lambda o: o.created)]}
            for k, a in emu.accounts.items()
        },
    }


CONTROL_ROUTES = table({
    (ANY, "/_emulator/health"): lambda emu, body: (200, {"ok": True}),
    ("POST", "/_emulator/faults"): _set_faults,
    ("POST", "/_emulator/prices"): _set_prices,
    ("POST", "/_emulator/advance"): _advance,
    ("POST", "/_emulator/activity"): _activity,
    ("POST", "/_emulator/trade"): _trade,
    (ANY, "/_emulator/state"): _state,
})
