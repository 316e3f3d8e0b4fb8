"""One apply per account: a second concurrent apply exits with "locked by …"; a dead holder's lock is
released."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from reconciler.journal.advisory import advisory_key
from tests.conftest import Workspace
from tests.execution.conftest import Broker, run_cli

ROOT = Path(__file__).resolve().parents[2]


def test_two_concurrent_applies_exactly_one_runs(alpaca: Workspace, emulator: Broker) -> None:
    emulator.faults(latency_ms=150)  # the first apply takes seconds, holding its locks
    first = subprocess.Popen(
        [sys.executable, "-m", "reconciler.cli.main", "--config", str(alpaca.config), "--no-color",
         "apply", "--auto-approve"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if alpaca.query("select count(*) from locks where purpose='apply'")[0][0]:
                    break
            except Exception:  # the journal may not exist for the first few milliseconds
                pass
            time.sleep(0.05)
        else:
            raise AssertionError("the first apply never took its lock")
        second = run_cli(alpaca, "apply", "--auto-approve")
        assert second.returncode == 1
        assert "is locked by" in second.stderr
        assert "force-unlock" in second.stderr
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, out + err
    finally:
        if first.poll() is None:
            first.kill()
    ids = [o["client_order_id"] for o in emulator.orders()]
    assert len(ids) == len(set(ids))
    assert alpaca.query("select count(*) from locks")[0][0] == 0  # released


def test_live_holder_blocks_until_force_unlock(alpaca: Workspace, emulator: Broker) -> None:
    assert alpaca.run("validate").code == 0
    assert alpaca.run("history").code == 0  # creates the journal
    lock_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    alpaca.execute(
        "insert into locks (lock_id, account, holder, host, pid, purpose, acquired_at, heartbeat_at,"
        " expires_at) values (:l, 'paper-ira', 'someone', :h, :p, 'apply', :n, :n, :e)",
        l=lock_id, h=socket.gethostname(), p=os.getpid(), n=now, e=now + timedelta(minutes=10),
    )
    holder = None
    if alpaca.journal_url.startswith("postgresql"):
        # On PostgreSQL a live holder also holds the account's advisory lock (its session is alive).
        holder = create_engine(alpaca.journal_url, poolclass=NullPool).connect()
        holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": advisory_key("paper-ira")})
        holder.commit()
    r = run_cli(alpaca, "apply", "--auto-approve")
    assert r.returncode == 1
    assert "is locked by" in r.stderr
    if holder is None:
        assert f"force-unlock {lock_id}" in r.stderr
    assert not emulator.orders()
    r = run_cli(alpaca, "force-unlock", "--list")
    assert lock_id in r.stdout
    r = run_cli(alpaca, "force-unlock", lock_id)
    # its holder is alive: its pid runs here, its lease runs (on PostgreSQL, its session)
    assert r.returncode == 1
    assert "held by someone (pid" in r.stderr
    assert f"since {now:%Y-%m-%d %H:%M}" in r.stderr
    assert "--force" in r.stderr
    assert lock_id in run_cli(alpaca, "force-unlock", "--list").stdout  # still there
    r = run_cli(alpaca, "force-unlock", lock_id, "--force")
    assert r.returncode == 0, r.stderr
    if holder is not None:
        holder.close()  # the holder's session ends, as when its process dies
    r = run_cli(alpaca, "apply", "--auto-approve")
    assert r.returncode == 0, r.stdout + r.stderr
    events = alpaca.query("select kind from events where kind like 'lock.%'")
    assert ("lock.forced",) in events


def test_force_unlock_removes_a_dead_holders_lock_without_force(alpaca: Workspace) -> None:
    """A holder whose process is gone from this host (or, on PostgreSQL, whose session ended) is dead: its
    lock is removed as asked, without --force, and the event says who removed whose lock."""
    assert alpaca.run("history").code == 0  # creates the journal
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: its pid runs no more
    lock_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    alpaca.execute(
        "insert into locks (lock_id, account, holder, host, pid, purpose, acquired_at, heartbeat_at,"
        " expires_at) values (:l, 'paper-ira', 'gone', :h, :p, 'apply', :n, :n, :e)",
        l=lock_id, h=socket.gethostname(), p=child.pid, n=now, e=now + timedelta(minutes=10),
    )
    r = run_cli(alpaca, "force-unlock", lock_id)
    assert r.returncode == 0, r.stderr
    assert "held by gone (pid" in r.stdout
    assert alpaca.query("select count(*) from locks")[0][0] == 0


def test_a_killed_but_unreaped_holder_does_not_keep_the_lock(alpaca: Workspace, emulator: Broker) -> None:
    """A holder that died but was not yet reaped by its parent is a zombie: kill(pid, 0) still succeeds, yet
    it will never release the lock. It must not block the account until the lease expires."""
    assert alpaca.run("history").code == 0  # creates the journal
    child = subprocess.Popen([sys.executable, "-c", "pass"])  # never waited for: a zombie once it exits
    try:
        stat = Path(f"/proc/{child.pid}/stat")
        for _ in range(200):
            if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break
            time.sleep(0.01)
        now = datetime.now(UTC)
        alpaca.execute(
            "insert into locks (lock_id, account, holder, host, pid, purpose, acquired_at, heartbeat_at,"
            " expires_at) values (:l, 'paper-ira', 'killed', :h, :p, 'apply', :n, :n, :e)",
            l=str(uuid.uuid4()), h=socket.gethostname(), p=child.pid, n=now, e=now + timedelta(minutes=10),
        )
        r = alpaca.run("apply", "--auto-approve")
        assert r.code == 0, r.out + r.err
        assert ("lock.taken_over",) in alpaca.query("select kind from events where kind = 'lock.taken_over'")
    finally:
        child.wait()


def test_the_lease_is_not_renewed_once_its_owner_is_gone(alpaca: Workspace) -> None:
    """A thread that took a lock and died without releasing it: the heartbeat stops renewing, so the lease
    lapses instead of holding the account for as long as the process lives."""
    import threading

    from reconciler.journal.locks import AccountLock
    from reconciler.runtime import Runtime

    journal = Runtime(alpaca.config, alpaca.journal_url).journal
    journal.check_writable()

    def take_and_die() -> None:
        AccountLock(journal, "paper-ira", "crashing-worker", ttl=60, heartbeat=0.05).acquire()

    worker = threading.Thread(target=take_and_die)
    worker.start()
    worker.join()
    time.sleep(0.5)  # ten heartbeats
    rows = alpaca.query("select acquired_at, heartbeat_at from locks where holder = 'crashing-worker'")
    assert len(rows) == 1
    assert rows[0][0] == rows[0][1]  # never renewed after its owner died


def test_lock_timeout_waits_for_a_live_holder_then_applies(workspace: Workspace) -> None:
    """`--lock-timeout` (like terraform's -lock-timeout): an apply finding an account locked by a live apply
    waits for it instead of failing, and fails with the holder named when the wait runs out."""
    import threading

    from reconciler.journal.locks import AccountLock
    from reconciler.journal.store import Journal

    assert workspace.run("plan", "--record").code == 0  # creates the journal
    journal = Journal.open(workspace.journal_url)
    held = AccountLock(journal, "paper-ira", "someone else")
    held.acquire()
    try:
        r = workspace.run("apply", "--auto-approve", "--lock-timeout", "1s")
        assert r.code == 1
        assert "is locked by someone else" in r.err
        assert "waited 1 s, --lock-timeout" in r.err
        assert workspace.paper_order_count() == 0
        timer = threading.Timer(1.0, held.release)
        timer.start()
        started = time.monotonic()
        r = workspace.run("apply", "--auto-approve", "--lock-timeout", "2m")
        assert r.code == 0, r.err
        assert 0.9 < time.monotonic() - started < 60
        assert workspace.paper_order_count() > 0
    finally:
        held.release()
        journal.engine.dispose()


@pytest.mark.parametrize("bad", ["soon", "-5s", "2d", "nan", "25h"])
def test_a_bad_lock_timeout_is_a_usage_error(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler.cli.main import main

    with pytest.raises(SystemExit) as done:
        main(["reconcile", "--lock-timeout", bad])
    assert done.value.code == 1
    err = capsys.readouterr().err
    assert "argument --lock-timeout" in err
    assert "Traceback" not in err
