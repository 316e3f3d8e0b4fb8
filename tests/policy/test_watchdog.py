"""The policy watchdog keeps the evaluator's time budget with one worker thread instead of a thread per call:
a call past its deadline is still refused at the deadline, and the worker neither serves two calls at once
nor outlives its idleness."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import threading

import pytest

from reconciler.policy import watchdog
from reconciler.policy.watchdog import Watchdog


class Overran(Exception):
    pass


def call(dog: Watchdog, fn: object, deadline: float = 60.0, said: list[str] | None = None) -> object:
    return dog.within(
        deadline, fn, on_deadline=lambda: (said if said is not None else []).append("late"),  # type: ignore[arg-type]
        timeout=Overran,
    )


def test_a_call_answers_its_value() -> None:
    assert call(Watchdog(), lambda: 42) == 42


def test_what_a_call_raises_is_raised_to_the_caller() -> None:
    def fails() -> None:
        raise ValueError("from the evaluator")

    with pytest.raises(ValueError, match="from the evaluator"):
        call(Watchdog(), fails)


def test_calls_share_one_worker_thread() -> None:
    dog = Watchdog()
    assert call(dog, threading.get_ident) == call(dog, threading.get_ident)


def test_the_worker_is_not_the_caller() -> None:
    assert call(Watchdog(), threading.get_ident) != threading.get_ident()


def test_a_call_past_its_deadline_is_refused_and_reported() -> None:
    dog, release, said = Watchdog(), threading.Event(), []
    with pytest.raises(Overran):
        call(dog, lambda: release.wait(60), deadline=0.01, said=said)
    release.set()
    assert said == ["late"]


def test_after_an_overrun_a_call_gets_a_worker_of_its_own() -> None:
    dog, release = Watchdog(), threading.Event()
    stuck: list[int] = []
    with pytest.raises(Overran):
        call(dog, lambda: stuck.append(threading.get_ident()) or release.wait(60), deadline=0.01)
    try:
        assert call(dog, threading.get_ident) != stuck[0]
    finally:
        release.set()


def test_an_idle_worker_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watchdog, "IDLE_SECONDS", 0.01)
    dog = Watchdog()
    worker = call(dog, threading.current_thread)
    worker.join(60)  # type: ignore[attr-defined]
    assert not worker.is_alive()  # type: ignore[attr-defined]


def test_a_call_after_the_worker_ended_is_served(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watchdog, "IDLE_SECONDS", 0.01)
    dog = Watchdog()
    worker = call(dog, threading.current_thread)
    worker.join(60)  # type: ignore[attr-defined]
    assert call(dog, lambda: "again") == "again"


def _in_child(dog: Watchdog, answer: multiprocessing.connection.Connection) -> None:
    answer.send(call(dog, lambda: "served", deadline=60))


def test_a_forked_child_is_served_by_a_worker_of_its_own() -> None:
    """apply --workers forks: the parent's worker thread does not exist in the child."""
    dog = Watchdog()
    call(dog, lambda: None)  # the parent's worker is running when the child is forked
    mine, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(target=_in_child, args=(dog, theirs))
    child.start()
    try:
        assert mine.poll(120) and mine.recv() == "served"
    finally:
        child.join(60)
