"""Apply through the Alpaca adapter over real HTTP to the emulator, with the faults real brokers have."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from reconciler.emulator import EmuOrder
from tests.builders import emulator_fees
from tests.conftest import Workspace
from tests.execution.conftest import Broker


def filled_by_client_id(broker: Broker) -> dict[str, str]:
    return {o["client_order_id"]: o["filled_qty"] for o in broker.orders() if o["status"] == "filled"}


def test_plan_apply_converges_over_http(alpaca: Workspace, emulator: Broker, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    r = alpaca.run("plan", "--out", str(plan_file), "--detailed-exitcode")
    assert r.code == 2, r.err
    plan = json.loads(plan_file.read_text())
    legs = sum(len(p["actions"]) for p in plan["portfolios"])
    r = alpaca.run("apply", str(plan_file))
    assert r.code == 0, r.out + r.err
    assert len(filled_by_client_id(emulator)) == legs
    r = alpaca.run("plan", "--detailed-exitcode")
    assert r.code == 0, r.out
    r = alpaca.run("apply", str(plan_file))
    assert r.code == 0
    assert "applied already" in r.out
    assert len(emulator.orders()) == legs


def test_thirty_percent_429_and_5xx_no_duplicate_no_lost_order(alpaca: Workspace, emulator: Broker) -> None:
    emulator.faults(error_rate=0.15, throttle_rate=0.15, seed=11)
    r = alpaca.run("apply", "--auto-approve")
    assert r.code == 0, r.out + r.err
    state = emulator.state()
    assert state["errors"] > 0
    assert state["limited"] > 0
    ids = [o["client_order_id"] for o in emulator.orders()]
    assert len(ids) == len(set(ids))  # every leg reached the broker once
    journal_ids = {row[0] for row in alpaca.query("select client_order_id from intents where"
                                                  " status='filled'")}
    assert journal_ids == set(filled_by_client_id(emulator))  # nothing lost, journal agrees
    emulator.faults(error_rate=0.0, throttle_rate=0.0)
    assert alpaca.run("plan", "--detailed-exitcode").code == 0


def test_ghost_order_yields_exactly_one_order(alpaca: Workspace, emulator: Broker) -> None:
    emulator.faults(ghost_orders=1)
    r = alpaca.run("apply", "--auto-approve")
    assert r.code == 0, r.out + r.err
    assert emulator.state()["ghosts"] == 1
    per_leg = Counter((o["symbol"], o["side"]) for o in emulator.orders("key-paper-ira"))
    assert per_leg, per_leg
    assert all(n == 1 for n in per_leg.values()), per_leg
    # rc-PLAN-LEG-HASH
    first_leg = next(o for o in emulator.orders() if o["client_order_id"].split("-")[2] == "1")
    assert first_leg["status"] == "filled"  # the ghosted order was found by its client id, not sent again
    assert alpaca.run("plan", "--detailed-exitcode").code == 0


def test_partial_fills_are_waited_for(alpaca: Workspace, emulator: Broker) -> None:
    emulator.faults(fill_steps=3, fill_interval=0.1)
    r = alpaca.run("apply", "--auto-approve")
    assert r.code == 0, r.out + r.err
    fills = alpaca.query("select count(*) from fills")[0][0]
    orders = alpaca.query("select count(*) from intents where status='filled'")[0][0]
    assert fills > orders  # each order arrived in several fills, each journaled once
    assert alpaca.run("plan", "--detailed-exitcode").code == 0


def test_unfilled_remainder_is_cancelled_and_the_next_plan_picks_it_up(
    alpaca: Workspace, emulator: Broker, tmp_path: Path
) -> None:
    from tests.conftest import edit_yaml

    edit_yaml(alpaca.config, lambda d: d["broker"].__setitem__("fill_timeout_seconds", 0.3))
    emulator.faults(fill_steps=10, fill_interval=1.0)
    r = alpaca.run("apply", "--auto-approve")
    assert r.code == 1  # partial: not everything filled
    canceled = [o for o in emulator.orders() if o["status"] == "canceled"]
    assert canceled
    assert all(o["filled_qty"] != o["qty"] for o in canceled)
    journal = dict(alpaca.query("select client_order_id, filled_quantity from intents where"
                                " status='canceled'"))
    assert {o["client_order_id"]: o["filled_qty"] for o in canceled} == {
        k: str(v) for k, v in journal.items()
    }
    emulator.faults(fill_steps=1)
    r = alpaca.run("apply", "--auto-approve")
    assert r.code == 0, r.out + r.err
    assert alpaca.run("plan", "--detailed-exitcode").code == 0


def open_foreign_order(broker: Broker, key: str, symbol: str, side: str, qty: int) -> None:
    """An order someone else placed that stays open: marked as if all its fills were booked, it never
    fills."""
    emu = broker.emulator
    with emu.lock:
        acct = emu.accounts[key]
        order = EmuOrder(id=f"foreign-{symbol}", client_order_id=f"manual-{symbol}", symbol=symbol, side=side,
                         qty=Decimal(qty), created=datetime.now(UTC), fills_booked=10**9)
        acct.orders[order.id] = order
        acct.by_client[order.client_order_id] = order.id


def test_open_order_at_the_broker_keeps_the_planner_off_that_symbol(
    alpaca: Workspace, emulator: Broker
) -> None:
    open_foreign_order(emulator, "key-paper-taxable", "VTI", "buy", 5)
    r = alpaca.run("plan", "--format", "json")
    taxable = next(p for p in json.loads(r.out)["portfolios"] if p["account"] == "paper-taxable")
    assert "VTI" not in {a["symbol"] for a in taxable["actions"]}
    assert any("still open at the broker" in n for n in taxable["notes"])


def test_wash_trade_rejection_is_recorded_not_retried(
    alpaca: Workspace, emulator: Broker, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert alpaca.run("plan", "--out", str(plan_file)).code == 0
    # Between review and apply someone opens a sell of VTI in the IRA, which the plan buys.
    emulator.faults(wash_trade_check=True)
    open_foreign_order(emulator, "key-paper-ira", "VTI", "sell", 1)
    r = alpaca.run("apply", str(plan_file))
    assert r.code == 1
    assert "wash trade" in r.out
    rejected = alpaca.query("select symbol, message from intents where status='rejected'")
    assert [s for s, _ in rejected] == ["VTI"]
    assert "wash trade" in rejected[0][1]
    ours = [o for o in emulator.orders("key-paper-ira") if o["client_order_id"].startswith("rc-")]
    assert "VTI" not in {o["symbol"] for o in ours}  # refused at the door, and not sent again


def test_reconcile_reports_external_trades(alpaca: Workspace, emulator: Broker) -> None:
    from decimal import Decimal

    assert alpaca.run("apply", "--auto-approve").code == 0
    r = alpaca.run("reconcile")
    assert r.code == 0, r.out + r.err
    emulator.emulator.external_trade("key-paper-ira", "VTI", "sell", Decimal(3))
    r = alpaca.run("reconcile", "--account", "paper-ira")
    assert r.code == 2
    assert "external_order" in r.out
    assert "unexplained_position" in r.out
    assert "VTI" in r.out


def test_control_endpoints_refuse_bad_requests_and_keep_serving(emulator: Broker) -> None:
    import httpx

    for path, body in (
        ("/_emulator/faults", {"error_rate": "abc"}),
        ("/_emulator/faults", {"wash_trade_check": 1}),
        ("/_emulator/faults", {"no_such_knob": 1}),
        ("/_emulator/trade", {"account": "nobody", "symbol": "VTI", "side": "sell", "qty": 1}),
        ("/_emulator/trade", {"account": "paper-taxable", "symbol": "VTI", "side": "sell", "qty": "x"}),
    ):
        r = httpx.post(emulator.url + path, json=body)
        assert r.status_code == 400, (path, body, r.text)
        assert r.json()["message"], (path, body, r.text)
    assert emulator.state()["accounts"]  # still serving, faults unchanged
    assert emulator.emulator.faults.error_rate == 0.0
    # The seed's account name works as well as its key id.
    r = httpx.post(emulator.url + "/_emulator/trade",
                   json={"account": "paper-taxable", "symbol": "VTI", "side": "sell", "qty": 10})
    assert r.status_code == 200, r.text
    assert emulator.state()["accounts"]["key-paper-taxable"]["positions"]["VTI"] == "200"


def test_cash_ledger_reads_every_page_of_activities_and_the_brokers_clock(
    alpaca: Workspace, emulator: Broker
) -> None:
    """Alpaca pages activities 100 at a time: 150 trades must not drop the first deposit out of the ledger.
    Settlement is counted on the broker's clock: after two business days the proceeds are settled cash."""
    from decimal import Decimal

    for _ in range(75):
        emulator.emulator.external_trade("key-paper-taxable", "VTI", "sell", Decimal(1))
        emulator.emulator.external_trade("key-paper-taxable", "VTI", "buy", Decimal(1))
    assert len(emulator.emulator.accounts["key-paper-taxable"].activities) > 150
    emulator.emulator.external_trade("key-paper-taxable", "BND", "sell", Decimal(5))  # proceeds unsettled T+1
    plan = json.loads(alpaca.run("plan", "--format", "json").out)
    taxable = next(p for p in plan["portfolios"] if p["account"] == "paper-taxable")
    assert taxable["observation"]["cash_warning"] is None
    assert Decimal(taxable["observation"]["cash_unsettled"]) > 0
    emulator.control("/_emulator/advance", {"days": 4})
    plan = json.loads(alpaca.run("plan", "--format", "json").out)
    taxable = next(p for p in plan["portfolios"] if p["account"] == "paper-taxable")
    assert taxable["observation"]["cash_warning"] is None
    assert Decimal(taxable["observation"]["cash_unsettled"]) == 0


