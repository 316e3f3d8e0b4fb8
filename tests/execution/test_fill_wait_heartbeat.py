"""A long wait for a fill keeps the account's lock and says where it stands (issue 20 §3), by the apply's
injected clock: the emulator fills each order in six steps over 150 s of that clock, longer than the lock's
120 s lease. While the apply's budget lasts the lease never lapses and a progress line comes every 10 s; once
the budget is spent the lease is no longer renewed, and the apply ends `interrupted` within it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from reconciler.clock import FixedClock
from reconciler.emulator import Emulator, EmulatorServer, Faults
from reconciler.execution.executor import apply_plan
from reconciler.execution.planfile import read_plan
from reconciler.journal.database import as_utc
from reconciler.journal.locks import AccountLock
from reconciler.runtime import Runtime
from tests.conftest import Workspace, edit_yaml
from tests.execution.conftest import ACCOUNTS, PRICES, SECRET_CANARY

BUDGET = 250  # apply.max_duration_seconds: the first order's 150 s, not the second's
ACCOUNT = "paper-ira"  # all cash: several buys
TTL = AccountLock.__init__.__kwdefaults__["ttl"]  # the lease an apply's lock is taken with


class LeaseProbe(FixedClock):
    """The apply's clock; after each of its sleeps (every wait of the apply), the account's lease as the
    journal holds it then: (now, heartbeat_at, expires_at), or None while no lock is held."""

    def __init__(self, at: datetime) -> None:
        super().__init__(at)
        self.url: str | None = None
        self.samples: list[tuple[datetime, datetime, datetime] | None] = []
        self.engine: Any = None

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if self.url is None:
            return
        if self.engine is None:
            self.engine = create_engine(self.url)
        with self.engine.connect() as conn:
            row = conn.execute(text("select heartbeat_at, expires_at from locks")).first()
        self.samples.append(None if row is None else (self.at, _ts(row[0]), _ts(row[1])))


@pytest.fixture
def slow_fills(workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LeaseProbe]:
    clock = LeaseProbe(datetime.now(UTC))
    seed = {
        "accounts": {a: {"key_id": f"key-{a}", "secret": SECRET_CANARY, **v} for a, v in ACCOUNTS.items()},
        "prices": PRICES,
    }
    server = EmulatorServer(Emulator(seed, Faults(fill_steps=6, fill_interval=30), clock=clock))
    server.start()

    def to_emulator(doc: Any) -> None:
        doc["broker"] = {
            "kind": "alpaca", "trading_url": server.url, "data_url": server.url, "rate_limit_per_second": 200,
            "timeout_seconds": 1, "fill_timeout_seconds": 600, "slippage_bps": 0,
            "accounts": {a: {"key_id": f"env:RC_HB_KEY_{n}", "secret_key": "env:RC_HB_SECRET"}
                         for n, a in enumerate(ACCOUNTS)},
        }
        doc["apply"].update(max_duration_seconds=BUDGET, in_flight_grace_seconds=120, order_type="market")

    edit_yaml(workspace.config, to_emulator)
    for n, a in enumerate(ACCOUNTS):
        monkeypatch.setenv(f"RC_HB_KEY_{n}", f"key-{a}")
    monkeypatch.setenv("RC_HB_SECRET", SECRET_CANARY)
    yield clock
    if clock.engine is not None:
        clock.engine.dispose()
    server.shutdown()
    server.server_close()


def test_a_long_fill_wait_keeps_the_lease_while_the_budget_lasts_and_reports_progress(
    slow_fills: LeaseProbe, workspace: Workspace, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = slow_fills
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0
    plan = read_plan(plan_file)
    clock.at = max(clock.at, plan.created_at)  # the plan was made by the machine's clock, a moment later
    rt = Runtime(workspace.config, workspace.journal_url, clock=clock)
    clock.url = workspace.journal_url
    logging.getLogger().addHandler(caplog.handler)  # the CLI's run put its own handler in caplog's place
    caplog.set_level(logging.WARNING, logger="reconciler.apply")
    started = clock.monotonic()

    result = apply_plan(plan, rt, actor="test", accounts={ACCOUNT})

    assert result.status == "interrupted", result.interrupted
    assert clock.monotonic() - started <= BUDGET
    held = [s for s in clock.samples if s is not None]
    # the lock was held, by this clock, past one lease
    assert held[-1][0] - held[0][0] > timedelta(seconds=TTL)
    (acquired,) = workspace.query("select created_at from events where kind = 'lock.acquired'")[0]
    budget_end = _ts(acquired) + timedelta(seconds=BUDGET)  # the budget runs from when the lock was taken
    lapsed = [now for now, _, expires in held if now < budget_end and expires <= now]
    assert lapsed == [], "the lease lapsed while the apply's budget lasted"
    renewals = {beat for _, beat, _ in held}
    assert len(renewals) >= 20  # every 10 s of a wait of more than 200 s
    assert max(renewals) <= budget_end, "the lease was renewed after the budget ran out"

    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("still waiting for"
        " order")]
    assert len(progress) >= 15, progress  # one every 10 s of waiting
    said = (r"still waiting for order rc-\S+ to fill: [\d.]+ of [\d.]+ filled \(\w+\), 1\d s waited, \d+ s"
            r" left .*")
    assert re.fullmatch(said, progress[0]), progress[0]


def _ts(value: Any) -> datetime:
    return as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))
