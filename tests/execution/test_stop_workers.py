"""Stop means stop for `apply --all` (issue 20 §4): SIGTERM, SIGINT or kill -9 of the runner leaves no worker
sending orders, and the journal converges with the next apply; two runners of one plan share its work.

A proxy on 127.0.0.1 in front of the emulator logs when each order submission arrives and holds them all until
the test releases it: the runner is signalled once each of its workers has an order held on its way, so the
orders begun before the signal are exactly those (they still land, and must be journaled), and any submission
that arrives after the signal is a worker that did not stop. No margin is needed: no worker is between orders.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from reconciler.errors import LockedError
from reconciler.execution.planfile import read_plan
from reconciler.journal.locks import AccountLock, holder_state
from reconciler.journal.queue import enqueue
from reconciler.journal.store import Journal
from tests.conftest import Workspace, edit_yaml
from tests.execution.conftest import ACCOUNTS, Answer, Broker, ForwardingProxy, run_cli

HOLD = 60.0  # the longest the proxy holds an order submission, when a test never releases it
WORKERS = 2  # worker processes of the runner: each holds one account at a time, and the plan has three
WAIT = 90.0  # how long a stopped worker may take to journal its order and exit, on a loaded machine


class HoldingProxy(ForwardingProxy):
    """Every POST /v2/orders is logged (monotonic arrival time) and held until the test releases the proxy."""

    def __init__(self, upstream: str) -> None:
        self.arrivals: list[float] = []
        self.held = threading.Event()
        self.release = threading.Event()
        self._mutex = threading.Lock()
        super().__init__(upstream, self._hold_orders)

    def _hold_orders(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer | None:
        if method == "POST" and path == "/v2/orders":
            with self._mutex:
                self.arrivals.append(time.monotonic())
            self.held.set()
            self.release.wait(HOLD)
        return None


@pytest.fixture
def held(alpaca: Workspace, emulator: Broker) -> Iterator[tuple[Workspace, HoldingProxy]]:
    proxy = HoldingProxy(emulator.url)
    edit_yaml(alpaca.config, lambda doc: doc["broker"].__setitem__("trading_url", proxy.url))
    yield alpaca, proxy
    proxy.release.set()
    proxy.server.shutdown()


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    """Whether a process runs; a zombie (dead, not yet reaped by whoever adopted it) does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _wait_until(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return bool(condition())


def _runner(ws: Workspace, plan_file: Path, workers: int = WORKERS) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler.cli.main", "--config", str(ws.config), "--no-color", "apply",
         str(plan_file), "--all", "--workers", str(workers)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
        cwd=Path(__file__).resolve().parents[2],
    )


@pytest.mark.parametrize(
    ("signum", "workers"),
    [(signal.SIGTERM, WORKERS), (signal.SIGINT, WORKERS), (signal.SIGKILL, WORKERS), (signal.SIGTERM, 1)],
    ids=["TERM", "INT", "KILL", "TERM-one-thread"],
)
def test_a_stopped_runner_leaves_no_worker_sending_and_the_next_apply_converges(
    held: tuple[Workspace, HoldingProxy], emulator: Broker, tmp_path: Path, signum: int, workers: int
) -> None:
    ws, proxy = held
    plan_file = tmp_path / "plan.json"
    assert ws.run("plan", "--out", str(plan_file)).code == 0
    runner = _runner(ws, plan_file, workers)
    # Signalled once every worker has an order held on its way: any submission after that is one begun after.
    assert _wait_until(lambda: len(proxy.arrivals) >= workers, 60), ("the workers never sent their first"
                                                                     " orders")
    children = _children(runner.pid)
    runner.send_signal(signum)
    signalled = time.monotonic()
    time.sleep(0.5)
    proxy.release.set()  # the orders begun before the signal arrive, and their answers come back
    out, err = runner.communicate(timeout=WAIT)
    assert _wait_until(lambda: not any(_running(c) for c in children), WAIT), "a worker outlived its runner"

    late = [round(t - signalled, 2) for t in proxy.arrivals if t > signalled]
    assert late == [], "orders were sent after the runner was stopped"
    assert len(emulator.orders()) == len(proxy.arrivals)
    assert "Traceback" not in err
    assert runner.returncode == {signal.SIGTERM: 143, signal.SIGINT: 130, signal.SIGKILL: -9}[signum], (
        out + err
    )
    assert ws.query("select count(*) from locks")[0][0] == 0, (out + err, ws.query("select * from locks"))
    assert ws.query("select count(*) from intents where status = 'submitting'")[0][0] == 0

    again = tmp_path / "again.json"
    assert ws.run("plan", "--out", str(again)).code in (0, 2)
    finished = run_cli(ws, "apply", str(again), "--all", "--workers", "2")
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert ws.run("plan", "--detailed-exitcode").code == 0
    ids = Counter(o["client_order_id"] for o in emulator.orders())
    assert [cid for cid, n in ids.items() if n > 1] == []


def test_two_runners_started_together_apply_every_account_exactly_once(
    alpaca: Workspace, emulator: Broker, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert alpaca.run("plan", "--out", str(plan_file)).code == 0
    emulator.faults(latency_ms=20)
    runners = [_runner(alpaca, plan_file), _runner(alpaca, plan_file)]
    results = [r.communicate(timeout=300) for r in runners]

    assert [r.returncode for r in runners] == [0, 0], results
    assert [err for _, err in results if "Traceback" in err or "Internal error" in err] == []
    done = [
        line.split()[1] for out, _ in results for line in out.splitlines() if line.strip().startswith("done")
    ]
    assert Counter(done) == Counter(a for a, in alpaca.query("select account from work_items"))
    assert {s for s, in alpaca.query("select status from work_items")} == {"done"}
    ids = Counter(o["client_order_id"] for o in emulator.orders())
    assert [cid for cid, n in ids.items() if n > 1] == []
    assert alpaca.run("plan", "--detailed-exitcode").code == 0


def test_a_runner_that_loses_the_race_to_enqueue_a_plan_joins_its_queue(
    alpaca: Workspace, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert alpaca.run("plan", "--out", str(plan_file)).code == 0
    plan = read_plan(plan_file)
    ours, theirs = Journal.open(alpaca.journal_url), Journal.open(alpaca.journal_url)
    raced: list[int] = []

    def other_runner_first(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO WORK_ITEMS") and not raced:
            raced.append(enqueue(theirs, plan))  # between our look at the queue and our insert into it

    event.listen(ours.engine, "before_cursor_execute", other_runner_first)
    try:
        added = enqueue(ours, plan)
    finally:
        event.remove(ours.engine, "before_cursor_execute", other_runner_first)
    assert raced == [3]
    assert added == 0
    assert sorted(a for a, in alpaca.query("select account from work_items")) == sorted(ACCOUNTS)


def test_probing_whether_a_lock_holder_lives_never_takes_the_lock(workspace: Workspace) -> None:
    journal = Journal.open(workspace.journal_url)
    stop = threading.Event()
    probes: list[str] = []

    def probe() -> None:
        while not stop.is_set():
            probes.append(holder_state(journal, "paper-ira"))

    prober = threading.Thread(target=probe)
    prober.start()
    taker = Journal.open(workspace.journal_url)
    refused = []
    try:
        # each take is a moment in which the probe ran (PostgreSQL: it once took the lock)
        for n in range(150):
            try:
                with AccountLock(taker, "paper-ira", f"worker-{n}", heartbeat=60):
                    pass
            except LockedError as exc:
                refused.append(exc.message)
    finally:
        stop.set()
        prober.join()
    assert len(probes) > 150
    assert refused == []