def test_apply_on_merge_finishes_a_partial_apply_within_the_envelope(
    alpaca: Workspace, emulator: Broker, tmp_path: Path
) -> None:
    """GitOps: the merge job's apply was cut short by slow fills; running the job again trades what is left,
    which together with what was filled is the reviewed plan: inside the envelope, not refused."""
    from tests.conftest import edit_yaml
    from tests.gitops.conftest import Git

    (alpaca.root / ".gitignore").write_text(".reconciler/\n")
    git = Git(alpaca.root)
    git("init", "-q", "-b", "main")
    git.commit_all("targets")
    reviewed = tmp_path / "reviewed.json"
    assert alpaca.run("plan", "--out", str(reviewed)).code == 0
    edit_yaml(alpaca.config, lambda d: d["broker"].__setitem__("fill_timeout_seconds", 0.2))
    git.commit_all("impatient fills")  # not a target change: the targets hash is the same
    emulator.faults(fill_steps=4, fill_interval=0.5)
    first = alpaca.run("apply", "--envelope", str(reviewed), "--auto-approve")
    assert first.code == 1, first.out + first.err
    assert "partly filled" in first.out, first.out + first.err
    emulator.faults(fill_steps=1)
    # the first run's sale proceeds settle: spendable again
    emulator.control("/_emulator/advance", {"days": 3})
    second = alpaca.run("apply", "--envelope", str(reviewed), "--auto-approve")
    assert second.code == 0, second.out + second.err
    third = alpaca.run("apply", "--envelope", str(reviewed), "--auto-approve")
    assert third.code == 0
    assert "applied already" in third.out
    assert alpaca.run("plan", "--detailed-exitcode").code == 0
    ids = [o["client_order_id"] for o in emulator.orders()]
    assert len(ids) == len(set(ids))


