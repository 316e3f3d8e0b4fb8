"""journal.prices.last_fill_prices reads the latest fills first and the whole history only for the symbols
without one among them: the answer is each symbol's latest fill price in any account, whatever the window,
checked against the answer computed from every row."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from reconciler.journal import tables as t
from reconciler.journal.prices import last_fill_prices
from reconciler.journal.store import Journal

SYMBOLS = [f"S{k}" for k in range(8)]  # S7 is never traded
AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _journal(url: str, fills: int, seed: int) -> Journal:
    """A journal of intents on S0..S6 and `fills` fills over them in random order; S0 only early on, and
    some prices not positive (they vouch for nothing)."""
    rng = random.Random(seed)
    journal = Journal.open(url)
    apply_id = journal.start_apply("p" * 64, "t" * 64, None, "test")
    for n in range(fills):
        symbol = "S0" if n < 3 else rng.choice(SYMBOLS[1:7])
        cid = f"rc-test-{n:05d}"
        journal.add_intent(apply_id=apply_id, plan_hash="p" * 64, portfolio="p", account=f"a{n % 3}", leg=n,
                           client_order_id=cid, symbol=symbol, side="buy", quantity=Decimal(1),
                           est_price=Decimal(10), status="submitting")
        price = Decimal(rng.choice(["0", "10.5", "11", "9.25", "12.125"])) + n
        with journal.tx() as c:
            c.execute(insert(t.fills).values(
                client_order_id=cid, fill_key=f"{cid}-0", quantity=Decimal(1),
                price=price if rng.random() > 0.1 else Decimal(0), commission=Decimal(0), filled_at=AT,
            ))
    return journal


def _from_every_row(journal: Journal) -> dict[str, Decimal]:
    with journal.tx() as c:
        rows = c.execute(
            select(t.intents.c.symbol, t.fills.c.id, t.fills.c.price)
            .join(t.fills, t.fills.c.client_order_id == t.intents.c.client_order_id)
            .order_by(t.fills.c.id)
        ).all()
    latest = {str(symbol): Decimal(price) for symbol, _, price in rows}
    return {s: p for s, p in latest.items() if p > 0}


@pytest.mark.parametrize("recent", [1, 2, 5, 40, 256])
def test_every_window_gives_the_latest_fill_of_each_symbol(journal_url: str, recent: int) -> None:
    journal = _journal(journal_url, 40, seed=recent)
    assert last_fill_prices(journal, SYMBOLS, recent=recent) == _from_every_row(journal)


def test_a_symbol_only_in_old_fills_is_found_beyond_the_window(journal_url: str) -> None:
    journal = _journal(journal_url, 40, seed=7)
    assert "S0" in last_fill_prices(journal, ["S0"], recent=5)


def test_a_symbol_never_filled_has_no_price(journal_url: str) -> None:
    journal = _journal(journal_url, 10, seed=3)
    assert last_fill_prices(journal, ["S7"], recent=5) == {}
