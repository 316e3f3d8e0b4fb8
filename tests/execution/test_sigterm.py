"""SIGTERM on `apply` is a stop, handled like Ctrl-C (issue 20): the order being sent is finished and
journaled, nothing more is sent, the apply is recorded as ended, its lock is released, and the process exits
143."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Workspace, edit_yaml
from tests.execution.conftest import Broker
from tests.execution.test_in_flight import DelayingProxy


@pytest.fixture
def proxied(alpaca: Workspace, emulator: Broker) -> Iterator[tuple[Workspace, DelayingProxy]]:
    proxy = DelayingProxy(emulator.url)

    def through_proxy(doc: Any) -> None:
        doc["broker"]["trading_url"] = proxy.url

    edit_yaml(alpaca.config, through_proxy)
    yield alpaca, proxy
    proxy.release.set()
    proxy.server.shutdown()


def test_sigterm_finishes_the_order_being_sent_records_releases_and_exits_143(
    proxied: tuple[Workspace, DelayingProxy], emulator: Broker
) -> None:
    ws, proxy = proxied
    apply = subprocess.Popen(
        [sys.executable, "-m", "reconciler.cli.main", "--config", str(ws.config), "--no-color", "apply",
         "--auto-approve"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proxy.held.wait(60), "the apply never sent an order"
    apply.send_signal(signal.SIGTERM)  # while its first order is on its way
    time.sleep(0.5)
    proxy.release.set()  # the order arrives; its answer comes back to the apply
    out, err = apply.communicate(timeout=60)

    assert apply.returncode == 143, out + err
    assert "terminated (SIGTERM)" in err
    orders = emulator.orders()
    assert len(orders) == 1, "an order was sent after the SIGTERM"
    (status,) = ws.query(
        "select status from intents where client_order_id = :c", c=orders[0]["client_order_id"]
    )[0]
    assert status == "filled"  # the order being sent was finished and journaled
    assert ws.query("select count(*) from locks")[0][0] == 0
    assert ws.query("select status from applies")[0][0] == "failed"
    assert ws.query("select count(*) from intents where status = 'submitting'")[0][0] == 0
