"""This year's realised gains of an account, from the lot ledger's `lots.closed` events (journal.realized):
what a taxed portfolio's budget counts before the plan's own sells."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import time_machine

from reconciler.journal.realized import CLOSED, realized_in_year
from reconciler.journal.store import Journal
from reconciler.runtime import Runtime
from tests.conftest import Workspace

ACCOUNT = "paper-taxable"
GAIN = [{"acquired": "2020-01-02", "quantity": "10", "cost_basis": "1000", "proceeds": "1500",
         "long_term": True}]
LOSS = [{"acquired": "2024-11-02", "quantity": "2", "cost_basis": "300", "proceeds": "200",
         "long_term": False}]


def _closed(j: Journal, lots: list[dict[str, object]], account: str = ACCOUNT) -> None:
    j.event(CLOSED, account=account, symbol="VTI", method="fifo", sold="12", unmatched="0", lots=lots)


def _journal(ws: Workspace) -> Journal:
    return Runtime(ws.config, ws.journal_url).journal


def test_gains_and_losses_closed_this_year_are_netted(workspace: Workspace) -> None:
    j = _journal(workspace)
    with time_machine.travel(datetime(2025, 3, 1, 15, tzinfo=UTC), tick=False):
        _closed(j, GAIN + LOSS)
        year = j.clock.now().year
    assert realized_in_year(j, ACCOUNT, year) == D(400)


def test_a_close_of_an_earlier_year_is_not_counted(workspace: Workspace) -> None:
    j = _journal(workspace)
    with time_machine.travel(datetime(2024, 6, 1, 15, tzinfo=UTC), tick=False):
        _closed(j, GAIN)
    with time_machine.travel(datetime(2025, 6, 1, 15, tzinfo=UTC), tick=False):
        _closed(j, LOSS)
        year = j.clock.now().year
    assert realized_in_year(j, ACCOUNT, year) == D(-100)


def test_another_accounts_closes_are_not_counted(workspace: Workspace) -> None:
    j = _journal(workspace)
    with time_machine.travel(datetime(2025, 3, 1, 15, tzinfo=UTC), tick=False):
        _closed(j, GAIN, account="paper-ira")
        year = j.clock.now().year
    assert realized_in_year(j, ACCOUNT, year) == D(0)
