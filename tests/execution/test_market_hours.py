"""Market hours: no order is sent while the broker says its market is closed, because a market order would
wait for the open and fill at a price that no quote band, policy or kill switch has seen.

The paper broker knows its market's hours from an exchange calendar (exchange-calendars, XNYS here); the
Alpaca adapter from the broker's own clock (the emulator's `market_closed` knob).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.brokers.base import OrderRequest
from reconciler.brokers.paper import PaperBroker
from reconciler.clock import FixedClock
from reconciler.errors import MarketClosedError
from reconciler.execution.executor import apply_plan
from reconciler.execution.planning import make_plan
from reconciler.runtime import Runtime
from tests.conftest import Workspace, edit_yaml
from tests.execution.conftest import Broker

THANKSGIVING = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)  # a Thursday: NYSE closed all day
WEDNESDAY_OPEN = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)  # 11:00 in New York
BLACK_FRIDAY_AFTER_EARLY_CLOSE = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)  # NYSE closes at 13:00 New York


def _runtime(ws: Workspace, now: datetime, **apply: object) -> tuple[Runtime, FixedClock]:
    def change(doc: dict[str, object]) -> None:
        doc["broker"]["calendar"] = "XNYS"  # type: ignore[index]
        doc["apply"].update(apply)  # type: ignore[attr-defined]

    edit_yaml(ws.config, change)
    clock = FixedClock(now)
    # one clock for broker, journal, policies and plan age
    rt = Runtime(ws.config, ws.journal_url, clock=clock)
    assert isinstance(rt.broker, PaperBroker)
    return rt, clock


def test_paper_market_follows_the_exchange_calendar(workspace: Workspace) -> None:
    rt, clock = _runtime(workspace, WEDNESDAY_OPEN)
    market = rt.broker.observe("paper-ira", ["VTI"]).market
    assert market is not None
    assert market.is_open
    clock.at = THANKSGIVING
    market = rt.broker.observe("paper-ira", ["VTI"]).market
    assert market is not None
    assert not market.is_open
    assert market.next_open == datetime(2026, 11, 27, 14, 30, tzinfo=UTC)  # 09:30 New York on Friday
    clock.at = BLACK_FRIDAY_AFTER_EARLY_CLOSE
    market = rt.broker.observe("paper-ira", ["VTI"]).market
    assert market is not None
    assert not market.is_open
    assert market.next_open == datetime(2026, 11, 30, 14, 30, tzinfo=UTC)  # Monday


def test_settlement_counts_exchange_sessions_not_weekdays(workspace: Workspace) -> None:
    rt, clock = _runtime(workspace, WEDNESDAY_OPEN)
    broker = rt.broker
    sold = broker.submit(
        "paper-taxable", OrderRequest(client_order_id="s1", symbol="VTI", side="sell", quantity=Decimal(10))
    )
    assert sold.status == "filled"
    clock.at = datetime(2026, 11, 26, 23, 0, tzinfo=UTC)  # T+1 by weekdays, but Thanksgiving is no session
    assert broker.observe("paper-taxable", []).cash_unsettled > 0
    clock.at = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # the next session: settled
    obs = broker.observe("paper-taxable", [])
    assert obs.cash_unsettled == 0
    assert obs.cash_settled > Decimal("1250.40")


def test_apply_refuses_while_the_market_is_closed_and_sends_nothing(workspace: Workspace) -> None:
    rt, _ = _runtime(workspace, THANKSGIVING)
    plan = make_plan(rt)
    assert any(pp.actions for pp in plan.portfolios)
    notes = [n for pp in plan.portfolios if pp.actions for n in pp.notes]
    assert any("market was closed" in n and "2026-11-27 14:30" in n for n in notes), notes
    with pytest.raises(MarketClosedError) as refused:
        apply_plan(plan, rt, actor="test")
    assert "nothing was sent" in refused.value.message
    assert "next open 2026-11-27 14:30" in refused.value.message
    assert "market_hours: ignore" in (refused.value.fix or "")
    assert workspace.paper_order_count() == 0
    assert workspace.query("select count(*) from applies")[0][0] == 0  # not even started


def test_the_same_plan_applies_once_the_market_opens(workspace: Workspace) -> None:
    rt, clock = _runtime(workspace, datetime(2026, 11, 27, 14, 0, tzinfo=UTC))  # 09:00 New York: not yet
    plan = make_plan(rt)
    with pytest.raises(MarketClosedError):
        apply_plan(plan, rt, actor="test")
    clock.at = datetime(2026, 11, 27, 14, 31, tzinfo=UTC)
    result = apply_plan(plan, rt, actor="test")
    assert result.status == "succeeded", result
    assert workspace.paper_order_count() == sum(len(pp.actions) for pp in plan.portfolios)


def test_market_hours_ignore_queues_orders_for_the_open(workspace: Workspace) -> None:
    rt, _ = _runtime(workspace, THANKSGIVING, market_hours="ignore")
    plan = make_plan(rt)
    result = apply_plan(plan, rt, actor="test")
    assert result.status == "succeeded"
    assert workspace.paper_order_count() > 0


def test_alpaca_clock_closed_refuses_apply(alpaca: Workspace, emulator: Broker, tmp_path: Path) -> None:
    emulator.faults(market_closed=True)
    plan_file = tmp_path / "plan.json"
    r = alpaca.run("plan", "--out", str(plan_file))
    assert r.code == 0, r.err
    assert "market was closed" in r.out
    assert "Alpaca clock" in r.out
    comment = alpaca.run("plan", "--format", "markdown").out  # the pull-request comment says it up front
    head = comment.split("<details>")[0]
    assert "market was closed when this plan was made" in head, head
    assert "next open" in head, head
    summary = tmp_path / "summary.md"
    r = alpaca.run("apply", str(plan_file), "--summary-file", str(summary))
    assert r.code == 1
    assert "market is closed" in r.err
    assert "nothing was sent" in r.err
    assert "fix:" in r.err
    assert emulator.orders() == []
    assert "refused" in summary.read_text()
    assert "market is closed" in summary.read_text()  # the Actions job summary
    emulator.faults(market_closed=False)
    r = alpaca.run("apply", str(plan_file))
    assert r.code == 0, r.out + r.err
    assert emulator.orders()


def test_settlement_date_after_a_holiday_weekend() -> None:
    from reconciler.calendars import settlement_date

    # Sold on the half-day before a weekend, T+1: the next session is Monday.
    assert settlement_date("XNYS", datetime(2026, 11, 27, 15, 0, tzinfo=UTC), 1) == date(2026, 11, 30)
    assert settlement_date("XNYS", datetime(2026, 12, 24, 15, 0, tzinfo=UTC), 2) == date(2026, 12, 29)


def test_apply_all_refused_while_closed_runs_again_once_open(
    alpaca: Workspace, emulator: Broker, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert alpaca.run("plan", "--out", str(plan_file)).code == 0
    emulator.faults(market_closed=True)
    r = alpaca.run("apply", str(plan_file), "--all", "--workers", "2")
    assert r.code == 1, r.out + r.err
    assert "market is closed" in r.out, r.out + r.err
    assert emulator.orders() == []
    emulator.faults(market_closed=False)
    r = alpaca.run("apply", str(plan_file), "--all", "--workers", "2")
    assert r.code == 0, r.out + r.err
    accounts = {row[0] for row in alpaca.query("select account from work_items where status = 'done'")}
    assert len(accounts) == 3
    assert emulator.orders()
    ids = [o["client_order_id"] for o in emulator.orders()]
    assert len(ids) == len(set(ids))


def test_one_summary_per_refused_apply(alpaca: Workspace, emulator: Broker, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    assert alpaca.run("plan", "--out", str(plan_file)).code == 0
    emulator.faults(market_closed=True)
    summary = tmp_path / "summary.md"
    assert alpaca.run("apply", str(plan_file), "--summary-file", str(summary)).code == 1
    text = summary.read_text()
    assert text.count("## reconciler apply") == 1
    assert "market is closed" in text


def test_a_trade_outside_a_session_settles_from_the_next_session() -> None:
    from reconciler.calendars import settlement_date

    before_open = datetime(2026, 11, 25, 14, 29, tzinfo=UTC)  # Wednesday 09:29 New York: trades at the open
    after_close = datetime(2026, 11, 25, 21, 30, tzinfo=UTC)  # Wednesday 16:30: trades at Friday's open
    assert settlement_date("XNYS", before_open, 1) == date(2026, 11, 27)  # Thursday is Thanksgiving
    assert settlement_date("XNYS", after_close, 1) == date(2026, 11, 30)
    # Saturday
    assert settlement_date("XNYS", datetime(2026, 11, 28, 12, 0, tzinfo=UTC), 1) == date(2026, 12, 1)


def test_a_lunch_break_is_closed() -> None:
    from reconciler.calendars import market_status

    lunch = market_status("XTKS", datetime(2026, 11, 25, 2, 45, tzinfo=UTC))  # 11:45 in Tokyo
    assert not lunch.is_open
    assert lunch.next_open == datetime(2026, 11, 25, 3, 30, tzinfo=UTC)  # 12:30 in Tokyo
    assert market_status("XTKS", datetime(2026, 11, 25, 4, 0, tzinfo=UTC)).is_open


def test_settlement_is_judged_by_the_exchanges_date(tmp_path: Path) -> None:
    from reconciler.brokers.prices import Price
    from reconciler.journal.store import Journal
    from reconciler.workspace.models import PaperBrokerConfig

    spec = PaperBrokerConfig.model_validate({
        "kind": "paper", "calendar": "XTKS", "slippage_bps": 0,
        "accounts": {"acct": {"cash": 0, "positions": {"ABC": 10}}},
    })
    clock = FixedClock(datetime(2026, 11, 26, 1, 0, tzinfo=UTC))  # Thursday 10:00 in Tokyo
    broker = PaperBroker(Journal.open(f"sqlite:///{tmp_path / 'j.db'}").engine, spec, tmp_path, clock=clock,
                         prices={"ABC": Price(Decimal(100), None)})
    broker.submit("acct", OrderRequest(client_order_id="s1", symbol="ABC", side="sell", quantity=Decimal(10)))
    clock.at = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)  # Thursday 23:00 in Tokyo: not yet
    assert broker.observe("acct", []).cash_unsettled == Decimal(1000)
    clock.at = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)  # Friday 08:30 in Tokyo, still Thursday in UTC
    assert broker.observe("acct", []).cash_settled == Decimal(1000)
