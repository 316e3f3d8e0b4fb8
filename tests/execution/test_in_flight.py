"""An order in flight is not a failed order. An apply killed while its POST is still travelling leaves an
intent the broker does not know yet; reconcile must call it unknown (not failed), plan and apply must refuse
the account until it is known, and when the delayed order lands it is adopted — never bought a second time.

A delaying proxy on 127.0.0.1 sits in front of the emulator and holds each order submission for a few seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Workspace, edit_yaml
from tests.execution.conftest import Answer, Broker, ForwardingProxy, run_cli

HOLD = 60.0  # at most this long the proxy holds the first order submission, until the test releases it
# apply.in_flight_grace_seconds in these tests: no test here waits for it, and a loaded machine can take
GRACE = 120
# tens of seconds between two commands
TIMEOUT = 1.0  # broker.timeout_seconds: a send takes at most 6 x 1 + 0.15 s, within the grace


class DelayingProxy(ForwardingProxy):
    """The first POST /v2/orders is held until the test releases it, then passed on even when the client that
    sent it has died meanwhile."""

    def __init__(self, upstream: str) -> None:
        self.held = threading.Event()
        self.release = threading.Event()
        super().__init__(upstream, self._hold_first_order)

    def _hold_first_order(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> Answer | None:
        if method == "POST" and path == "/v2/orders" and not self.held.is_set():
            self.held.set()
            self.release.wait(HOLD)
        return None  # then forwarded as it is


@pytest.fixture
def proxied(alpaca: Workspace, emulator: Broker) -> Iterator[tuple[Workspace, DelayingProxy]]:
    proxy = DelayingProxy(emulator.url)

    def through_proxy(doc: Any) -> None:
        doc["broker"]["trading_url"] = proxy.url
        doc["apply"]["in_flight_grace_seconds"] = GRACE
        doc["broker"]["timeout_seconds"] = TIMEOUT

    edit_yaml(alpaca.config, through_proxy)
    yield alpaca, proxy
    proxy.release.set()
    proxy.server.shutdown()


def _start_apply(ws: Workspace) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler.cli.main", "--config", str(ws.config), "--no-color", "apply",
         "--auto-approve"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
        cwd=Path(__file__).resolve().parents[2],
    )


def test_an_order_killed_in_flight_is_unknown_then_adopted_never_sent_twice(
    proxied: tuple[Workspace, DelayingProxy], emulator: Broker
) -> None:
    ws, proxy = proxied
    apply = _start_apply(ws)
    assert proxy.held.wait(60), "the apply never sent an order"
    apply.send_signal(signal.SIGKILL)  # killed while its first order is held by the proxy
    apply.wait(30)

    r = run_cli(ws, "reconcile")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "the broker does not know it yet; it may still arrive" in r.stdout
    (cid,) = [row[0] for row in ws.query("select client_order_id from intents where status = 'unknown'")]

    for argv in (("plan",), ("apply", "--auto-approve")):
        refused = run_cli(ws, *argv)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert cid in refused.stderr
        assert "may still arrive" in refused.stderr
    assert emulator.orders() == []  # nothing else was sent meanwhile

    proxy.release.set()  # the travelling order lands now
    for _ in range(300):
        if any(o["client_order_id"] == cid for o in emulator.orders()):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the held order never reached the emulator")
    adopted = run_cli(ws, "reconcile")
    assert f"adopted {cid}" in adopted.stdout, adopted.stdout + adopted.stderr

    for _ in range(3):
        done = run_cli(ws, "apply", "--auto-approve")
        assert done.returncode == 0, done.stdout + done.stderr
        if run_cli(ws, "plan", "--detailed-exitcode").returncode == 0:
            break
        emulator.control("/_emulator/advance", {"days": 1})
    ids = [o["client_order_id"] for o in emulator.orders()]
    assert len(ids) == len(set(ids)), "an order was sent twice"
    (account,) = [name for name, a in emulator.state()["accounts"].items()
                  if any(o["client_order_id"] == cid for o in a["orders"])]
    orders = emulator.orders(account)
    held = next(o for o in orders if o["client_order_id"] == cid)
    again = [
        o for o in orders if o["symbol"] == held["symbol"] and o["side"] == held["side"] and o is not held
    ]
    assert again == [], "the delayed order's trade was made a second time"


def test_give_up_marks_an_unknown_order_failed_with_who_and_why(
    proxied: tuple[Workspace, DelayingProxy], emulator: Broker
) -> None:
    ws, proxy = proxied
    proxy.release.set()  # nothing is held here: the apply dies before its first order leaves
    crashed = run_cli(ws, "apply", "--auto-approve", env={"RECONCILER_CRASH_AT": "after_intent"})
    assert crashed.returncode == -signal.SIGKILL
    assert run_cli(ws, "reconcile").returncode == 2
    (cid,) = [row[0] for row in ws.query("select client_order_id from intents where status = 'unknown'")]
    r = run_cli(ws, "reconcile", "--give-up", cid)
    assert r.returncode == 1
    assert "--give-up needs --reason" in r.stderr
    r = run_cli(ws, "reconcile", "--give-up", cid, "--reason", "the apply died before sending it",
                env={"RECONCILER_ACTOR": "ops-ann"})
    assert r.returncode == 0, r.stdout + r.stderr
    status, message = ws.query("select status, message from intents where client_order_id = :c", c=cid)[0]
    assert status == "failed"
    assert message == "given up by ops-ann: the apply died before sending it"
    assert ws.query("select count(*) from events where kind = 'reconcile.given_up'")[0][0] == 1
    r = run_cli(ws, "apply", "--auto-approve")
    assert r.returncode == 0, r.stdout + r.stderr
