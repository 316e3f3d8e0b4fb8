"""Stop means stop, but never mid-order: SIGTERM is handled like Ctrl-C (the command stops, the apply is
recorded as failed, its locks are released), except that an order being sent is first finished — its broker
call ends within its deadline and its outcome is journaled — so a stop never leaves an order whose send was
cut short.

`apply --all` workers stop the same way without a signal of their own: the runner asks them (`request_stop`),
or they see it themselves, between orders (`finishing` is the checkpoint every send passes): a worker process
whose runner died — SIGKILL included — is stopped by the kernel's parent-death signal on Linux
(`die_with_parent`) and, everywhere, by its parent pid changing, which it checks before and after each order.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_state = {"depth": 0, "pending": False}
# this process's workers are asked to stop (by the runner, or by a signal to a worker)
_stop = threading.Event()
_parent: list[int] = []  # a worker process: the runner's pid; its parent pid changing means the runner died

PR_SET_PDEATHSIG = 1  # linux/prctl.h


class Terminated(KeyboardInterrupt):
    """SIGTERM: stop as for Ctrl-C; the command exits 143 (128 + SIGTERM), as a shell reports it."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    if _state["depth"]:
        _state["pending"] = True  # raised when the order being sent is finished and journaled
        return
    raise Terminated


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While a command runs on the main thread, SIGTERM raises Terminated (deferred inside `finishing`)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        _state["pending"] = False


def request_stop() -> None:
    """Ask this process's worker threads to stop at their next checkpoint (before or after an order)."""
    _stop.set()


def clear_stop() -> None:
    """A new run of workers in this process starts unstopped."""
    _stop.clear()


def stop_requested() -> bool:
    """Whether this process's workers must stop: asked to, or (a worker process) its runner is gone."""
    return _stop.is_set() or (bool(_parent) and os.getppid() != _parent[0])


def checkpoint() -> None:
    """Between orders: raise Terminated when a worker must stop; its apply then records and releases as for
    Ctrl-C."""
    if stop_requested():
        raise Terminated


def _on_worker_signal(signum: int, frame: FrameType | None) -> None:
    request_stop()  # never raised at once: the threads stop at their next checkpoint, their order journaled


def die_with_parent(parent: int) -> bool:
    """In a worker process forked by the runner `parent`: stop (SIGTERM, SIGINT) between orders, and be sent
    SIGTERM by the kernel when the runner dies (Linux prctl PR_SET_PDEATHSIG). Returns whether the kernel will
    signal; the parent-pid check at every checkpoint is the fallback either way."""
    _parent[:] = [parent]
    signal.signal(signal.SIGTERM, _on_worker_signal)
    signal.signal(signal.SIGINT, _on_worker_signal)
    armed = False
    name = ctypes.util.find_library("c")
    if name is not None:
        try:
            prctl = ctypes.CDLL(name, use_errno=True).prctl
            armed = prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0
        except (AttributeError, OSError):
            armed = False  # no prctl (macOS, BSD): the parent-pid check alone
    if os.getppid() != parent:
        request_stop()  # the runner died before the signal was armed
    return armed


@contextmanager
def finishing() -> Iterator[None]:
    """An order's send, its wait for fills and their journaling: a SIGTERM meanwhile takes effect at the end.
    A worker asked to stop sends nothing more (checked before the order) and stops once this one is
    journaled."""
    checkpoint()
    main = threading.current_thread() is threading.main_thread()
    if main:
        _state["depth"] += 1
    try:
        yield
    finally:
        if main:
            _state["depth"] -= 1
            if not _state["depth"] and _state["pending"]:
                _state["pending"] = False
                raise Terminated
        checkpoint()
