"""The time budget of evaluator calls, kept by one worker thread per policy set, not one thread per call.

rego-cpp cannot be interrupted and regopy offers no limit of its own, so a call runs on a worker while the
caller waits at most the budget; past it the caller raises and the worker is abandoned to the call (the policy
set then refuses every later call: engine.PolicySet). Starting a thread for each call (bounded_http.within)
cost about 0.07 ms of CPU and 0.2 ms of wall time an evaluation; handing the call to a waiting worker about
0.02 ms. A worker idle for `IDLE_SECONDS` ends, so policy sets that are dropped leave no thread behind; a
process forked by `apply --workers` (execution/workers.py) finds its parent's worker gone and starts its own.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
IDLE_SECONDS = 2.0

_Job = tuple[Callable[[], Any], dict[str, Any], threading.Event]


class Watchdog:
    """Runs calls on its worker thread, each waited for at most its deadline."""

    def __init__(self) -> None:
        self._state = threading.Lock()  # guards the worker's queue and its worker
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None

    def within(
        self, deadline: float, fn: Callable[[], T], *, on_deadline: Callable[[], None],
        timeout: Callable[[], BaseException],
    ) -> T:
        """`fn()` on the worker, waited for at most `deadline` seconds; past it `on_deadline()` runs and
        `timeout()` is raised (the worker stays with the call). Whatever `fn` raises is raised here."""
        box: dict[str, Any] = {}
        done = threading.Event()
        with self._state:
            if self._worker is None or not self._worker.is_alive():
                if self._worker is not None:  # gone without ending (a forked child): start afresh
                    self._jobs = queue.SimpleQueue()
                self._worker = threading.Thread(
                    target=self._serve, args=(self._jobs,), name="policy-watchdog", daemon=True
                )
                self._worker.start()
            self._jobs.put((fn, box, done))
        if not done.wait(deadline):
            with self._state:  # the worker is stuck in fn: any later call gets a queue and worker of its own
                self._jobs = queue.SimpleQueue()
                self._worker = None
            on_deadline()
            raise timeout()
        if "error" in box:
            raise box["error"]
        value: T = box["value"]
        return value

    def _serve(self, jobs: queue.SimpleQueue[_Job]) -> None:
        while True:
            try:
                fn, box, done = jobs.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._state:  # a job is only put under this lock: none can be lost between the two
                    if jobs.empty():
                        if jobs is self._jobs:
                            self._worker = None
                        return
                continue
            try:
                box["value"] = fn()
            except BaseException as exc:  # handed to the caller
                box["error"] = exc
            finally:
                done.set()
