"""Progress of a long `apply --all`: a live line on a terminal, and a structured log line every so often in CI
(where nothing redraws), both saying accounts done, orders sent, the rate and the time left."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rich.console import Console
from rich.text import Text

from reconciler.clock import Clock
from reconciler.render.fmt import status_text

log = logging.getLogger("reconciler.progress")


class Snapshot(Protocol):
    """Where the queue stands (journal.queue.Progress)."""

    @property
    def finished(self) -> int:
        """Accounts finished."""
    @property
    def total(self) -> int:
        """Accounts in the run."""
    @property
    def failed(self) -> int:
        """Accounts failed."""
    @property
    def orders(self) -> int:
        """Orders sent so far."""


class Item(Protocol):
    """One account's outcome (execution.workers.WorkOutcome)."""

    @property
    def account(self) -> str:
        """The account."""
    @property
    def worker(self) -> str:
        """The worker that applied it."""
    @property
    def status(self) -> str:
        """How it ended."""
    @property
    def message(self) -> str:
        """Why, when it failed."""


class Report(Protocol):
    """What the workers did (execution.workers.WorkReport)."""

    @property
    def outcomes(self) -> Sequence[Item]:
        """Every account's outcome."""
    @property
    def lost(self) -> list[str]:
        """The workers that died."""


@dataclass(frozen=True)
class Pace:
    """What a progress snapshot means after `elapsed` seconds."""

    done: int
    total: int
    orders: int
    elapsed: float

    @property
    def orders_per_second(self) -> float:
        """The rate so far."""
        return self.orders / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        """Time left at the pace so far (accounts finished per second); None until one is finished."""
        if self.done == 0 or self.elapsed <= 0:
            return None
        return (self.total - self.done) * self.elapsed / self.done

    def line(self) -> str:
        """The progress line: done, failed, rate and time left."""
        eta = self.eta_seconds
        left = "?" if eta is None else _duration(eta)
        return (
            f"{self.done:,}/{self.total:,} accounts · {self.orders:,} orders · {self.orders_per_second:,.1f}"
            f" orders/s · {_duration(self.elapsed)} elapsed · {left} left"
        )


def _duration(seconds: float) -> str:
    s = round(seconds)
    return (
        f"{s // 3600}h{s % 3600 // 60:02d}m"
        if s >= 3600
        else f"{s // 60}m{s % 60:02d}s"
        if s >= 60
        else f"{s}s"
    )


class ApplyProgress:
    """Called with each snapshot of the queue (execution.workers.run_workers' on_progress)."""

    def __init__(self, out: Console, clock: Clock, *, log_every: float = 15.0) -> None:
        self.out = out
        self.clock = clock
        self.log_every = log_every
        self.start = clock.monotonic()
        self.logged: float | None = None
        self.live = out.is_terminal
        self.status = out.status("starting…") if self.live else None
        self.last: Snapshot | None = None
        if self.status is not None:
            self.status.start()

    def say(self, step: str) -> None:
        """What the apply is doing before the first account finishes (reading, checking, queueing,
        starting)."""
        if self.status is not None:
            self.status.update(step + "…")
        self.out.print(Text(f"{step}…", style="dim"))

    def __call__(self, snapshot: Snapshot) -> None:
        self.last = snapshot
        now = self.clock.monotonic()
        pace = Pace(snapshot.finished, snapshot.total, snapshot.orders, now - self.start)
        if self.status is not None:
            self.status.update(pace.line())
        if self.logged is None or now - self.logged >= self.log_every or pace.done == pace.total:
            self.logged = now
            log.info(
                "apply progress: %s", pace.line(),
                extra={
                    "accounts_done": pace.done, "accounts_total": pace.total,
                    "accounts_failed": snapshot.failed,
                    "orders": pace.orders, "orders_per_second": round(pace.orders_per_second, 2),
                    "eta_seconds": None if pace.eta_seconds is None else round(pace.eta_seconds),
                },
            )

    def close(self) -> None:
        """Stop the live display."""
        if self.status is not None:
            self.status.stop()


def render_work_report(report: Report, last: Snapshot | None, out: Console) -> None:
    """The end of `apply --all`: a line per account done, then the summary: counts first, then every
    failure."""
    for lost in report.lost:
        out.print(Text(f"worker {lost} died", style="red")
                  + Text("; its account is finished by a later run (re-plan if it is partly applied)"))
    if not report.outcomes:
        out.print(Text("Nothing to do: ", style="green") + Text("every account of this plan was claimed"
                                                                " already."))
        return
    failed = sorted((o for o in report.outcomes if o.status != "done"), key=lambda o: o.account)
    done = sorted((o for o in report.outcomes if o.status == "done"), key=lambda o: o.account)
    for o in done:
        out.print(Text("    ") + status_text(o.status) + Text(f" {o.account}  ({o.worker}) {o.message}"))
    orders = f"; {last.orders:,} orders in the journal" if last is not None else ""
    died = f"; {len(report.lost)} worker(s) died" if report.lost else ""
    out.print(
        Text("\nSummary: ", style="bold") + Text(f"{len(report.outcomes):,} account(s): ")
        + Text(f"{len(failed):,} failed", style="red" if failed else "green")
        + Text(f", {len(done):,} done{orders}{died}")
    )
    for o in failed:
        out.print(Text("  ") + status_text(o.status) + Text(f" {o.account}  ({o.worker}) {o.message}"))
