"""One deadline per apply (issue 20 §3), end to end: the emulator behind a proxy on 127.0.0.1 that, from the
second order on, holds every request longer than the adapter's timeout before passing it on (a drip-feeding
broker whose orders still land, late). The apply must end within `apply.max_duration_seconds` as
`interrupted`, the order it was sending when the broker went slow must stay `unknown` (never failed), and
nothing is ever sent twice.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.conftest import Workspace, edit_yaml
from tests.execution.conftest import Answer, Broker, ForwardingProxy, run_cli

TIMEOUT = 1.0  # broker.timeout_seconds: a send takes at most 6 x 1 + 0.15 s
# apply.max_duration_seconds: room for the first order and one slow send, not for the retries after it
BUDGET = 12
DRIP = 2.5  # how long the slow proxy holds each request: longer than TIMEOUT, so every attempt times out
# what a loaded machine may add past the budget (start-up, journaling); the slow broker alone would
MARGIN = 10.0
# hold the apply for minutes


class SlowAfterFirstOrder(ForwardingProxy):
    """Every request from the second POST /v2/orders on is held DRIP seconds, then passed on (so a send that
    timed out at the client still reaches the broker, as a real slow broker's would)."""

    def __init__(self, upstream: str) -> None:
        self.posts = 0
        self.slow = threading.Event()
        self.healed = threading.Event()
        super().__init__(upstream, self._maybe_hold)

    def _maybe_hold(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer | None:
        with self.lock:
            if method == "POST" and path == "/v2/orders":
                self.posts += 1
                if self.posts == 2:
                    self.slow.set()
            hold = self.slow.is_set() and not self.healed.is_set()
        if hold:
            time.sleep(DRIP)
        return None


@pytest.fixture
def slow(alpaca: Workspace, emulator: Broker) -> Iterator[tuple[Workspace, SlowAfterFirstOrder]]:
    proxy = SlowAfterFirstOrder(emulator.url)

    def through_proxy(doc: Any) -> None:
        doc["broker"]["trading_url"] = proxy.url
        doc["broker"]["timeout_seconds"] = TIMEOUT
        doc["apply"]["in_flight_grace_seconds"] = 120
        doc["apply"]["max_duration_seconds"] = BUDGET

    edit_yaml(alpaca.config, through_proxy)
    yield alpaca, proxy
    proxy.healed.set()
    proxy.server.shutdown()


def _seconds(started: Any, finished: Any) -> float:
    return (datetime.fromisoformat(str(finished)) - datetime.fromisoformat(str(started))).total_seconds()


def test_a_slow_broker_interrupts_the_apply_within_its_budget_and_nothing_is_sent_twice(
    slow: tuple[Workspace, SlowAfterFirstOrder], emulator: Broker
) -> None:
    ws, proxy = slow
    r = run_cli(ws, "apply", "--auto-approve", timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    assert proxy.slow.is_set(), "the apply never sent a second order"
    assert "interrupted" in r.stdout
    assert "time budget (12 s, apply.max_duration_seconds) ran out" in r.stdout

    ((status, started, finished),) = ws.query("select status, started_at, finished_at from applies")
    assert status == "interrupted"
    print(f"apply took {_seconds(started, finished):.2f}s by the journal (budget {BUDGET}s)")
    assert _seconds(started, finished) <= BUDGET + MARGIN
    assert ws.query("select count(*) from locks")[0][0] == 0
    statuses = [row[0] for row in ws.query("select status from intents")]
    assert "failed" not in statuses
    (cid,) = [row[0] for row in ws.query("select client_order_id from intents where status = 'unknown'")]
    assert statuses.count("skipped") >= 1  # what came after it was never sent

    proxy.settle()  # every held attempt has reached the broker: the slow send's order landed, late
    ids = [o["client_order_id"] for o in emulator.orders()]
    assert len(ids) == len(set(ids)), "an order was sent twice"
    assert cid in ids

    proxy.healed.set()
    adopted = run_cli(ws, "reconcile")
    assert f"adopted {cid}" in adopted.stdout, adopted.stdout + adopted.stderr
    done = run_cli(ws, "apply", "--auto-approve")
    assert done.returncode == 0, done.stdout + done.stderr
    (account,) = [name for name, a in emulator.state()["accounts"].items()
                  if any(o["client_order_id"] == cid for o in a["orders"])]
    orders = emulator.orders(account)
    held = next(o for o in orders if o["client_order_id"] == cid)
    again = [
        o for o in orders if (o["symbol"], o["side"]) == (held["symbol"], held["side"]) and o is not held
    ]
    assert again == [], "the interrupted order's trade was made a second time"

def test_a_budget_that_cannot_hold_one_send_is_refused_at_load(alpaca: Workspace) -> None:
    edit_yaml(alpaca.config, lambda d: (d["broker"].__setitem__("timeout_seconds", TIMEOUT),
                                        d["apply"].__setitem__("max_duration_seconds", 6)))
    r = run_cli(alpaca, "validate")
    assert r.returncode != 0
    assert "apply.max_duration_seconds: 6 s does not exceed the longest an order's send can take" in r.stderr
    assert "Traceback" not in r.stderr


def test_each_account_of_apply_all_has_its_own_budget(
    slow: tuple[Workspace, SlowAfterFirstOrder], emulator: Broker
) -> None:
    """Within `apply --all` every account is its own apply with its own deadline: each ends within the budget
    (by its work item's times), the slow ones as interrupted or refused by the deadline, and nothing twice."""
    ws, proxy = slow
    plan = ws.root / "plan.json"
    assert run_cli(ws, "plan", "--out", str(plan)).returncode in (0, 2)
    r = run_cli(ws, "apply", str(plan), "--all", "--workers", "3", timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    items = ws.query("select account, status, message, claimed_at, finished_at from work_items")
    assert len(items) == 3
    for account, _, message, claimed, finished in items:
        print(f"{account}: {_seconds(claimed, finished):.2f}s: {message[:100]}")
        assert _seconds(claimed, finished) <= BUDGET + MARGIN, account
    assert any("time budget (12 s, apply.max_duration_seconds) ran out" in row[2] for row in items)
    assert "failed" not in [row[0] for row in ws.query("select status from intents")]
    proxy.settle()
    ids = [o["client_order_id"] for o in emulator.orders()]
    assert len(ids) == len(set(ids)), "an order was sent twice"


class StatusRegresses(ForwardingProxy):
    """Every answer about an order says it is `new` with nothing filled, whatever the broker holds: an order
    that filled at once looks open for ever (a status regressing from filled to new), until the proxy is
    healed."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.healed = threading.Event()
        super().__init__(upstream, self._regress)

    def _regress(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer | None:
        if self.healed.is_set() or not (path == "/v2/orders:by_client_order_id" or
                                        (method == "POST" and path == "/v2/orders")):
            return None
        if method == "POST":
            got = httpx.post(self.upstream + path, content=body, headers=headers)
        else:
            got = httpx.get(f"{self.upstream}{path}?{self.request.query}", headers=headers)
        answer = got.json()
        if got.status_code == 200 or (method == "POST" and got.status_code < 300):
            answer.update(status="new", filled_qty="0", filled_avg_price=None)
        return got.status_code, {"content-type": "application/json"}, json.dumps(answer).encode()


def test_an_order_that_never_looks_filled_is_left_open_within_the_budget(
    alpaca: Workspace, emulator: Broker
) -> None:
    """The fill timeout is longer than the budget; the apply stops waiting for fills when the budget, less
    what a cancel may need, is spent: the order stays as the broker showed it (never failed, never resent),
    and a later reconcile adopts what it really did."""
    proxy = StatusRegresses(emulator.url)

    def through_proxy(doc: Any) -> None:
        doc["broker"].update(trading_url=proxy.url, timeout_seconds=TIMEOUT, fill_timeout_seconds=600)
        doc["apply"].update(in_flight_grace_seconds=120, max_duration_seconds=BUDGET)

    edit_yaml(alpaca.config, through_proxy)
    try:
        r = run_cli(alpaca, "apply", "--auto-approve", timeout=300)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "time budget (12 s, apply.max_duration_seconds) ran out" in r.stdout
        ((status, started, finished),) = alpaca.query("select status, started_at, finished_at from applies")
        print(f"apply took {_seconds(started, finished):.2f}s by the journal (budget {BUDGET}s)")
        assert status == "interrupted"
        assert _seconds(started, finished) <= BUDGET + MARGIN
        statuses = [row[0] for row in alpaca.query("select status from intents")]
        assert "failed" not in statuses
        assert "accepted" in statuses  # as the broker last showed it
        proxy.healed.set()
        adopted = run_cli(alpaca, "reconcile")
        assert "adopted" in adopted.stdout, adopted.stdout + adopted.stderr
        ids = [o["client_order_id"] for o in emulator.orders()]
        assert len(ids) == len(set(ids)), "an order was sent twice"
    finally:
        proxy.healed.set()
        proxy.server.shutdown()
