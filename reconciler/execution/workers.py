"""`apply --all --workers N`: the plan's accounts become work items in the journal's queue (journal/queue.py),
and N workers — processes, up to two per core, then threads within them — claim them one at a time and apply
each. The same command on other machines sharing one PostgreSQL journal joins in: every account is applied
once, by whichever worker claims it.

Processes first: an account's apply is mostly Python (journal, policies, bookkeeping), and threads share one
interpreter (measured: 8 threads applied fewer orders per second than 4). Each process builds its own services
(one HTTP client, one policy interpreter, one database pool) once, and keeps them for every account it claims.

A worker that dies (killed, a lost machine) leaves its item claimed: once its lock's holder is seen dead, the
workers still running make the item pending again and finish it (journal.queue.reclaim_abandoned); apply then
adopts what the dead one left, and refuses to send more for an account it left half done (re-plan).

Stop means stop (execution.stopping): SIGTERM or SIGINT to the runner is forwarded to its worker processes and
asked of its worker threads; each finishes the order it is sending, journals it, records its item and releases
its lock, and the runner waits for them before it exits. A worker whose runner died (kill -9) stops the same
way: the kernel signals it (Linux), or it sees its parent gone before its next order.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.core.models import Plan
from reconciler.errors import ReconcilerError
from reconciler.execution.leg import OrderOutcome
from reconciler.execution.services import ApplySession, Services
from reconciler.execution.stopping import (
    Terminated,
    clear_stop,
    die_with_parent,
    request_stop,
    stop_requested,
)
from reconciler.journal.queue import Progress, claim, enqueue, finish, items, progress, reclaim_abandoned
from reconciler.journal.sentences import order_sentence
from reconciler.journal.statuses import WorkStatus
from reconciler.journal.store import Journal

log = logging.getLogger("reconciler.workers")

STOPPED = ("stopped (a signal, or its runner died) before it finished; orders sent are journaled, re-plan and"
           " apply")


@dataclass
class WorkOutcome:
    """One account's result in `apply --all`, with the worker that applied it."""

    account: str
    worker: str
    status: WorkStatus  # done | failed
    message: str = ""


@dataclass
class WorkReport:
    """Every account's result in `apply --all`, and the workers that died."""

    outcomes: list[WorkOutcome] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # workers that died (a signal, an exit code)

    @property
    def ok(self) -> bool:
        """Whether every account was applied and no worker died."""
        return not self.lost and all(o.status == "done" for o in self.outcomes)


def work(
    plan: Plan, rt: Services, name: str, *, actor: str, overrides: dict[str, str],
    session: ApplySession | None = None,
) -> None:
    """One worker's loop: claim an account, apply it, record the outcome; when nothing is pending, take back
    what dead workers left, and stop when there is nothing left either."""
    from reconciler.execution.executor import apply_plan

    session = session or ApplySession(actor)
    while not stop_requested():
        account = claim(rt.journal, plan.content_hash, name)
        if account is None:
            if reclaim_abandoned(rt.journal, plan.content_hash):
                continue
            return
        status: WorkStatus
        try:
            result = apply_plan(
                plan, rt, actor=actor, overrides=overrides, accounts={account}, session=session
            )
            status = "done" if result.ok else "failed"
            message = (
                result.status
                + ("" if result.interrupted is None else f": {result.interrupted}")
                + "".join(
                    f"; {portfolio} not traded: {'; '.join(why)}"
                    for portfolio, why in sorted(result.refused.items())
                )
                + _unfinished(rt.journal, plan, account, result.outcomes)
            )
        except ReconcilerError as exc:
            status, message = "failed", exc.render()
        except KeyboardInterrupt:  # stopped between orders: recorded, so the next run retries it
            finish(rt.journal, plan.content_hash, account, "failed", STOPPED)
            log.info("work item stopped", extra={"account": account, "worker": name})
            return
        except Exception as exc:  # a bug must cost one account, not the worker and every account after it
            log.exception("work item crashed", extra={"account": account, "worker": name})
            status, message = "failed", f"internal error: {type(exc).__name__}: {exc}"
        finish(rt.journal, plan.content_hash, account, status, message)
        log.info("work item %s", status, extra={"account": account, "worker": name})


def _unfinished(journal: Journal, plan: Plan, account: str, outcomes: list[OrderOutcome]) -> str:
    """What became of the orders of an account that did not fill, said from the journal (order_sentence)."""
    rows = journal.intents_for_plan(plan.content_hash, {account})
    return "".join(
        f"; order {o.client_order_id}: {order_sentence(rows.get(o.client_order_id))}"
        for o in outcomes if (rows.get(o.client_order_id) or {}).get("status") != "filled"
    )


