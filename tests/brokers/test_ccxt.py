"""The ccxt adapter, through the real ccxt library, against a fake Binance spot API on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.brokers.base import OrderRequest
from reconciler.brokers.ccxt import CcxtBroker
from reconciler.cli.main import main
from reconciler.errors import BrokerError, SendUnknownError
from reconciler.secrets.resolve import SecretResolver
from reconciler.workspace.models import CcxtBrokerConfig
from tests.brokers.fake_binance import FakeBinance, FakeBinanceServer
from tests.conftest import REPO, CliResult, fresh_journal_url

D = Decimal
CANARY = "CANARY-ccxt-9d1f0b"
PORTFOLIO = """\
apiVersion: reconciler.dev/v1
kind: Portfolio
metadata:
  name: crypto
spec:
  account: spot
  targets: {BTC: 0.45, ETH: 0.35}
  cash: 0.20
  trading:
    fractional: true
    quantity_step: 0.0001
    min_trade_notional: 10
    bands: {absolute: 0.02}
"""


@pytest.fixture
def exchange() -> Iterator[FakeBinance]:
    fake = FakeBinance(
        {"USDT": D(20000), "BTC": D("0.05")}, {"BTC": (D(60000), D(59500)), "ETH": (D(3000), D(3010))}
    )
    server = FakeBinanceServer(fake)
    server.start()
    yield fake
    server.stop()


def spec(url: str, **extra: object) -> CcxtBrokerConfig:
    return CcxtBrokerConfig.model_validate({
        "kind": "ccxt", "exchange": "binance", "api_url": url, "rate_limit_per_second": 200,
        "options": {"fetchMarkets": {"types": ["spot"]}},
        "accounts": {"spot": {"api_key": "env:EXCHANGE_KEY", "secret": "env:EXCHANGE_SECRET"}}, **extra,
    })


@pytest.fixture
def broker(exchange: FakeBinance, monkeypatch: pytest.MonkeyPatch) -> CcxtBroker:
    monkeypatch.setenv("EXCHANGE_KEY", "key")
    monkeypatch.setenv("EXCHANGE_SECRET", CANARY)
    s = spec(exchange.url)
    return CcxtBroker(s, SecretResolver(s.secrets))


@dataclass
class Crypto:
    root: Path
    run: Callable[..., CliResult]


@pytest.fixture
def crypto(
    tmp_path: Path, exchange: FakeBinance, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Crypto:
    """A workspace whose broker is the fake exchange through ccxt."""
    root = tmp_path / "repo"
    (root / "portfolios").mkdir(parents=True)
    (root / "portfolios" / "crypto.yaml").write_text(PORTFOLIO)
    shutil.copytree(REPO / "policies", root / "policies")
    config = {
        "apiVersion": "reconciler.dev/v1", "kind": "Config", "portfolios_dir": "portfolios",
        "journal": {"url": fresh_journal_url(tmp_path)},
        "broker": {**spec(exchange.url).model_dump(mode="json", exclude_none=True),
                   "fill_timeout_seconds": 3},
        "policies": {"dir": "policies"},
    }
    (root / "reconciler.yaml").write_text(json.dumps(config))  # JSON is YAML
    monkeypatch.setenv("EXCHANGE_KEY", "key")
    monkeypatch.setenv("EXCHANGE_SECRET", CANARY)

    def run(*argv: str) -> CliResult:
        capsys.readouterr()
        code = main(["--config", str(root / "reconciler.yaml"), "--no-color", *argv])
        out = capsys.readouterr()
        assert CANARY not in out.out + out.err
        return CliResult(code, out.out, out.err)

    return Crypto(root, run)


def test_observe_reads_balances_locked_cash_and_tickers(broker: CcxtBroker, exchange: FakeBinance) -> None:
    exchange.locked["USDT"] = D(500)
    obs = broker.observe("spot", ["ETH"])
    assert obs.positions == {"BTC": D("0.05")}
    assert obs.cash_settled == D(20500)
    assert obs.cash_reserved == D(500)
    assert obs.cash_unsettled == 0
    assert obs.quotes["BTC"].price == D(60000)
    assert obs.quotes["BTC"].previous_close == D(59500)
    assert obs.quotes["ETH"].price == D(3000)
    assert obs.cash_warning is None


def test_order_rounded_to_the_lot_step_and_found_by_client_id(
    broker: CcxtBroker, exchange: FakeBinance
) -> None:
    state = broker.submit("spot", OrderRequest(client_order_id="rc-test-1-a", symbol="ETH", side="buy",
                                               quantity=D("1.23456")))
    assert state.status == "filled"
    assert state.quantity == D("1.2345")
    assert state.avg_price == D("3000.01")  # a market buy meets the ask
    assert broker.get_order("spot", "rc-test-1-a", "ETH") == state
    assert broker.get_order("spot", "rc-never-sent", "ETH") is None
    assert [o.client_order_id for o in broker.list_orders("spot")] == ["rc-test-1-a"]


def test_a_client_id_is_refused_only_while_its_order_is_open(
    broker: CcxtBroker, exchange: FakeBinance
) -> None:
    """Binance's rule (New order, newClientOrderId): an id in use by an open order is refused (-2010), and the
    adapter finds that order; once it is closed the id is accepted again. Only the journal (an intent per id)
    stands between apply and a second order: the adapter never resends on its own."""
    resting = OrderRequest(
        client_order_id="rc-rest", symbol="ETH", side="buy", quantity=D(1), limit_price=D(2000)
    )
    first = broker.submit("spot", resting)
    assert first.status == "accepted"
    again = broker.submit("spot", resting)
    assert again.broker_order_id == first.broker_order_id
    assert len(exchange.orders) == 1
    broker.cancel("spot", "rc-rest", "ETH")
    reused = broker.submit("spot", resting)
    assert reused.broker_order_id != first.broker_order_id
    assert [o.client_order_id for o in exchange.orders] == ["rc-rest", "rc-rest"]


def test_an_unanswered_order_is_never_resent_even_when_the_lookup_does_not_see_it(
    broker: CcxtBroker, exchange: FakeBinance
) -> None:
    """The duplicate-order replay (issue 28): a marketable limit order fills, its answer is -1007 ("execution
    status unknown"), and the lookup does not see it yet. Resending would execute it twice, since a filled
    order's id is free again at Binance: the send's outcome is unknown instead."""
    exchange.unanswered_next_orders, exchange.hidden_lookups = 1, 10
    order = OrderRequest(
        client_order_id="rc-replay", symbol="ETH", side="buy", quantity=D(1), limit_price=D(3010)
    )
    with pytest.raises(SendUnknownError, match="without a definitive answer"):
        broker.submit("spot", order)
    assert Counter(r for r in exchange.requests if r.startswith("POST")) == {"POST /api/v3/order": 1}
    assert [(o.client_order_id, o.status) for o in exchange.orders] == [("rc-replay", "FILLED")]


def test_an_unanswered_order_the_lookup_finds_is_that_order(
    broker: CcxtBroker, exchange: FakeBinance
) -> None:
    exchange.unanswered_next_orders = 1
    state = broker.submit(
        "spot", OrderRequest(client_order_id="rc-found", symbol="ETH", side="buy", quantity=D(1))
    )
    assert state.status == "filled"
    assert Counter(r for r in exchange.requests if r.startswith("POST")) == {"POST /api/v3/order": 1}
    assert len(exchange.orders) == 1


def test_a_5xx_on_an_order_is_an_unknown_outcome_never_a_resend(
    broker: CcxtBroker, exchange: FakeBinance
) -> None:
    exchange.error_next_orders = 1
    with pytest.raises(SendUnknownError):
        broker.submit("spot", OrderRequest(client_order_id="rc-5xx", symbol="ETH", side="buy", quantity=D(1)))
    assert Counter(r for r in exchange.requests if r.startswith("POST")) == {"POST /api/v3/order": 1}


def test_429_and_503_are_waited_out(broker: CcxtBroker, exchange: FakeBinance) -> None:
    exchange.throttle_next, exchange.error_next = 1, 2
    obs = broker.observe("spot", [])
    assert obs.positions == {"BTC": D("0.05")}
    assert broker.rate_limited == 1


def test_unknown_exchange_is_a_clear_error(exchange: FakeBinance, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_KEY", "key")
    monkeypatch.setenv("EXCHANGE_SECRET", CANARY)
    s = spec(exchange.url, exchange="notanexchange")
    with pytest.raises(Exception, match="ccxt has no exchange 'notanexchange'") as info:
        CcxtBroker(s, SecretResolver(s.secrets)).observe("spot", [])
    assert CANARY not in str(info.value)


def test_plan_apply_converges_and_reapply_sends_nothing(crypto: Crypto, exchange: FakeBinance) -> None:
    run = crypto.run
    plan_file = crypto.root / "plan.json"
    r = run("plan", "--out", str(plan_file), "--detailed-exitcode")
    assert r.code == 2, r.out + r.err
    legs = sum(len(p["actions"]) for p in json.loads(plan_file.read_text())["portfolios"])
    assert legs == 2
    r = run("apply", str(plan_file))
    assert r.code == 0, r.out + r.err
    assert len(exchange.orders) == 2
    assert all(o.status == "FILLED" for o in exchange.orders)
    assert all(len(o.client_order_id) <= 36 for o in exchange.orders)
    r = run("plan", "--detailed-exitcode")
    assert r.code == 0, r.out
    r = run("apply", str(plan_file))
    assert r.code == 0
    assert len(exchange.orders) == 2
    r = run("reconcile")
    assert r.code == 0, r.out + r.err


def test_an_order_executed_without_an_answer_is_unknown_then_adopted_never_bought_twice(
    crypto: Crypto, exchange: FakeBinance
) -> None:
    """The replay through apply: the first order executes, its answer is -1007 and the lookups (the adapter's
    and apply's) do not see it yet. Its intent is unknown, the account is not traded until the order shows,
    then it is adopted and the plan converges with one order per leg."""
    run = crypto.run
    exchange.unanswered_next_orders, exchange.hidden_lookups = 1, 2
    r = run("apply", "--auto-approve")
    assert r.code == 1, r.out + r.err
    first = exchange.orders[0].client_order_id
    assert [o.client_order_id for o in exchange.orders] == [first]  # the rest of the portfolio was not sent
    r = run("plan")
    assert r.code == 1
    assert first in r.err
    assert "may still arrive" in r.err
    r = run("apply", "--auto-approve")  # the lookup sees the order now: adopted, then the rest is traded
    assert r.code == 0, r.out + r.err
    assert run("plan", "--detailed-exitcode").code == 0
    ids = [o.client_order_id for o in exchange.orders]
    assert len(ids) == len(set(ids)), "an order was sent twice"
    assert Counter(o.symbol for o in exchange.orders) == {"BTCUSDT": 1, "ETHUSDT": 1}


def test_partial_fills_over_requests_complete(crypto: Crypto, exchange: FakeBinance) -> None:
    run = crypto.run
    exchange.fill_steps = 3
    r = run("apply", "--auto-approve")
    assert r.code == 0, r.out + r.err
    assert all(o.status == "FILLED" for o in exchange.orders)
    exchange.fill_steps = 1
    assert run("plan", "--detailed-exitcode").code == 0


def test_without_the_ccxt_library_the_message_says_what_to_install(
    crypto: Crypto, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ccxt", None)  # what Python does when the package is not installed
    monkeypatch.delitem(sys.modules, "reconciler.brokers.ccxt")
    r = crypto.run("plan")
    assert r.code == 1
    assert "pip install 'reconciler[crypto]'" in r.err
    assert "Traceback" not in r.err


def test_sandbox_mode_points_at_the_exchanges_testnet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_KEY", "key")
    monkeypatch.setenv("EXCHANGE_SECRET", CANARY)
    s = CcxtBrokerConfig.model_validate({
        "kind": "ccxt", "exchange": "binance", "sandbox": True,
        "accounts": {"spot": {"api_key": "env:EXCHANGE_KEY", "secret": "env:EXCHANGE_SECRET"}},
    })
    exchange, _ = CcxtBroker(s, SecretResolver(s.secrets))._gate.exchange("spot")  # built, not connected
    assert "testnet" in exchange.urls["api"]["public"]
    assert exchange.secret == CANARY
    assert CANARY not in repr(exchange.urls)


def test_a_quantity_below_the_markets_precision_is_a_rejection(
    broker: CcxtBroker, exchange: FakeBinance
) -> None:
    state = broker.submit("spot", OrderRequest(client_order_id="rc-dust", symbol="BTC", side="sell",
                                               quantity=D("0.00005")))  # the lot step is 0.0001
    assert state.status == "rejected"
    assert "precision" in (state.reject_reason or "")
    assert not any(r.startswith("POST") for r in exchange.requests)


def test_an_order_answer_without_side_amount_or_average_is_completed_from_what_is_known(
    broker: CcxtBroker,
) -> None:
    """OKX and Bybit answer a new order with its id only; some exchanges report cost but no average."""
    request = OrderRequest(client_order_id="rc-x", symbol="ETH", side="buy", quantity=D(2))
    bare = broker._order_state({"id": "1", "clientOrderId": "rc-x", "status": "open"}, "rc-x", request)
    assert (bare.side, bare.quantity, bare.symbol, bare.status) == ("buy", D(2), "ETH", "accepted")
    costed = broker._order_state({"id": "1", "symbol": "ETH/USDT", "side": "buy", "amount": 2, "filled": 2,
                                  "cost": 6000, "status": "closed",
                                  "fee": {"cost": 0.002, "currency": "ETH"}})
    assert costed.avg_price == D(3000)
    assert costed.commission == D("6.000")


def test_orders_on_a_market_sold_to_zero_are_listed_when_asked_for(
    broker: CcxtBroker, exchange: FakeBinance
) -> None:
    # Binance lists closed orders per market: once ETH is sold to zero, only the symbol hint (the journal's
    # targets and last observed holdings, in reconcile) finds the orders on ETH/USDT.
    exchange.fee_rate = D(0)  # a fee kept in the coin would leave dust under the lot step, never zero
    for n, side in enumerate(("buy", "sell"), start=1):
        state = broker.submit("spot", OrderRequest(client_order_id=f"rc-zero-{n}-a", symbol="ETH", side=side,
                                                   quantity=D(2)))
        assert state.status == "filled"
    assert "ETH" not in broker.observe("spot", []).positions
    unhinted = {o.client_order_id for o in broker.list_orders("spot")}
    assert not unhinted & {"rc-zero-1-a", "rc-zero-2-a"}
    # DOGE: no market, ignored
    hinted = {o.client_order_id for o in broker.list_orders("spot", ["ETH", "DOGE"])}
    assert {"rc-zero-1-a", "rc-zero-2-a"} <= hinted


def test_reconcile_reports_an_unknown_order_that_sold_a_coin_to_zero(
    crypto: Crypto, exchange: FakeBinance
) -> None:
    exchange.fee_rate = D(0)  # a fee kept in the coin would leave dust under the lot step, never zero
    assert crypto.run("apply", "--auto-approve").code == 0
    held = exchange.balances["ETH"]
    assert held > 0
    s = spec(exchange.url)
    other = CcxtBroker(s, SecretResolver(s.secrets))  # someone else's process, with our id prefix
    sold = other.submit("spot", OrderRequest(client_order_id="rc-foreign-1-x", symbol="ETH", side="sell",
                                             quantity=held))
    assert sold.status == "filled"
    assert exchange.balances["ETH"] == 0
    r = crypto.run("reconcile")
    assert "rc-foreign-1-x" in r.out + r.err, r.out + r.err
    assert "has no intent in this journal" in r.out + r.err


def test_a_fee_kept_in_the_coin_bought_is_journaled_and_explains_the_position(
    crypto: Crypto, exchange: FakeBinance
) -> None:
    assert exchange.fee_rate == D("0.001")  # Binance without BNB: 0.1% of the coin bought
    assert crypto.run("apply", "--auto-approve").code == 0
    bought = next(o for o in exchange.orders if o.side == "BUY")
    fee = bought.executed * D("0.001")
    rows = {(r[0], D(r[1])) for r in _query(crypto, "select client_order_id, fee_in_kind from fills")}
    assert (bought.client_order_id, fee) in rows
    r = crypto.run("reconcile")
    assert r.code == 0, r.out + r.err
    assert "unexplained" not in r.out + r.err


def _query(crypto: Crypto, sql: str) -> list[tuple[object, ...]]:
    from sqlalchemy import create_engine, text

    url = json.loads((crypto.root / "reconciler.yaml").read_text())["journal"]["url"]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def test_ccxt_limit_on_the_market_tick_and_cancelled_in_a_fast_market(
    broker: CcxtBroker, exchange: FakeBinance
) -> None:
    order = OrderRequest(client_order_id="rc-limit-1", symbol="ETH", side="buy", quantity=D("1"),
                         limit_price=D("3015.0149"))
    state = broker.submit("spot", order)
    assert state.status == "filled"
    assert state.avg_price == D("3000.01")
    placed = exchange.orders[-1]
    assert placed.limit == D("3015.01")  # a buy's limit rounded down to the 0.01 tick
    exchange.adverse_move = D("0.01")
    sell = OrderRequest(client_order_id="rc-limit-2", symbol="BTC", side="sell", quantity=D("0.01"),
                        limit_price=D("59700.001"))
    state = broker.submit("spot", sell)
    assert exchange.orders[-1].limit == D("59700.01")  # a sell's rounded up
    assert state.status == "accepted"
    assert state.filled_quantity == 0  # resting: the market is 1% away
    final = broker.cancel("spot", "rc-limit-2", "BTC")
    assert final is not None
    assert final.status == "canceled"
    assert final.filled_quantity == 0
    assert exchange.balances["BTC"] == D("0.05")  # released, never sold


def test_ccxt_apply_sends_limit_orders(crypto: Crypto, exchange: FakeBinance) -> None:
    r = crypto.run("apply", "--auto-approve")
    assert r.code == 0, r.out + r.err
    assert exchange.orders
    assert all(o.limit is not None for o in exchange.orders)
    assert crypto.run("plan", "--detailed-exitcode").code == 0


@pytest.mark.parametrize("behaviour", ["slow-headers", "slow-body", "endless-chunks", "100-MB"])
def test_an_exchange_that_never_finishes_is_cut_off_in_bounded_time(
    behaviour: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hostile peers of the Alpaca adapter's tests, behind ccxt: a total deadline on every call (ccxt's
    own timeout bounds each read only) and a cap on every body (ccxt reads it whole)."""
    from tests.brokers.test_alpaca_hostile import (
        _drip_body,
        _drip_headers,
        _endless_chunks,
        _hundred_megabytes,
        _Peer,
    )

    monkeypatch.setenv("EXCHANGE_KEY", "key")
    monkeypatch.setenv("EXCHANGE_SECRET", CANARY)
    peer = _Peer()
    try:
        act = {"slow-headers": _drip_headers, "slow-body": _drip_body, "endless-chunks": _endless_chunks,
               "100-MB": _hundred_megabytes}[behaviour]
        peer.answers["/api/v3/exchangeInfo"] = act
        s = spec(peer.url, timeout_seconds=1)
        started = time.monotonic()
        with pytest.raises(BrokerError) as refused:
            CcxtBroker(s, SecretResolver(s.secrets), attempts=2).observe("spot", ["BTC"])
        assert time.monotonic() - started < 15  # 2 attempts of a 2 s deadline, with backoff
        says = "larger than" if behaviour in ("endless-chunks", "100-MB") else "unavailable after 2 attempts"
        assert says in refused.value.message, refused.value.message
        assert CANARY not in refused.value.render()
    finally:
        peer.server.shutdown()
