"""Alpaca day after day, against the emulator: fees accrue intraday and post at the close, the ledger reads
only the settlement window past a cursor the journal keeps, every documented activity type is known, and a
refusal is told by its meaning, not by its generic code."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from reconciler.brokers.alpaca import AlpacaBroker
from reconciler.brokers.alpaca_activities import KNOWN
from reconciler.brokers.base import OrderRequest
from reconciler.clock import FixedClock
from reconciler.core.fees import FeeRates, day_fees
from reconciler.emulator import Emulator, EmulatorServer, views
from reconciler.emulator.fills import stamp_id
from reconciler.journal.broker_ledgers import JournalLedgers
from reconciler.journal.store import Journal
from reconciler.secrets.resolve import SecretResolver
from reconciler.workspace.models import AlpacaBrokerConfig

D = Decimal
TUESDAY_MORNING = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # 11:00 in New York, a session day


@pytest.fixture
def market(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Emulator, EmulatorServer, FixedClock]]:
    monkeypatch.setenv("RC_KEY_OLD", "key-old")
    monkeypatch.setenv("RC_KEY_NEW", "key-new")
    clock = FixedClock(TUESDAY_MORNING)
    seed = {"accounts": {"old": {"key_id": "key-old", "cash": 10000, "positions": {"VTI": 100}},
                         "new": {"key_id": "key-new", "cash": 10000, "positions": {"VTI": 100}}},
            "prices": {"VTI": {"price": 250, "previous_close": 249}}}
    emu = Emulator(seed, clock=clock, calendar="XNYS")
    server = EmulatorServer(emu)
    server.start()
    yield emu, server, clock
    server.shutdown()
    server.server_close()


def adapter(server: EmulatorServer, clock: FixedClock, ledgers: Any = None) -> AlpacaBroker:
    spec = AlpacaBrokerConfig.model_validate({
        "kind": "alpaca", "trading_url": server.url, "data_url": server.url, "rate_limit_per_second": 1000,
        "stream": False,
        "accounts": {"old": {"key_id": "env:RC_KEY_OLD", "secret_key": "env:RC_KEY_OLD"},
                     "new": {"key_id": "env:RC_KEY_NEW", "secret_key": "env:RC_KEY_NEW"}},
    })
    return AlpacaBroker(spec, SecretResolver(spec.secrets), clock=clock, ledgers=ledgers)


def sell(broker: AlpacaBroker, account: str, cid: str, qty: int) -> None:
    broker.submit(account, OrderRequest(client_order_id=cid, symbol="VTI", side="sell", quantity=D(qty)))
    state = broker.get_order(account, cid)  # the emulator fills on its next look
    assert state is not None
    assert state.status == "filled"


def age(emu: Emulator, key: str, activities: int, days_ago: int) -> None:
    """History: `activities` deposits and withdrawals (and one type nobody documented) long before the
    window."""
    acct = emu.accounts[key]
    start = emu.now() - timedelta(days=days_ago)
    old = []
    for i in range(activities):
        when = start + timedelta(minutes=i)
        kind, amount = ("XYZOLD", "-3") if i == 7 else (("CSD", "5") if i % 2 else ("CSW", "-5"))
        old.append(
            {
                "id": f"{stamp_id(when)}::{i:08d}",
                "activity_type": kind,
                "date": when.date().isoformat(),
                "net_amount": amount,
                "status": "executed",
            }
        )
    acct.activities[:0] = old


def test_fees_accrue_in_cash_during_the_session_and_post_at_the_close(market: Any) -> None:
    emu, server, clock = market
    broker = adapter(server, clock)
    sell(broker, "new", "rc-fee-1", 10)
    fees = sum(day_fees([("sell", D(10), D(250))], FeeRates()).values(), D(0))
    account = views.account_json(emu, emu.accounts["key-new"])
    assert D(account["accrued_fees"]) == fees
    assert not [a for a in emu.accounts["key-new"].activities if a["activity_type"] == "FEE"]
    obs = broker.observe("new", ["VTI"])
    assert obs.cash_warning is None
    clock.advance(6 * 3600)  # 21:00 UTC: the session closed at 16:00 in New York
    posted = broker.observe("new", ["VTI"])
    assert posted.cash_warning is None
    assert (
        sum(-D(a["net_amount"]) for a in emu.accounts["key-new"].activities if a["activity_type"] == "FEE")
        == fees
    )


def test_a_shortfall_beyond_the_accrued_fees_is_still_a_disagreement(market: Any) -> None:
    emu, server, clock = market
    broker = adapter(server, clock)
    broker.observe("new", ["VTI"])
    sell(broker, "new", "rc-fee-2", 10)
    emu.set_faults({"cash_offset": -1.0})
    warning = broker.observe("new", ["VTI"]).cash_warning
    assert warning is not None
    assert "fees accrued" in warning


def test_an_account_with_fifty_thousand_old_activities_plans_like_a_new_one(market: Any) -> None:
    emu, server, clock = market
    age(emu, "key-old", 50_000, days_ago=3650)
    broker = adapter(server, clock)
    reads = []
    for account in ("new", "old"):
        before = (emu.requests, emu.activities_served)
        obs = broker.observe(account, ["VTI"])
        assert obs.cash_warning is None
        reads.append((emu.requests - before[0], emu.activities_served - before[1]))
    assert reads[0] == reads[1]


def test_the_cursor_is_kept_in_the_journal_for_the_next_process(market: Any, journal_url: str) -> None:
    emu, server, clock = market
    age(emu, "key-old", 350, days_ago=5)  # in the window: the first observation reads them all
    journal = Journal.open(journal_url, clock=clock)
    adapter(server, clock, JournalLedgers(lambda: journal, "alpaca")).observe("old", ["VTI"])
    sell(adapter(server, clock), "old", "rc-cursor-1", 1)
    before = emu.activities_served
    later = adapter(server, clock, JournalLedgers(lambda: journal, "alpaca")).observe("old", ["VTI"])
    assert later.cash_warning is None
    assert emu.activities_served - before == 1  # the sale alone, past the cursor


def test_every_type_alpaca_py_knows_is_known() -> None:
    from alpaca.trading.enums import ActivityType

    assert {t.value for t in ActivityType} - KNOWN == set()


# Alpaca's documentation: the Trading API's account-activities reference, the Broker API's ActivityType enum,
# and its 2026-11-06 changelog (types the listing returns, and filter-only TRANS, MISC, SWP, TRD).
DOCUMENTED = {
    "FILL", "TRANS", "MISC", "ACATC", "ACATS", "CFEE", "CSD", "CSW", "DIV", "DIVCGL", "DIVCGS", "DIVFEE",
    "DIVFT",
    "DIVNRA", "DIVROC", "DIVTW", "DIVTXEX", "FEE", "INT", "INTNRA", "INTTW", "JNL", "JNLC", "JNLS", "MA",
    "NC",
    "OPASN", "OPCA", "OPCSH", "OPEXC", "OPEXP", "OPTRD", "PTC", "PTR", "REORG", "SC", "SPIN", "SPLIT", "SSO",
    "SSP",
    "MEM", "CIL", "ALLOC", "CORR", "CSR", "DIVWH", "DTCS", "DVF", "ECEXP", "EXTRD", "FIMAT", "FXCNV", "FXTRD",
    "INVPNL", "SEG", "SUB", "VOF", "WH", "SWP", "TRD",
}


def test_every_documented_type_is_known() -> None:
    assert set() == DOCUMENTED - KNOWN


def test_an_invalid_order_keeps_the_brokers_reason_under_the_generic_code(market: Any) -> None:
    """40010001 is Alpaca's generic validation code: an order it refuses for another reason is a rejection
    with Alpaca's words, after no lookup, not eight lookups and "exists but does not show it"."""
    emu, server, clock = market
    broker = adapter(server, clock)
    broker.observe("new", ["VTI"])
    before = emu.requests
    state = broker.submit(
        "new", OrderRequest(client_order_id="rc-bad-1", symbol="VTI", side="buy", quantity=D(0))
    )
    assert state.status == "rejected"
    # Alpaca's words, after the status and code (brokers/refusals.py keeps those three fields of an error
    # body)
    assert state.reject_reason == "HTTP 422, code 40010001: qty must be > 0"
    assert emu.requests - before == 1
