"""Progress of a long `apply --all`: the pace, and a log line every so often (and at the end) off a
terminal."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from rich.console import Console

from reconciler.clock import FixedClock
from reconciler.render.progress import ApplyProgress, Pace


@dataclass(frozen=True)
class Snapshot:
    finished: int
    total: int
    failed: int
    orders: int


def test_the_pace_says_rate_and_time_left() -> None:
    pace = Pace(done=250, total=1000, orders=2500, elapsed=50.0)
    assert pace.orders_per_second == 50.0
    assert pace.eta_seconds == 150.0
    assert pace.line() == "250/1,000 accounts · 2,500 orders · 50.0 orders/s · 50s elapsed · 2m30s left"
    assert Pace(done=0, total=10, orders=0, elapsed=3.0).eta_seconds is None
    assert "? left" in Pace(done=0, total=10, orders=0, elapsed=3.0).line()
    assert "1h01m left" in Pace(done=1, total=62, orders=10, elapsed=60.0).line()


def test_off_a_terminal_progress_is_logged_every_interval_and_at_the_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FixedClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    out = Console(file=io.StringIO(), force_terminal=False)
    progress = ApplyProgress(out, clock, log_every=15.0)
    with caplog.at_level(logging.INFO, logger="reconciler.progress"):
        for done in range(0, 10):
            clock.advance(5.0)
            progress(Snapshot(finished=done, total=10, failed=0, orders=done * 10))
        clock.advance(5.0)
        progress(Snapshot(finished=10, total=10, failed=1, orders=100))
    progress.close()
    lines = [r for r in caplog.records if r.getMessage().startswith("apply progress")]
    # At the first snapshot, then every 15 s of 50, then at the end.
    assert [r.accounts_done for r in lines] == [0, 3, 6, 9, 10]  # type: ignore[attr-defined]
    last = lines[-1]
    assert last.accounts_failed == 1  # type: ignore[attr-defined]
    assert last.orders_per_second == 1.82  # type: ignore[attr-defined]  # 100 orders in 55 s
    assert last.eta_seconds == 0  # type: ignore[attr-defined]
    assert out.file.getvalue() == ""  # type: ignore[attr-defined]  # nothing redrawn off a terminal


@dataclass(frozen=True)
class Item:
    account: str
    worker: str
    status: str
    message: str


@dataclass(frozen=True)
class Report:
    outcomes: list[Item]
    lost: list[str]


def _summary() -> list[str]:
    from reconciler.render.progress import render_work_report

    out = Console(file=io.StringIO(), width=120, no_color=True)
    report = Report([Item("acct-a", "w1", "done", "succeeded"), Item("acct-b", "w2", "failed", "partial: …"),
                     Item("acct-c", "w1", "done", "succeeded")], [])
    render_work_report(report, Snapshot(finished=3, total=3, failed=1, orders=3063), out)
    return out.file.getvalue().splitlines()  # type: ignore[attr-defined]


def test_apply_all_ends_with_a_summary_of_its_counts() -> None:
    assert "Summary: 3 account(s): 1 failed, 2 done; 3,063 orders in the journal" in _summary()


def test_the_summary_lists_the_failures_after_its_counts() -> None:
    lines = _summary()
    at = next(n for n, line in enumerate(lines) if line.startswith("Summary:"))
    assert lines[at + 1:] == ["  failed acct-b  (w2) partial: …"]


def test_apply_all_says_each_step_of_its_start() -> None:
    clock = FixedClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    out = Console(file=io.StringIO(), force_terminal=False)
    progress = ApplyProgress(out, clock)
    progress.say("queueing 400 account(s) in the journal")
    progress.close()
    assert out.file.getvalue() == "queueing 400 account(s) in the journal…\n"  # type: ignore[attr-defined]
