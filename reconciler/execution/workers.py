"""`apply --all --workers N`: the plan's accounts become work items in the journal's queue (journal/queue.py), and
worker threads here — or processes on several machines sharing one PostgreSQL journal — claim them one at a time
and apply each."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.core.models import Plan
from reconciler.errors import ReconcilerError
from reconciler.journal.queue import claim, enqueue, finish
from reconciler.journal.statuses import WorkStatus
from reconciler.runtime import Runtime

log = logging.getLogger("reconciler.workers")


@dataclass
class WorkOutcome:
    account: str
    worker: str
    status: WorkStatus  # done | failed
    message: str = ""


@dataclass
class WorkReport:
    outcomes: list[WorkOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.status == "done" for o in self.outcomes)


def run_workers(
    plan: Plan, make_runtime: Callable[[], Runtime], *, workers: int, actor: str, overrides: dict[str, str]
) -> WorkReport:
    """Apply every account of the plan with `workers` threads, each with its own runtime (policies, broker)."""
    from reconciler.execution.executor import apply_plan

    first = make_runtime()
    enqueue(first.journal, plan)
    report = WorkReport()
    lock = threading.Lock()

    def work(n: int) -> None:
        rt = first if n == 0 else make_runtime()
        name = f"{actor}#{n}@{threading.get_ident()}"
        while (account := claim(rt.journal, plan.content_hash, name)) is not None:
            status: WorkStatus
            try:
                result = apply_plan(plan, rt, actor=actor, overrides=overrides, accounts={account})
                status = "done" if result.ok else "failed"
                message: str = result.status
            except ReconcilerError as exc:
                status, message = "failed", exc.render()
            finish(rt.journal, plan.content_hash, account, status, message)
            log.info("work item %s", status, extra={"account": account, "worker": name})
            with lock:
                report.outcomes.append(WorkOutcome(account, name, status, message))

    threads = [threading.Thread(target=work, args=(n,), name=f"apply-worker-{n}") for n in range(max(1, workers))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return report
