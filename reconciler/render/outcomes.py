"""What `apply` prints while it runs: each order's outcome the moment it is journaled, in the plan's table
style (money formatted, the notional filled, the broker's cost, the slippage against the price the plan valued
it at, the short client id), a total line per portfolio and one for the apply; a progress line on a terminal,
and a log line every so often elsewhere (CI), where nothing redraws.

Each line is said from the journal's row of its order (through the `sentence` the caller passes,
journal.sentences.order_sentence), never from what the apply believed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from rich.text import Text

from reconciler.core.numbers import ZERO
from reconciler.render.fmt import bps, id_tail, money, qty, side_text, signed_money, status_style, status_text
from reconciler.render.table import Col, fit, header, line

if TYPE_CHECKING:
    from rich.console import Console
    from rich.status import Status

    from reconciler.clock import Clock
    from reconciler.core.models import Plan

log = logging.getLogger("reconciler.progress")


class Outcome(Protocol):
    """What became of one order, as the apply tells it (execution.leg.OrderOutcome)."""

    @property
    def portfolio(self) -> str:
        """The portfolio the order was for."""
    @property
    def client_order_id(self) -> str:
        """Our id of the order."""
    @property
    def symbol(self) -> str:
        """The symbol traded."""
    @property
    def side(self) -> str:
        """Buy or sell."""
    @property
    def quantity(self) -> Decimal:
        """The quantity planned."""
    @property
    def planned_price(self) -> Decimal | None:
        """The price the plan expected, to measure slippage against."""
    @property
    def commission(self) -> Decimal:
        """The commission paid."""


Row = Mapping[str, Any]

OUTCOME_COLUMNS = (
    Col("status"), Col("side"), Col("qty", right=True), Col("symbol"), Col("price", right=True, drop=2),
    Col("notional", right=True), Col("cost", right=True, drop=1), Col("slippage", right=True), Col("id"),
)
INDENT = 4
_HEADROOM = Decimal("1.5")  # a fill may be priced above the plan's price: columns sized for it stay aligned


@dataclass
class Tally:
    """The filled side of some orders: counts, money bought and sold, cost, and slippage against the plan."""

    orders: int = 0
    filled: int = 0
    bought: Decimal = ZERO
    sold: Decimal = ZERO
    cost: Decimal = ZERO
    slippage: Decimal = ZERO  # money lost (positive) or gained (negative) against the plan's prices
    planned: Decimal = ZERO  # the plan's value of what filled, to say the slippage in basis points

    def add(self, side: str, status: str, filled: Decimal, paid: Decimal | None, fill: Fill) -> None:
        """Count one order's outcome into the totals."""
        self.orders += 1
        self.filled += status == "filled"
        if paid is None or filled <= 0:
            return
        if side == "buy":
            self.bought += filled * paid
        else:
            self.sold += filled * paid
        self.cost += fill.cost
        if fill.planned_price is not None:
            self.slippage += fill.slippage
            self.planned += filled * fill.planned_price

    def line(self, label: str) -> Text:
        """The totals as one line: orders, filled, paid and slippage."""
        slip = f"{signed_money(self.slippage)} ({bps(self.slippage / self.planned)})" if self.planned else "-"
        return Text(f"{label}: ", style="bold") + Text(
            f"{self.filled}/{self.orders} filled · bought {money(self.bought)} · sold {money(self.sold)}"
            f" · cost {money(self.cost)} · slippage {slip}"
        )


@dataclass(frozen=True)
class Fill:
    """One order's filled part against the plan: slippage is positive when it cost more (a buy paid above the
    plan's price, a sell got below it)."""

    side: str
    filled: Decimal
    paid: Decimal | None
    planned_price: Decimal | None
    cost: Decimal

    @property
    def slippage(self) -> Decimal:
        """What the fill cost beyond the planned price (positive: worse)."""
        if self.paid is None or self.planned_price is None:
            return ZERO
        per_unit = self.paid - self.planned_price
        return (per_unit if self.side == "buy" else -per_unit) * self.filled

    @property
    def slippage_bps(self) -> str:
        """The slippage in basis points, or - when it cannot be measured."""
        if self.paid is None or self.planned_price is None or self.filled <= 0 or self.planned_price <= 0:
            return "-"
        return bps(self.slippage / (self.filled * self.planned_price))