def test_broker_date_comes_from_its_clock_and_never_runs_ahead_of_new_york() -> None:
    from reconciler.brokers.alpaca_answers import clock_date as _clock_date

    late_evening = datetime(2026, 11, 26, 4, 30, tzinfo=UTC)  # 23:30 on the 25th in New York
    assert (
        _clock_date({"timestamp": "2026-11-25T23:30:00.000-05:00"}, late_evening).isoformat() == "2026-11-25"
    )
    # A clock without a timestamp: New York's date, not UTC's (which would settle proceeds a day early).
    assert _clock_date({}, late_evening).isoformat() == "2026-11-25"
    assert _clock_date(None, datetime(2026, 7, 1, 3, 30, tzinfo=UTC)).isoformat() == "2026-06-30"  # 23:30 EDT


def test_a_holiday_delays_settlement_and_cash_stays_truthful(alpaca: Workspace, emulator: Broker) -> None:
    from reconciler.brokers.base import OrderRequest
    from reconciler.calendars import add_weekdays
    from reconciler.runtime import Runtime

    today = emulator.emulator.today()
    holiday = add_weekdays(today, 1)  # the next weekday is an exchange holiday: no session, no settlement
    emulator.faults(holidays=[holiday.isoformat()])
    broker = Runtime(alpaca.config).broker
    sold = broker.submit(
        "paper-taxable",
        OrderRequest(client_order_id="rc-hol-1-x", symbol="VTI", side="sell", quantity=Decimal(10))
    )
    assert sold.status == "accepted"
    assert sold.filled_quantity == 0  # Alpaca's first answer: pending_new
    sold = broker.get_order("paper-taxable", "rc-hol-1-x")  # type: ignore[assignment]
    assert sold is not None
    assert sold.status == "filled"
    assert sold.avg_price is not None
    proceeds = sold.avg_price * 10
    emulator.control("/_emulator/advance", {"days": (holiday - today).days})
    obs = broker.observe("paper-taxable", [])
    # T+1 by weekdays would be today; by the exchange's sessions it is the day after. The broker's cash and
    # the ledger the activities imply agree only if the adapter counts sessions.
    assert obs.cash_warning is None, obs.cash_warning
    assert obs.cash_unsettled == proceeds
    fees = emulator_fees(emulator.emulator, "key-paper-taxable")  # the sale's, posted at its session's close
    assert obs.cash_settled == Decimal("1250.40") - fees
    after = add_weekdays(holiday, 1)
    emulator.control("/_emulator/advance", {"days": (after - holiday).days})
    obs = broker.observe("paper-taxable", [])
    assert obs.cash_warning is None
    assert obs.cash_unsettled == 0
    assert obs.cash_settled == Decimal("1250.40") - fees + proceeds
