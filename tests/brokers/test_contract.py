"""The broker contract (reconciler.testing.broker_contract) against every shipped adapter, built through its
plug-in as the commands build it: the paper broker on a SQLite journal, Alpaca over HTTP to the emulator, ccxt
over HTTP to the fake Binance. A plug-in's own suite runs the same tests (docs/brokers.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reconciler.brokers.plugin import BrokerContext, plugin_for
from reconciler.clock import FixedClock
from reconciler.emulator import Emulator, EmulatorServer
from reconciler.journal.store import Journal
from reconciler.testing.broker_contract import BrokerContract, ContractSetup
from reconciler.workspace import plugins
from tests.brokers.fake_binance import FakeBinance, FakeBinanceServer
from tests.brokers.test_ccxt import spec as ccxt_spec

D = Decimal
TUESDAY_MORNING = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # 11:00 in New York, a session day


def built(section: dict[str, Any], root: Path, clock: FixedClock, journal: Journal | None = None) -> Any:
    """The adapter its plug-in builds from this `broker:` section."""
    config = plugins.load_kind(section["kind"], "test").config.model_validate(section)

    def no_journal() -> Journal:
        raise AssertionError("this adapter was given no journal")

    context = BrokerContext(root, clock, (lambda: journal) if journal else no_journal, "reconciler.yaml")
    return plugin_for(config, "test").build(config, context)


class TestPaperBrokerKeepsTheContract(BrokerContract):
    @pytest.fixture
    def contract(self, tmp_path: Path) -> ContractSetup:
        journal = Journal.open(f"sqlite:///{tmp_path / 'journal.db'}")
        section = {
            "kind": "paper", "prices": {"static": {"ABC": {"price": 100, "previous_close": 99}}},
            "accounts": {"acct": {"cash": 10000}},
        }
        broker = built(section, tmp_path, FixedClock(TUESDAY_MORNING), journal)
        return ContractSetup(broker=broker, account="acct", symbol="ABC", quantity=D(3))


class TestAlpacaAdapterKeepsTheContract(BrokerContract):
    @pytest.fixture
    def contract(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ContractSetup]:
        monkeypatch.setenv("RC_CONTRACT_KEY", "key-acct")
        clock = FixedClock(TUESDAY_MORNING)
        seed = {"accounts": {"acct": {"key_id": "key-acct", "cash": 10000, "positions": {}}},
                "prices": {"VTI": {"price": 250, "previous_close": 249}}}
        server = EmulatorServer(Emulator(seed, clock=clock, calendar="XNYS"))
        server.start()
        section = {
            "kind": "alpaca", "trading_url": server.url, "data_url": server.url,
            "rate_limit_per_second": 1000,
            "accounts": {"acct": {"key_id": "env:RC_CONTRACT_KEY", "secret_key": "env:RC_CONTRACT_KEY"}},
        }
        journal = Journal.open(f"sqlite:///{tmp_path / 'journal.db'}")
        yield ContractSetup(broker=built(section, tmp_path, clock, journal), account="acct", symbol="VTI",
                            quantity=D(2))
        server.shutdown()
        server.server_close()


class TestCcxtAdapterKeepsTheContract(BrokerContract):
    @pytest.fixture
    def contract(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ContractSetup]:
        monkeypatch.setenv("EXCHANGE_KEY", "key")
        monkeypatch.setenv("EXCHANGE_SECRET", "secret")
        fake = FakeBinance(
            {"USDT": D(20000), "BNB": D(2)}, {"BTC": (D(60000), D(59500)), "BNB": (D(600), D(590))}
        )
        server = FakeBinanceServer(fake)
        server.start()
        section = ccxt_spec(fake.url).model_dump(mode="json")
        yield ContractSetup(
            broker=built(section, tmp_path, FixedClock(TUESDAY_MORNING)), account="spot", symbol="BTC",
            quantity=D("0.01"),
            resubmit_reason="Binance takes a known clientOrderId again once its order is closed;"
            " the adapter sends each order once and never resends it (ccxt.py, submit)",
        )
        server.stop()
