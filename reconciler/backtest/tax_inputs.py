"""What the planner needs for a portfolio with a `tax:` block, from the backtest's own books: the account's
open lots and the gains it realised earlier in the simulated calendar year. The backtest's mirror of
execution.tax_inputs (which reads them from the journal), so the tax budget (`max_realized_gain`) and
`avoid_short_term_days` act in core.tax_orders exactly as they act in `plan`: one code path in the planner.

The year is the observation's: on the first trading day of a year nothing has been realised yet. The gain is
the year's net result (short- and long-term, losses negative) before any loss carried in, as the journal's
`lots.closed` events give it live (journal.realized).

It is also the one place that says which lot method and rates a run's tax book uses (`terms`): a portfolio's
own `tax:` block when it has one, as `plan` does, so a backtest cannot quietly tax other lots at other rates
than the planner chose them by; the run's Settings only for a portfolio without the block.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from reconciler.core.ledger import HeldLot
from reconciler.core.lots import TaxBook
from reconciler.core.models import Desired, Observation
from reconciler.core.numbers import ZERO

if TYPE_CHECKING:
    from reconciler.backtest.run import Settings


def terms(desired: Desired, settings: Settings) -> Settings:
    """The run's settings with the lot method and rates of the portfolio's `tax:` block, when it has one: the
    block is what `plan` sells by, so it is what the backtest's book closes lots and charges tax by."""
    tax = desired.tax
    if tax is None:
        return settings
    return replace(
        settings, lot_method=tax.lots, tax_short=tax.rates.short_term, tax_long=tax.rates.long_term
    )


def book_lots(book: TaxBook, symbols: Iterable[str]) -> list[HeldLot]:
    """The book's open lots of `symbols` as the journal's ledger keeps them (total cost, fees included)."""
    return [
        HeldLot(symbol, lot.acquired, lot.quantity, lot.quantity * lot.unit_cost)
        for symbol in sorted(symbols) for lot in book.open_lots(symbol)
    ]


def realized_in_year(book: TaxBook, year: int) -> Decimal:
    """Net gain (losses negative) the book's sales realised in `year`."""
    got = book.years.get(year)
    return ZERO if got is None else got.short + got.long


def with_tax_inputs(desired: Desired, obs: Observation, book: TaxBook) -> Observation:
    """The observation with the run's lots and this year's realised gains, for a portfolio with a `tax:`
    block; others as they were (their plans do not change)."""
    if desired.tax is None:
        return obs
    lots = book_lots(book, obs.positions)
    realized = realized_in_year(book, obs.taken_at.year)
    return obs.model_copy(update={"lots": lots, "realized_gain": realized})
