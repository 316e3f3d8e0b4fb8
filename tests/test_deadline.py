"""One deadline per apply (issue 20 §3): every wait of a broker call — a retry's backoff, a Retry-After, a
poll for fills, a pause between send attempts, an HTTP exchange's own bound — comes out of the apply's one
Deadline (reconciler/clock.py), so no path can hold an apply (and its lock) past its budget.

The adapters and the executor are walked so that a new wait, retry or poll cannot skip the deadline: no sleep
but `clock.pause`, tenacity only in brokers/retry.py and only with the deadline's sleep, every bounded
exchange bounded by `clock.budget`, and every other blocking wait named here with its reason.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

import reconciler
from reconciler.brokers.ratelimit import TokenBucket
from reconciler.brokers.retry import retry_reads
from reconciler.clock import Deadline, FixedClock, await_signal, bounded_by, budget, pause
from reconciler.errors import DeadlineExceeded
from reconciler.journal import tables
from reconciler.journal.database import as_utc
from reconciler.journal.locks import AccountLock
from reconciler.journal.store import Journal

PACKAGE = Path(reconciler.__file__).parent
SCANNED = sorted((PACKAGE / "brokers").glob("*.py")) + sorted((PACKAGE / "execution").glob("*.py"))
# Blocking waits that are not a broker call's, by (file, function): why each needs no deadline of its own.
ALLOWED_WAITS = {
    ("execution/workers.py", "run_workers"): "the `apply --all` runner waits for its workers; each worker's"
    " broker calls run under the deadline of the account it applies",
    ("execution/workers.py", "_watch"): "the runner's progress loop, between its workers' own deadlines",
    ("execution/workers.py", "_child"): "a worker process joins its threads, each under its account's"
    " deadline",
}
# the bound: keyword or position
BOUNDED = {("bounded_http", "exchange"): "deadline", ("bounded_http", "within"): 0}
# A websocket's blocking calls (the trade_updates stream), by name: the keyword that must be a budget. The
# stream's reader thread iterates the connection without a bound: it waits for no broker call, and ends when
# it is closed.
SOCKET_BOUNDS = {"recv": "timeout", "connect": "open_timeout"}
START = datetime(2030, 1, 2, 15, 0, tzinfo=UTC)


def _functions(tree: ast.AST) -> dict[ast.AST, str]:
    """Each node's innermost enclosing function name."""
    owner: dict[ast.AST, str] = {}

    def visit(node: ast.AST, name: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else name
            owner[child] = inner
            visit(child, inner)

    visit(tree, "<module>")
    return owner


def _is_budget(node: ast.expr, assigned: dict[str, ast.expr]) -> bool:
    if isinstance(node, ast.Name) and node.id in assigned:
        node = assigned[node.id]
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "budget"


def _blocks(node: ast.Call, name: str, keywords: dict[str | None, ast.expr]) -> bool:
    """A wait or join with a timeout (an event's, a thread's, a process's), not `", ".join(parts)`."""
    if name not in ("wait", "join") or isinstance(getattr(node.func, "value", None), ast.Constant):
        return False
    return "timeout" in keywords or (
        len(node.args) == 1 and isinstance(node.args[0], ast.Name | ast.Constant | ast.BinOp)
    )


def deadline_skips(path: Path, root: Path = PACKAGE) -> list[str]:
    """Every wait in one module that does not go through the apply's deadline, as `file:line: what`."""
    rel = path.relative_to(root).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    owner = _functions(tree)
    assigned = {
        t.id: n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    out = []
    for node in ast.walk(tree):
        where = f"{rel}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if any(n.split(".")[0] == "time" for n in names):
                out.append(f"{where}: imports time (sleep through reconciler.clock.pause)")
            if any(n.split(".")[0] == "tenacity" for n in names) and rel != "brokers/retry.py":
                out.append(f"{where}: tenacity outside brokers/retry.py (retry through retry_reads)")
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        base = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
        keywords = {k.arg: k.value for k in node.keywords}
        if name == "sleep":
            out.append(f"{where}: sleeps outside the deadline (use reconciler.clock.pause)")
        elif name in ("Retrying", "retry") and not (
            isinstance(keywords.get("sleep"), ast.Lambda)
            and any(isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id == "pause"
                    for c in ast.walk(keywords["sleep"]))
        ):
            out.append(f"{where}: a tenacity retry whose waits do not go through reconciler.clock.pause")
        elif (base, name) in BOUNDED:
            slot = BOUNDED[(base, name)]
            bound = keywords.get(slot) if isinstance(slot, str) else (node.args[slot] if node.args else None)
            if bound is None or not _is_budget(bound, assigned):
                out.append(f"{where}: {base}.{name} bounded by something other than reconciler.clock.budget")
        elif name in SOCKET_BOUNDS and not (
            SOCKET_BOUNDS[name] in keywords and _is_budget(keywords[SOCKET_BOUNDS[name]], assigned)
        ):
            out.append(f"{where}: a websocket {name}(...) bounded by something other than"
                       " reconciler.clock.budget")
        elif _blocks(node, name, keywords) and (rel, owner.get(node, "<module>")) not in ALLOWED_WAITS:
            out.append(f"{where}: a blocking {name}(...) outside the deadline")
    return out


def test_every_wait_of_the_adapters_and_the_executor_goes_through_the_deadline() -> None:
    offenders = [hit for path in SCANNED for hit in deadline_skips(path)]
    assert offenders == [], "\n".join(offenders)


def test_the_walk_covers_the_waits_it_is_about() -> None:
    """The files that hold today's waits are in the walk: a move cannot take them out of it silently."""
    scanned = {p.relative_to(PACKAGE).as_posix() for p in SCANNED}
    assert {"brokers/alpaca.py", "brokers/alpaca_stream.py", "brokers/ccxt.py", "brokers/retry.py",
            "brokers/ratelimit.py", "execution/leg.py", "execution/executor.py"} <= scanned


def test_the_walk_sees_each_kind_of_wait(tmp_path: Path) -> None:
    sample = tmp_path / "brokers" / "sample.py"
    sample.parent.mkdir()
    sample.write_text(
        "import time\n"
        "from tenacity import Retrying\n"
        "def f(clock, client, event, thread):\n"
        "    clock.sleep(1)\n"
        "    Retrying(stop=3)\n"
        "    bounded_http.exchange(client, 'GET', 'u', deadline=10, max_bytes=1)\n"
        "    event.wait(5)\n"
        "    thread.join(timeout=2)\n"
        "    bounded_http.within(budget(3, 'x'), f, on_deadline=f, timeout=f)\n"
        "    bucket.wait()\n"
        "    ws.recv(timeout=5)\n"
        "    connect('ws://x', open_timeout=budget(5, 'x'))\n",
        encoding="utf-8",
    )
    hits = [h.split(": ", 1)[1] for h in deadline_skips(sample, tmp_path)]
    assert hits == [
        "imports time (sleep through reconciler.clock.pause)",
        "tenacity outside brokers/retry.py (retry through retry_reads)",
        "sleeps outside the deadline (use reconciler.clock.pause)",
        "a tenacity retry whose waits do not go through reconciler.clock.pause",
        "bounded_http.exchange bounded by something other than reconciler.clock.budget",
        "a blocking wait(...) outside the deadline",
        "a blocking join(...) outside the deadline",
        "a websocket recv(...) bounded by something other than reconciler.clock.budget",
    ]


def test_a_request_is_bounded_by_what_is_left() -> None:
    clock = FixedClock(START)
    with bounded_by(Deadline(clock, 10)):
        clock.advance(7)
        assert budget(5, "a read") == pytest.approx(3)


def test_a_spent_deadline_refuses_the_next_request() -> None:
    clock = FixedClock(START)
    with bounded_by(Deadline(clock, 10, where="account a")):
        clock.advance(10)
        with pytest.raises(DeadlineExceeded, match="ran out while GET /v2/account"):
            budget(5, "GET /v2/account")


def test_a_wait_longer_than_what_is_left_is_not_begun() -> None:
    clock = FixedClock(START)
    with bounded_by(Deadline(clock, 10)), pytest.raises(DeadlineExceeded):
        pause(clock, 11, "waiting")
    assert clock.monotonic() == 0.0


def test_outside_an_apply_nothing_is_bounded() -> None:
    clock = FixedClock(START)
    pause(clock, 3600, "waiting")
    assert budget(5, "a read") == 5


def test_retried_reads_stop_at_the_deadline_not_after_their_attempts() -> None:
    """A read that keeps failing is retried with backoff; the backoff comes out of the budget, and the retries
    end when it is spent, however many attempts were allowed."""
    clock = FixedClock(START)
    calls = []

    def once() -> None:
        calls.append(clock.monotonic())
        # each attempt waits its bound out, as a drip-fed read does
        clock.advance(budget(0.4, "GET /v2/account"))
        raise TimeoutError("drip-fed")

    with bounded_by(Deadline(clock, 2.0)), pytest.raises(DeadlineExceeded):
        retry_reads(once, 1000, TimeoutError, what="GET /v2/account", where="account a", clock=clock)
    assert clock.monotonic() <= 2.0
    assert len(calls) < 1000


def test_a_retry_after_longer_than_the_budget_raises_at_once() -> None:
    clock = FixedClock(START)
    bucket = TokenBucket(rate=100, clock=clock)
    bucket.observe(429, {"retry-after": "30"})
    with bounded_by(Deadline(clock, 10)), pytest.raises(DeadlineExceeded, match="rate limit"):
        bucket.wait()
    assert clock.monotonic() == 0.0


def test_a_retry_after_within_the_budget_is_waited() -> None:
    clock = FixedClock(START)
    bucket = TokenBucket(rate=100, clock=clock)
    bucket.observe(429, {"retry-after": "3"})
    with bounded_by(Deadline(clock, 10)):
        bucket.wait()
    assert clock.monotonic() == pytest.approx(3)


def _lock_row(journal: Journal) -> tuple[datetime, int]:
    """(the lock's heartbeat, how many times the lease was left to expire)."""
    with journal.tx() as c:
        beat = c.execute(select(tables.locks.c.heartbeat_at)).scalar_one()
        lapsed = c.execute(
            select(func.count())
            .select_from(tables.events)
            .where(tables.events.c.kind == "lock.lease_not_renewed")
        ).scalar_one()
    return as_utc(beat), int(lapsed)


def _until(condition: Callable[[], bool]) -> bool:
    """Whether `condition` became true within a generous wait (the heartbeat is a real thread)."""
    for _ in range(3000):
        if condition():
            return True
        threading.Event().wait(0.01)
    return False


def test_the_lock_lease_is_renewed_only_while_the_budget_lasts(journal_url: str) -> None:
    clock = FixedClock(START)
    journal = Journal.open(journal_url, clock=clock)
    with AccountLock(journal, "acct", "tester", heartbeat=0.01) as lock:
        lock.deadline = Deadline(clock, 5)
        clock.advance(2)
        assert _until(lambda: _lock_row(journal)[0] == clock.now())  # renewed while the budget lasts
        clock.advance(4)
        assert _until(lambda: _lock_row(journal)[1] == 1)
        assert _lock_row(journal)[0] == START + timedelta(seconds=2)  # and never after


def test_a_wait_for_a_streams_signal_comes_out_of_the_deadline() -> None:
    """Waiting for another thread's signal (the trade_updates stream's reader) is a wait like any other: on a
    test's clock it moves that clock, and one that would outlast the budget is not begun."""
    clock = FixedClock(START)
    signal = threading.Event()
    with bounded_by(Deadline(clock, 10)):
        assert await_signal(clock, signal, 4, "waiting for an event") is False
        assert clock.monotonic() == 4.0
        signal.set()
        assert await_signal(clock, signal, 1, "waiting for an event") is True
        with pytest.raises(DeadlineExceeded, match="waiting for an event"):
            await_signal(clock, signal, 6, "waiting for an event")
    assert clock.monotonic() == 5.0
