"""The paper broker on a journal opened for reading: observe writes nothing and reports what a writing observe
would (the initial books of an account never traded, sale proceeds due by today as settled); trading still
writes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from reconciler.brokers.base import OrderRequest
from reconciler.brokers.paper import PaperBroker
from reconciler.clock import FixedClock
from reconciler.errors import BrokerError
from reconciler.journal.store import Journal
from tests.brokers.test_paper import make_broker


def _reader(writer: PaperBroker, tmp_path: Path) -> PaperBroker:
    """The same books and settings, through a journal opened for reading."""
    journal = Journal.open(f"sqlite:///{tmp_path / 'j.db'}", write=False)
    return PaperBroker(
        journal.engine, writer.spec, tmp_path, clock=writer.clock, prices=writer.prices, read_only=True
    )


def _rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        names = sorted(n for n in inspect(conn).get_table_names() if n.startswith("paper_"))
        return {n: int(conn.execute(text(f"select count(*) from {n}")).scalar_one()) for n in names}


def test_an_account_never_traded_is_its_initial_books_and_nothing_is_written(tmp_path: Path) -> None:
    clock = FixedClock(datetime(2026, 11, 25, 15, tzinfo=UTC))
    writer = make_broker(tmp_path, clock)
    reader = _reader(writer, tmp_path)
    obs = reader.observe("acct", ["ABC", "XYZ"])
    assert obs.positions == {"ABC": Decimal(10)}
    assert obs.cash_settled == Decimal(1000)
    assert obs.cash_unsettled == 0
    assert set(obs.quotes) == {"ABC", "XYZ"}
    assert set(_rows(writer.engine).values()) == {0}
    assert writer.observe("acct", ["ABC", "XYZ"]) == obs  # what a writing observe reports, and creates
    assert _rows(writer.engine)["paper_accounts"] == 1


def test_proceeds_due_today_count_as_settled_without_settling_them(tmp_path: Path) -> None:
    clock = FixedClock(datetime(2026, 11, 25, 15, tzinfo=UTC))  # a Wednesday: the sale settles on Thursday
    writer = make_broker(tmp_path, clock)
    sold = writer.submit(
        "acct", OrderRequest(client_order_id="s1", symbol="ABC", side="sell", quantity=Decimal(4))
    )
    assert sold.status == "filled"
    reader = _reader(writer, tmp_path)
    proceeds = Decimal("399.6000") - Decimal("1.04")
    today = reader.observe("acct", ["ABC"])
    assert today.cash_settled == Decimal(1000)
    assert today.cash_unsettled == proceeds
    clock.at = datetime(2026, 11, 26, 9, tzinfo=UTC)
    before = _rows(writer.engine)
    tomorrow = reader.observe("acct", ["ABC"])
    assert tomorrow.cash_settled == Decimal(1000) + proceeds
    assert tomorrow.cash_unsettled == 0
    assert tomorrow.positions == {"ABC": Decimal(6)}
    assert _rows(writer.engine) == before  # still unsettled in the books: settled on the next writing call
    assert writer.observe("acct", ["ABC"]) == tomorrow
    assert _rows(writer.engine)["paper_unsettled"] == 0


def test_an_unknown_account_is_refused_read_only_too(tmp_path: Path) -> None:
    writer = make_broker(tmp_path, FixedClock(datetime(2026, 11, 25, 15, tzinfo=UTC)))
    with pytest.raises(BrokerError, match="no account 'nope'"):
        _reader(writer, tmp_path).observe("nope", [])
