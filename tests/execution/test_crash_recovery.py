"""kill -9 of apply at every crash point, then a fresh apply: no duplicate order, journal and broker agree,
and the next plan converges. Runs on SQLite, and on PostgreSQL when RECONCILER_TEST_PG_URL is set (as in
CI)."""

from __future__ import annotations

import signal
import time
from decimal import Decimal
from typing import Any

import pytest

from reconciler.execution.faults import POINTS
from tests.conftest import Workspace, edit_yaml
from tests.execution.conftest import Broker, run_cli

# How each point is reached: faults that make it happen, the fill timeout, and which crash comes first.
SETUP: dict[str, dict[str, Any]] = {
    "mid_partial_fill": {"faults": {"fill_steps": 3, "fill_interval": 0.3}},
    "during_cancel": {"faults": {"fill_steps": 50, "fill_interval": 1.0}, "fill_timeout": 0.2},
    "mid_reconcile": {"before": "after_submit:2"},
}


def positions(broker: Broker) -> dict[str, dict[str, Decimal]]:
    return {
        name: {s: Decimal(q) for s, q in a["positions"].items()}
        for name, a in broker.state()["accounts"].items()
    }


GRACE = 3  # apply.in_flight_grace_seconds for this suite: an order the broker never saw is failed after 3 s
TIMEOUT = 0.45  # broker.timeout_seconds: a send takes at most 6 x 0.45 + 0.15 = 2.85 s, within the grace
LONGEST_SEND = 6 * TIMEOUT + 0.15


def converge(ws: Workspace, broker: Broker) -> None:
    """Apply until the plan is empty; a day passes between rounds so unsettled sale proceeds become cash. An
    order killed before or while it was sent is unknown until the grace period passes: apply refuses until
    then, and that refusal is part of what is checked."""
    for _ in range(3):
        r = run_cli(ws, "apply", "--auto-approve")
        if r.returncode == 1 and "may still arrive" in r.stderr:
            # A send cut short by the crash is counted as lasting as long as a send can, then the grace runs.
            time.sleep(LONGEST_SEND + GRACE + 0.5)
            r = run_cli(ws, "apply", "--auto-approve")
        assert r.returncode == 0, r.stdout + r.stderr
        if run_cli(ws, "plan", "--detailed-exitcode").returncode == 0:
            return
        broker.control("/_emulator/advance", {"days": 1})
    pytest.fail("the plan never converged")


def test_crash_points_are_documented() -> None:
    assert len(POINTS) >= 8


@pytest.mark.parametrize("point", POINTS)
def test_kill_at_point_then_recover(point: str, alpaca: Workspace, emulator: Broker) -> None:
    setup = SETUP.get(point, {})
    edit_yaml(alpaca.config, lambda d: d["apply"].__setitem__("in_flight_grace_seconds", GRACE))
    edit_yaml(alpaca.config, lambda d: d["broker"].__setitem__("timeout_seconds", TIMEOUT))
    if "fill_timeout" in setup:
        edit_yaml(
            alpaca.config, lambda d: d["broker"].__setitem__("fill_timeout_seconds", setup["fill_timeout"])
        )
    if setup.get("faults"):
        emulator.faults(**setup["faults"])
    first = setup.get("before", point)
    r = run_cli(alpaca, "apply", "--auto-approve", env={"RECONCILER_CRASH_AT": first})
    assert r.returncode == -signal.SIGKILL, f"{first} was not reached: {r.stdout}{r.stderr}"
    if "before" in setup:
        r = run_cli(alpaca, "apply", "--auto-approve", env={"RECONCILER_CRASH_AT": point})
        assert r.returncode == -signal.SIGKILL, f"{point} was not reached: {r.stdout}{r.stderr}"
    emulator.faults(fill_steps=1)
    if "fill_timeout" in setup:
        edit_yaml(alpaca.config, lambda d: d["broker"].__setitem__("fill_timeout_seconds", 5))

    converge(alpaca, emulator)

    orders = emulator.orders()
    ours = [o for o in orders if o["client_order_id"].startswith("rc-")]
    ids = [o["client_order_id"] for o in ours]
    assert len(ids) == len(set(ids)), "an order was sent twice"
    journal = {
        cid: (status, str(filled))
        for cid, status,
        filled in alpaca.query("select client_order_id, status, filled_quantity from intents")
    }
    # Each fill is journaled once: the fills of an order add up to what the broker filled, never more.
    filled: dict[str, Decimal] = {}
    # quantities are stored as text
    for cid, q in alpaca.query("select client_order_id, quantity from fills"):
        filled[cid] = filled.get(cid, Decimal(0)) + Decimal(str(q))
    for o in ours:
        assert filled.get(o["client_order_id"], Decimal(0)) == Decimal(o["filled_qty"]), (o, filled)
    for o in ours:
        assert o["client_order_id"] in journal, f"order unknown to the journal: {o}"
        status, filled = journal[o["client_order_id"]]
        assert Decimal(filled) == Decimal(o["filled_qty"]), (o, status, filled)
        assert status == {"filled": "filled", "canceled": "canceled", "rejected": "rejected"}.get(
            o["status"]
        ), o
    # Every account ends at the positions a run without a crash reaches: nothing bought or sold twice.
    final = positions(emulator)
    assert final == _clean, (final, _clean)


# Final positions of a run without a crash; filled once per module by _reference_run.
_clean: dict[str, dict[str, Decimal]] = {}


@pytest.fixture(autouse=True, scope="module")
def _reference_run(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Compute the no-crash final positions once, with the same seed and settings."""
    import os
    import shutil

    from reconciler.emulator import Emulator, EmulatorServer, Faults
    from tests.conftest import REPO, fresh_journal_url
    from tests.execution.conftest import ACCOUNTS, PRICES, SECRET_CANARY

    root = tmp_path_factory.mktemp("reference")
    shutil.copy(REPO / "reconciler.yaml", root / "reconciler.yaml")
    shutil.copytree(REPO / "portfolios", root / "portfolios")
    shutil.copytree(REPO / "policies", root / "policies")
    seed = {
        "accounts": {n: {"key_id": f"key-{n}", "secret": SECRET_CANARY, **a} for n, a in ACCOUNTS.items()},
        "prices": PRICES,
    }
    server = EmulatorServer(Emulator(seed, Faults()))
    server.start()
    url = fresh_journal_url(root)

    def to_alpaca(doc: Any) -> None:
        doc["journal"]["url"] = url
        doc["broker"] = {
            "kind": "alpaca", "trading_url": server.url, "data_url": server.url, "rate_limit_per_second": 200,
            "slippage_bps": 0, "stream": False,
            "accounts": {
                n: {"key_id": f"env:KEY_{i}", "secret_key": "env:ALPACA_SECRET"} for i,
                n in enumerate(ACCOUNTS)
            },
        }

    edit_yaml(root / "reconciler.yaml", to_alpaca)
    env = {f"KEY_{i}": f"key-{n}" for i, n in enumerate(ACCOUNTS)} | {"ALPACA_SECRET": SECRET_CANARY}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        ws = Workspace(root=root, journal_url=url, run=lambda *a: None)  # type: ignore[arg-type,return-value]
        broker = Broker(server, server.emulator)
        converge(ws, broker)
        _clean.update(positions(broker))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.shutdown()
        server.server_close()