def run_workers(
    plan: Plan,
    make_services: Callable[[], Services],
    *,
    workers: int,
    actor: str,
    overrides: dict[str, str],
    on_progress: Callable[[Progress], None] | None = None,
    every: float = 1.0,
    say: Callable[[str], None] | None = None,
    session: ApplySession | None = None,
) -> WorkReport:
    """Apply every account of the plan with `workers` workers — processes, then threads in them (spread); one
    worker is a thread of this process — calling `on_progress` every `every` seconds and at the end, and `say`
    with each step of the start; each worker gets its own copy of the command's `session`. The report holds
    the accounts this run's workers did."""
    tell = say or (lambda _: None)
    session = session or ApplySession(actor)
    first = make_services()
    clear_stop()
    tell(f"queueing {len(plan.by_account):,} account(s) in the journal")
    enqueue(first.journal, plan)
    run = uuid.uuid4().hex[:8]
    shares = spread(max(1, workers), first.broker.concurrency, os.cpu_count() or 1)
    tell(f"starting {sum(shares)} worker(s) in {len(shares)} process(es)" if len(shares) > 1 or shares[0] > 1
         else "applying in this process (one worker)")
    host = socket.gethostname()
    names = [[f"{actor}#{run}-{p}.{t}@{host}" for t in range(n)] for p, n in enumerate(shares)]
    report = WorkReport()
    if len(names) == 1 and len(names[0]) == 1:
        # Waited for through an event, never Thread.join: a signal that interrupts join marks the thread
        # stopped while it still runs (CPython 3.11, bpo-45274's handling), and the runner would leave it
        # mid-order.
        finished = threading.Event()

        def one() -> None:
            try:
                work(plan, first, names[0][0], actor=actor, overrides=overrides, session=session.for_worker())
            finally:
                finished.set()

        thread = threading.Thread(target=one, name="apply-worker", daemon=True)
        try:
            thread.start()
            _watch(lambda: not finished.is_set(), finished.wait, first, plan, on_progress, every)
        except KeyboardInterrupt:
            request_stop()
            _outlast(lambda: thread.is_alive() and not finished.is_set(), lambda: finished.wait(1.0))
            raise
        finally:
            clear_stop()  # this process goes on (a host calling run_workers): its next apply is not stopped
    else:
        # fork: a worker starts with what this process loaded (the plan, the code) instead of importing it
        # again.
        context = multiprocessing.get_context("fork")
        procs = [
            context.Process(
                target=_child,
                args=(plan, make_services, first, group, actor, overrides, os.getpid(), session),
                name=group[0],
            )
            for group in names
        ]

        def alive() -> bool:
            return any(p.is_alive() for p in procs)

        try:
            for p in procs:
                p.start()
            _watch(
                alive,
                lambda t: multiprocessing.connection.wait(
                    [p.sentinel for p in procs if p.is_alive()], timeout=t
                ),
                first,
                plan,
                on_progress,
                every,
            )
        except KeyboardInterrupt as exc:
            forwarded = signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT
            for p in procs:
                if p.pid is not None and p.is_alive():
                    os.kill(p.pid, forwarded)
            _outlast(
                alive,
                lambda: multiprocessing.connection.wait([p.sentinel for p in procs if p.is_alive()], 1.0),
            )
            raise
        for p in procs:
            p.join()
            if p.exitcode != 0:
                report.lost.append(f"{p.name} (exit {p.exitcode})")
    ours = {name for group in names for name in group}
    for item in items(first.journal, plan.content_hash):
        if item.claimed_by in ours and item.status in ("done", "failed"):
            report.outcomes.append(
                WorkOutcome(item.account, item.claimed_by or "", item.status, item.message or "")
            )
        elif item.claimed_by in ours:
            report.outcomes.append(
                WorkOutcome(item.account, item.claimed_by or "", "failed", "its worker died while applying"
                            " it")
            )
    return report


def spread(workers: int, concurrency: int, cores: int) -> list[int]:
    """How many worker threads each process runs: a process per worker up to two per core (each waits on the
    broker and the database about half the time), then more threads in those processes, so that asking for
    more workers never starts more processes than the cores can run. A broker that is not thread-safe
    (concurrency 1) gets a process per worker."""
    if concurrency <= 1:
        return [1] * workers
    processes = min(workers, 2 * cores)
    return [workers // processes + (1 if n < workers % processes else 0) for n in range(processes)]


def _child(
    plan: Plan, make_services: Callable[[], Services], parent: Services, names: list[str], actor: str,
    overrides: dict[str, str], runner: int, session: ApplySession,
) -> None:
    # The parent's connections were copied by fork: never used here, never closed here (that would close them
    # under the parent too).
    parent.journal.engine.dispose(close=False)
    die_with_parent(runner)
    rt = make_services()
    # built once, before the threads share them
    rt.workspace, rt.journal, rt.broker, rt.policies  # noqa: B018
    threads = [
        threading.Thread(
            target=work, args=(plan, rt, name), name=name,
            kwargs={"actor": actor, "overrides": overrides, "session": session.for_worker()},
        )
        for name in names
    ]
    for th in threads:
        th.start()
    for th in threads:
        while th.is_alive():
            th.join(1.0)  # in slices: the signal handler (a stop) runs on this thread between them


def _outlast(alive: Callable[[], bool], wait: Callable[[], object]) -> None:
    """Wait for the workers to record and release after a stop; a second Ctrl-C does not abandon them
    mid-order (each broker call has its deadline, so this ends)."""
    while alive():
        try:
            wait()
        except KeyboardInterrupt:
            log.warning("still waiting for the workers to journal their orders and release their locks")


def _watch(
    alive: Callable[[], bool], wait: Callable[[float], object], rt: Services, plan: Plan,
    on_progress: Callable[[Progress], None] | None, every: float,
) -> None:
    while alive():
        wait(every)
        if on_progress is not None:
            on_progress(progress(rt.journal, plan.content_hash))
    if on_progress is not None:
        on_progress(progress(rt.journal, plan.content_hash))
