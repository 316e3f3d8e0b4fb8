"""The ccxt adapter and apply against the fake Binance as Binance answers (tests/brokers/fake_binance.py,
judged by tests/fixtures/binance): fees in BNB, fees of later fills, Binance's statuses, archived orders,
bans, clock skew and the weight headers; and the crypto example, whose BNB is held for the fee discount."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reconciler.brokers.base import OrderRequest
from reconciler.brokers.ccxt import CcxtBroker
from reconciler.cli.main import main
from reconciler.errors import BrokerError
from reconciler.secrets.resolve import SecretResolver
from tests.brokers.fake_binance import FakeBinance, FakeBinanceServer
from tests.brokers.test_ccxt import spec
from tests.conftest import REPO, CliResult, fresh_journal_url

D = Decimal
EXAMPLE = REPO / "examples" / "crypto"


@pytest.fixture
def exchange() -> Iterator[FakeBinance]:
    fake = FakeBinance(
        {"USDT": D(20000), "BTC": D("0.05"), "BNB": D(2)},
        {"BTC": (D(60000), D(59500)), "ETH": (D(3000), D(3010)), "BNB": (D(600), D(590))},
    )
    server = FakeBinanceServer(fake)
    server.start()
    yield fake
    server.stop()


@pytest.fixture
def broker(exchange: FakeBinance, monkeypatch: pytest.MonkeyPatch) -> CcxtBroker:
    monkeypatch.setenv("EXCHANGE_KEY", "key")
    monkeypatch.setenv("EXCHANGE_SECRET", "secret")
    s = spec(exchange.url)
    return CcxtBroker(s, SecretResolver(s.secrets))


@dataclass
class Workspace:
    root: Path

    def run(self, capsys: pytest.CaptureFixture[str], *argv: str) -> CliResult:
        capsys.readouterr()
        code = main(["--config", str(self.root / "reconciler.yaml"), "--no-color", *argv])
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        from sqlalchemy import create_engine, text

        engine = create_engine(json.loads((self.root / "reconciler.yaml").read_text())["journal"]["url"])
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.execute(text(sql))]
        finally:
            engine.dispose()


@pytest.fixture
def example(tmp_path: Path, exchange: FakeBinance, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """examples/crypto, its broker pointed at the fake exchange and its journal fresh."""
    root = tmp_path / "crypto"
    shutil.copytree(EXAMPLE / "portfolios", root / "portfolios")
    shutil.copytree(REPO / "policies", root / "policies")
    import yaml

    config = yaml.safe_load((EXAMPLE / "reconciler.yaml").read_text())
    config["journal"]["url"] = fresh_journal_url(tmp_path)
    config["policies"]["dir"] = "policies"
    config["broker"] |= {"sandbox": False, "api_url": exchange.url, "rate_limit_per_second": 200,
                         "fill_timeout_seconds": 3}
    (root / "reconciler.yaml").write_text(json.dumps(config))
    monkeypatch.setenv("BINANCE_API_KEY", "key")
    monkeypatch.setenv("BINANCE_SECRET", "secret")
    return Workspace(root)


def _buy(cid: str, quantity: str = "0.1", symbol: str = "ETH") -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=symbol, side="buy", quantity=D(quantity))


# ---- fees ----

def test_bnb_held_for_the_discount_is_not_sold(
    example: Workspace, exchange: FakeBinance, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange.bnb_discount = True
    assert example.run(capsys, "apply", "--auto-approve").code == 0
    assert [o.symbol for o in exchange.orders if o.symbol == "BNBUSDT"] == []


def test_fees_paid_in_bnb_are_journaled_at_bnbs_price(
    example: Workspace, exchange: FakeBinance, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange.bnb_discount = True
    assert example.run(capsys, "apply", "--auto-approve").code == 0
    paid = sum((D(t["commission"]) for t in exchange.trades), D(0))
    journaled = sum((D(str(r[0])) for r in example.query("select commission from fills")), D(0))
    assert journaled == paid * 600


def test_reconcile_agrees_with_the_exchange_after_fees_in_bnb(
    example: Workspace, exchange: FakeBinance, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange.bnb_discount = True
    assert example.run(capsys, "apply", "--auto-approve").code == 0
    r = example.run(capsys, "reconcile")
    assert (r.code, "unexplained" in r.out + r.err) == (0, False), r.out + r.err


def test_fills_after_the_first_answer_carry_their_fees(broker: CcxtBroker, exchange: FakeBinance) -> None:
    """Three partial fills, one per read: GET order has no fills, so the fees come from the order's trades."""
    exchange.fill_steps = 3
    broker.submit("spot", _buy("rc-steps-1", "0.3"))
    state = broker.get_order("spot", "rc-steps-1", "ETH")
    while state is not None and state.status != "filled":
        state = broker.get_order("spot", "rc-steps-1", "ETH")
    assert state is not None
    assert state.fee_in_kind == sum((D(t["commission"]) for t in exchange.trades), D(0))


# ---- Binance's statuses and archived orders ----

def test_pending_new_is_accepted_then_placed(broker: CcxtBroker, exchange: FakeBinance) -> None:
    exchange.pending_next_orders = 1
    first = broker.submit("spot", _buy("rc-pending-1"))
    later = broker.get_order("spot", "rc-pending-1", "ETH")
    assert later is not None
    assert (first.status, later.status) == ("accepted", "filled")


@pytest.mark.parametrize(
    ("knob", "status"), [("expire_in_match_next", "canceled"), ("reject_next_orders", "rejected")]
)
def test_orders_ended_by_the_exchange(
    broker: CcxtBroker, exchange: FakeBinance, knob: str, status: str
) -> None:
    setattr(exchange, knob, 1)
    state = broker.submit("spot", _buy("rc-ended-1"))
    assert (state.status, state.filled_quantity) == (status, D(0))


def test_an_archived_order_is_no_order(broker: CcxtBroker, exchange: FakeBinance) -> None:
    exchange.archived.add("rc-old-1")
    assert broker.get_order("spot", "rc-old-1", "ETH") is None


# ---- bans, clock skew, weight ----

def test_a_ban_on_an_order_ends_the_apply_naming_its_end(
    example: Workspace, exchange: FakeBinance, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange.ban_next_orders = 1
    r = example.run(capsys, "apply", "--auto-approve")
    assert (r.code != 0, "bans this IP until" in r.out + r.err) == (True, True), r.out + r.err


def test_after_a_ban_on_an_order_nothing_more_is_sent(
    example: Workspace, exchange: FakeBinance, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange.ban_next_orders = 1
    example.run(capsys, "apply", "--auto-approve")
    assert exchange.requests.count("POST /api/v3/order") == 1


def test_the_banned_orders_intent_is_failed_not_unknown(
    example: Workspace, exchange: FakeBinance, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange.ban_next_orders = 1
    example.run(capsys, "apply", "--auto-approve")
    assert [r[0] for r in example.query("select status from intents")] == ["failed"]


def test_clock_skew_is_named_and_not_retried(broker: CcxtBroker, exchange: FakeBinance) -> None:
    broker.observe("spot", ["ETH"])
    exchange.skew_next = 1
    before = exchange.requests.count("GET /api/v3/account")
    with pytest.raises(BrokerError, match="clock"):
        broker.observe("spot", ["ETH"])
    assert exchange.requests.count("GET /api/v3/account") == before + 1


def test_the_ips_weight_is_read_from_the_headers(broker: CcxtBroker, exchange: FakeBinance) -> None:
    broker.observe("spot", ["ETH"])
    assert [h.used for h in broker._gate.hosts.values()] == [exchange.weight]
