"""kill -9 of apply at every crash point with the ccxt adapter against the fake Binance (Binance's id rule: a
closed order's client id may be used again, so a blind resend would be a second order), then apply again until
the plan is empty: no order sent twice, and the journal's fills are what the exchange executed."""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reconciler.execution.faults import POINTS
from tests.brokers.fake_binance import FakeBinance, FakeBinanceServer
from tests.conftest import REPO, Workspace, fresh_journal_url
from tests.execution.conftest import run_cli

D = Decimal
GRACE = 3  # apply.in_flight_grace_seconds: an order the exchange never saw is failed after 3 s
TIMEOUT = 0.45  # broker.timeout_seconds
LONGEST_SEND = 4 * TIMEOUT  # (1 + the call deadline factor) x timeout, with room
ENV = {"BINANCE_API_KEY": "key", "BINANCE_SECRET": "secret"}
SETUP: dict[str, dict[str, Any]] = {
    "mid_partial_fill": {"fill_steps": 3},
    "during_cancel": {"fill_steps": 50, "fill_timeout": 0.2},
    "mid_reconcile": {"before": "after_submit:2"},
}


@pytest.fixture
def exchange() -> Iterator[FakeBinance]:
    # 0.3 BTC (18,000) and 2,000 USDT against targets BTC 50%, ETH 30%: a sell of BTC, then a buy of ETH.
    fake = FakeBinance({"USDT": D(2000), "BTC": D("0.3"), "BNB": D(1)},
                       {"BTC": (D(60000), D(59500)), "ETH": (D(3000), D(3010)), "BNB": (D(600), D(590))})
    server = FakeBinanceServer(fake)
    server.start()
    yield fake
    server.stop()


@pytest.fixture
def crypto(tmp_path: Path, exchange: FakeBinance) -> Workspace:
    """examples/crypto with its broker on the fake exchange, a fresh journal and this suite's short
    timeouts."""
    import yaml

    root = tmp_path / "crypto"
    shutil.copytree(REPO / "examples" / "crypto" / "portfolios", root / "portfolios")
    shutil.copytree(REPO / "policies", root / "policies")
    config = yaml.safe_load((REPO / "examples" / "crypto" / "reconciler.yaml").read_text())
    url = fresh_journal_url(tmp_path)
    config["journal"]["url"] = url
    config["policies"]["dir"] = "policies"
    config["apply"] = {"in_flight_grace_seconds": GRACE}
    config["broker"] |= {"sandbox": False, "api_url": exchange.url, "rate_limit_per_second": 200,
                         "timeout_seconds": TIMEOUT, "fill_timeout_seconds": 5}
    (root / "reconciler.yaml").write_text(json.dumps(config))
    return Workspace(root, url, lambda *a: None)


def _fill_timeout(ws: Workspace, seconds: float) -> None:
    config = json.loads(ws.config.read_text())
    config["broker"]["fill_timeout_seconds"] = seconds
    ws.config.write_text(json.dumps(config))


def converge(ws: Workspace) -> None:
    """Apply until the plan is empty; an order killed while it was sent is unknown until the grace passes."""
    for _ in range(3):
        r = run_cli(ws, "apply", "--auto-approve", env=ENV)
        if r.returncode == 1 and "may still arrive" in r.stderr:
            time.sleep(LONGEST_SEND + GRACE + 0.5)
            r = run_cli(ws, "apply", "--auto-approve", env=ENV)
        assert r.returncode == 0, r.stdout + r.stderr
        if run_cli(ws, "plan", "--detailed-exitcode", env=ENV).returncode == 0:
            return
    pytest.fail("the plan never converged")


@pytest.mark.parametrize("point", POINTS)
def test_kill_at_point_then_recover_through_ccxt(
    point: str, crypto: Workspace, exchange: FakeBinance
) -> None:
    setup = SETUP.get(point, {})
    exchange.fill_steps = setup.get("fill_steps", 1)
    if "fill_timeout" in setup:
        _fill_timeout(crypto, setup["fill_timeout"])
    first = setup.get("before", point)
    r = run_cli(crypto, "apply", "--auto-approve", env=ENV | {"RECONCILER_CRASH_AT": first})
    assert r.returncode == -signal.SIGKILL, f"{first} was not reached: {r.stdout}{r.stderr}"
    if "before" in setup:
        r = run_cli(crypto, "apply", "--auto-approve", env=ENV | {"RECONCILER_CRASH_AT": point})
        assert r.returncode == -signal.SIGKILL, f"{point} was not reached: {r.stdout}{r.stderr}"
    exchange.fill_steps = 1
    _fill_timeout(crypto, 5)

    converge(crypto)

    ours = [o for o in exchange.orders if o.client_order_id.startswith("rc-")]
    ids = [o.client_order_id for o in ours]
    assert len(ids) == len(set(ids)), "an order was sent twice"
    filled: dict[str, Decimal] = {}
    for cid, q in crypto.query("select client_order_id, quantity from fills"):
        filled[cid] = filled.get(cid, D(0)) + D(str(q))
    assert {o.client_order_id: o.executed for o in ours if o.executed} == filled