class OutcomeStream:
    """Called with each outcome (executor.apply_plan's on_outcome); `row_of` reads an order's journal row and
    `sentence` says what became of it."""

    def __init__(
        self, out: Console, plan: Plan, clock: Clock, row_of: Callable[[str], Row | None],
        sentence: Callable[[Row | None], str], *, log_every: float = 15.0,
    ) -> None:
        self.out, self.clock, self.row_of, self.log_every = out, clock, row_of, log_every
        self.sentence = sentence
        self.accounts = {pp.name: pp.account for pp in plan.portfolios}
        self.total = sum(len(pp.actions) for pp in plan.portfolios)
        self.kept, self.widths = fit(
            OUTCOME_COLUMNS, [header(OUTCOME_COLUMNS), *_samples(plan)], out.width, INDENT
        )
        self.columns = [OUTCOME_COLUMNS[i] for i in self.kept]
        self.current: str | None = None
        self.portfolio = Tally()
        self.overall = Tally()
        self.portfolios = 0
        self.broken: BrokenPipeError | None = None
        self.logged = clock.monotonic()
        self.status: Status | None = out.status(self._progress()) if out.is_terminal else None
        # Where nothing is styled (a log, a pipe, CI: no colour, no terminal, nothing recorded), a line is its
        # plain text: written straight to the console's file, as rich would write it, without rich's
        # per-call rendering (half a millisecond a line, as much as an order's journal writes).
        self.plain = None if out.is_terminal or out.color_system is not None or out.record else out.file
        if self.status is not None:
            self.status.start()

    def __call__(self, o: Outcome) -> None:
        row = self.row_of(o.client_order_id)
        status = str(row["status"]) if row is not None else "unknown"
        filled = _decimal(row.get("filled_quantity")) if row is not None else None
        filled = filled if filled is not None else ZERO
        paid = _decimal(row.get("avg_price")) if row is not None else None
        fill = Fill(o.side, filled, paid, o.planned_price, o.commission)
        if o.portfolio != self.current:
            self._close_portfolio()
            if self.current is None and not self.portfolios:
                self._print(Text())  # apart from the plan printed above it
            self.current, self.portfolio = o.portfolio, Tally()
            self.portfolios += 1
            self._print(Text(f"  # portfolio {o.portfolio!r}", style="bold")
                        + Text(f" (account {self.accounts.get(o.portfolio, '?')})"))
            self._print(self._line(header(OUTCOME_COLUMNS)))
        self.portfolio.add(o.side, status, filled, paid, fill)
        self.overall.add(o.side, status, filled, paid, fill)
        cells = [
            status_text(status), side_text(o.side), Text(qty(o.quantity)), Text(o.symbol),
            Text(money(paid) if paid is not None else "-"),
            Text(money(filled * paid) if paid is not None and filled > 0 else "-"),
            Text(money(o.commission) if filled > 0 else "-"), Text(fill.slippage_bps),
            Text(id_tail(o.client_order_id)),
        ]
        self._print(self._line(cells))
        if status != "filled" or (row is not None and row.get("message")):
            self._print(Text(" " * (INDENT + 2) + self.sentence(row), style=status_style(status) or "dim"))
        self._tick()

    def _line(self, cells: list[Text]) -> Text:
        return line(self.columns, [cells[i] for i in self.kept], self.widths, INDENT)

    def _close_portfolio(self) -> None:
        if self.current is not None:
            self._print(Text(" " * INDENT) + self.portfolio.line("total"), wrap=True)
            self._print(Text())

    def _progress(self) -> str:
        return (
            f"applying: {self.overall.orders:,}/{self.total:,} orders · {self.portfolios:,} portfolio(s)"
            + (f" · at {self.current}" if self.current else "")
        )

    def _tick(self) -> None:
        if self.status is not None:
            self.status.update(self._progress())
        now = self.clock.monotonic()
        if now - self.logged >= self.log_every:
            self.logged = now
            log.info("apply progress: %s", self._progress(), extra={
                "orders_done": self.overall.orders, "orders_total": self.total, "portfolios": self.portfolios,
            })

    def _print(self, text: Text, *, wrap: bool = False) -> None:
        """Print a line; `wrap`: prose that wraps between words at the console's width rather than run past
        it."""
        if self.broken is not None:
            return
        try:
            if self.plain is not None and not wrap and "\t" not in text.plain:  # rich expands tabs
                self.plain.write(text.plain + "\n")
                self.plain.flush()
            else:
                self.out.print(text, soft_wrap=not wrap)
        except BrokenPipeError as exc:  # the apply goes on to the end; the closed pipe is reported after it
            self.broken = exc

    def close(self) -> None:
        """Stop the progress line and print the last portfolio's total (called however the apply ended)."""
        if self.status is not None:
            self.status.stop()
            self.status = None
        self._close_portfolio()
        self.current = None

    def finish(self) -> None:
        """The apply's total line; the output pipe's closing, if it closed meanwhile, is raised now."""
        if self.overall.orders:
            self._print(self.overall.line("Total"), wrap=True)
        if self.broken is not None:
            raise self.broken


def _samples(plan: Plan) -> list[list[Text]]:
    """Rows as wide as the plan's orders can make them, to size the columns before the first outcome."""
    actions = [a for pp in plan.portfolios for a in pp.actions]
    if not actions:
        return []
    top = max(a.price for a in actions) * _HEADROOM
    most = max(a.notional for a in actions) * _HEADROOM
    return [[
        Text("partially_filled"), Text("sell"), Text(max((qty(a.quantity) for a in actions), key=len)),
        Text(max((a.symbol for a in actions), key=len)), Text(money(top)), Text(money(most)),
        Text(money(most / 100)), Text(bps(Decimal("-0.01"))), Text(id_tail("x" * 36)),
    ]]


def _decimal(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))
