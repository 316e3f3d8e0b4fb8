"""Price protection: orders go out as marketable limit orders at the fresh quote ± apply.limit_band. In a fast
market they do not fill past the limit; what is unfilled at the fill timeout is cancelled and reported as
such, and the next plan picks it up. Tested over HTTP against the Alpaca emulator and a fake Binance through
ccxt, and on the paper broker (the ccxt cases are in tests/brokers/test_ccxt.py)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from reconciler.core.fills import alpaca_tick, limit_price, round_limit
from tests.conftest import Workspace, edit_yaml
from tests.execution.conftest import PRICES, Broker

D = Decimal


def _plan(ws: Workspace, tmp_path: Path) -> dict[str, object]:
    plan_file = tmp_path / "plan.json"
    r = ws.run("plan", "--out", str(plan_file))
    assert r.code == 0, r.out + r.err
    return json.loads(plan_file.read_text())  # type: ignore[no-any-return]


def test_orders_are_limit_orders_at_the_quote_plus_the_band(alpaca: Workspace, emulator: Broker) -> None:
    r = alpaca.run("apply", "--auto-approve")
    assert r.code == 0, r.out + r.err
    orders = emulator.orders()
    assert orders
    assert all(o["type"] == "limit" and o["time_in_force"] == "day" for o in orders)
    for o in orders:
        # the limit starts from the ask or the bid
        book = emulator.emulator.snapshot(o["symbol"])["latestQuote"]
        side = o["side"]
        touch = D(str(book["ap"] if side == "buy" else book["bp"]))
        expected = round_limit(side, limit_price(side, touch, D("0.005")), alpaca_tick(touch))
        assert D(o["limit_price"]) == expected
        assert o["status"] == "filled"
        # Filled at or better than the limit.
        assert (
            (D(o["filled_avg_price"]) <= expected)
            if side == "buy"
            else (D(o["filled_avg_price"]) >= expected)
        )
    assert alpaca.run("plan", "--detailed-exitcode").code == 0


def test_a_fast_market_cancels_the_unfilled_limit_and_the_next_plan_picks_it_up(
    alpaca: Workspace, emulator: Broker, tmp_path: Path
) -> None:
    edit_yaml(alpaca.config, lambda d: d["broker"].__setitem__("fill_timeout_seconds", 0.3))
    before = {k: dict(a.positions) for k, a in emulator.emulator.accounts.items()}
    emulator.faults(adverse_move=0.01)  # the market runs 1% away from every order: past a 0.5% limit
    r = alpaca.run("apply", "--auto-approve")
    assert r.code == 1  # partial: the account is not where the plan wanted it
    assert "limit" in r.out
    assert "not reached" in r.out
    assert "next plan picks it up" in r.out
    orders = emulator.orders()
    assert orders
    assert all(o["status"] == "canceled" and o["filled_qty"] == "0" for o in orders)
    assert {k: dict(a.positions) for k, a in emulator.emulator.accounts.items()} == before  # nothing filled
    rows = alpaca.query("select status, message from intents")
    assert rows
    assert all(s == "canceled" and "not reached" in m for s, m in rows)
    emulator.faults(adverse_move=0.0)
    plan = _plan(alpaca, tmp_path)  # the same trades, again
    assert sum(len(p["actions"]) for p in plan["portfolios"]) == len(orders)  # type: ignore[index,union-attr]
    r = alpaca.run("apply", str(tmp_path / "plan.json"))
    assert r.code == 0, r.out + r.err
    assert alpaca.run("plan", "--detailed-exitcode").code == 0


def test_market_orders_stay_available_by_choice(alpaca: Workspace, emulator: Broker) -> None:
    edit_yaml(alpaca.config, lambda d: d.setdefault("apply", {}).__setitem__("order_type", "market"))
    emulator.faults(adverse_move=0.01)
    r = alpaca.run("apply", "--auto-approve")
    orders = emulator.orders()
    assert orders
    assert all(o["type"] == "market" and o["limit_price"] is None for o in orders)
    # A market order fills wherever the market is: 1% worse than the quote (the cash check may then refuse the
    # last buys, which is why limit orders are the default).
    filled = [o for o in orders if o["status"] == "filled"]
    assert filled, r.out
    for o in filled:
        quote = D(str(PRICES[o["symbol"]]["price"]))
        worse = quote * D("1.01") if o["side"] == "buy" else quote * D("0.99")
        assert D(o["filled_avg_price"]) == worse.quantize(D("0.0001"))


def test_emulator_refuses_a_sub_penny_limit_as_alpaca_does(emulator: Broker) -> None:
    import httpx

    headers = {"APCA-API-KEY-ID": "key-paper-ira", "APCA-API-SECRET-KEY": "CANARY-s3cr3t-7f3a9e"}
    body = {"symbol": "VTI", "qty": "1", "side": "buy", "type": "limit", "limit_price": "289.415",
            "time_in_force": "day", "client_order_id": "sub-penny"}
    r = httpx.post(emulator.url + "/v2/orders", json=body, headers=headers)
    assert r.status_code == 422
    assert "sub-penny" in r.json()["message"]
    body.update(limit_price="289.41", client_order_id="whole-cents")
    r = httpx.post(emulator.url + "/v2/orders", json=body, headers=headers)
    assert r.status_code == 200
    assert r.json()["limit_price"] == "289.41"


def test_paper_limit_not_reached_is_cancelled_not_rejected(workspace: Workspace) -> None:
    # 1% slippage never reaches a 0.5% limit: every order ends cancelled, unfilled, and nothing is booked.
    edit_yaml(workspace.config, lambda d: d["broker"].__setitem__("slippage_bps", 100))
    r = workspace.run("apply", "--auto-approve")
    assert r.code == 1
    statuses = {s for (s,) in workspace.query("select status from paper_orders")}
    assert statuses == {"canceled"}
    assert workspace.run("plan", "--detailed-exitcode").code == 2  # still to do
    edit_yaml(workspace.config, lambda d: d["apply"].__setitem__("limit_band", 0.02))  # a wider band fills
    assert workspace.run("apply", "--auto-approve").code == 0
    assert workspace.run("plan", "--detailed-exitcode").code == 0


def test_an_absurd_share_count_is_refused_against_the_daily_volume(
    alpaca: Workspace, emulator: Broker
) -> None:
    """A quote of 0.0001 with a matching previous close passes the kill switch; the plan would buy hundreds of
    millions of BNDX shares. The daily volume the broker reports (its bars' `v`) refuses it: nothing is sent
    for that portfolio (the only one holding BNDX), and the others trade. The consolidated feed's volume:
    IEX's alone turns the volume rule off; no per-share fees (at $0.0001 the CAT fee alone would cost more
    than the buy, and the planner would skip it before this check sees it)."""
    emulator.faults(sip_subscription=True)
    no_fees = {"taf_per_share": 0, "cat_per_share": 0, "sec_per_dollar": 0}
    edit_yaml(alpaca.config, lambda d: d["broker"].update(feed="sip", fees=no_fees))
    emulator.control(
        "/_emulator/prices", {"BNDX": {"price": 0.0001, "previous_close": 0.0001, "volume": 3_000_000}}
    )
    r = alpaca.run("plan", "--format", "json")
    plan = json.loads(r.out)
    bndx = [a for p in plan["portfolios"] for a in p["actions"] if a["symbol"] == "BNDX"]
    assert bndx
    assert max(D(a["quantity"]) for a in bndx) > 1_000_000
    sized = [p for p in plan["policy_results"] if p["policy"] == "order_size"]
    assert [p["portfolio"] for p in sized] == ["alice-ira"]
    assert "daily volume (3000000" in sized[0]["message"]
    r = alpaca.run("apply", "--auto-approve")
    assert r.code == 1
    assert "order_size" in r.out + r.err
    assert not emulator.orders("key-paper-ira")  # the refused portfolio: nothing sent
    assert emulator.orders("key-paper-taxable")
    assert emulator.orders("key-paper-college")
    denied = alpaca.query("select count(*) from policy_decisions where policy = 'order_size'")
    assert denied[0][0] >= 1
