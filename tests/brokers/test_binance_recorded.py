"""The ccxt adapter fed Binance's answers (tests/fixtures/binance, written by us in the shapes of Binance's
documented examples and ccxt's static request/response tests) through the real ccxt library and a peer on
127.0.0.1: a second judge beside the fake exchange, as tests/fixtures/alpaca is for Alpaca."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from reconciler.brokers.base import OrderRequest
from reconciler.brokers.ccxt import CcxtBroker
from reconciler.clock import FixedClock
from reconciler.errors import BrokerError, ExchangeBannedError, OrderRefusedError
from reconciler.secrets.resolve import SecretResolver
from reconciler.workspace.models import CcxtBrokerConfig
from tests.brokers.binance_replay import Answer, Replay, error, load

D = Decimal
ORDER = "/api/v3/order"
START = datetime(2026, 1, 5, 15, 5, tzinfo=UTC)


@pytest.fixture
def replay() -> Iterator[Replay]:
    r = Replay()
    yield r
    r.stop()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


def binance(
    replay: Replay, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, **extra: object
) -> CcxtBroker:
    """The adapter on the replayed exchange, with two accounts on one IP."""
    monkeypatch.setenv("EXCHANGE_KEY", "key")
    monkeypatch.setenv("EXCHANGE_SECRET", "secret")
    creds = {"api_key": "env:EXCHANGE_KEY", "secret": "env:EXCHANGE_SECRET"}
    spec = CcxtBrokerConfig.model_validate({
        "kind": "ccxt", "exchange": "binance", "api_url": replay.url, "rate_limit_per_second": 200,
        "options": {"fetchMarkets": {"types": ["spot"]}}, "accounts": {"spot": creds, "other": creds},
        **extra,
    })
    return CcxtBroker(spec, SecretResolver(spec.secrets), clock=clock)


@pytest.fixture
def broker(replay: Replay, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> CcxtBroker:
    return binance(replay, clock, monkeypatch)


def buy(quantity: str = "0.1", limit: str | None = "60010") -> OrderRequest:
    return OrderRequest(client_order_id="rc-btc-buy-1", symbol="BTC", side="buy", quantity=D(quantity),
                        limit_price=None if limit is None else D(limit))


# ---- observation: every asset, zero rows and Earn (LD*) assets, a real spread ----

def test_zero_rows_and_earn_assets_are_not_positions(broker: CcxtBroker) -> None:
    obs = broker.observe("spot", ["BTC", "ETH"])
    assert obs.positions == {"BTC": D("0.05"), "BNB": D("0.5")}


def test_cash_is_free_plus_locked_and_simple_earn_is_not_cash(broker: CcxtBroker) -> None:
    obs = broker.observe("spot", ["BTC"])
    assert (obs.cash_settled, obs.cash_reserved) == (D(10000), D(1000))


def test_the_books_bid_and_ask_are_read(broker: CcxtBroker) -> None:
    btc = broker.observe("spot", ["BTC"]).quotes["BTC"]
    assert (btc.bid, btc.ask, btc.price) == (D(59990), D(60010), D(60000))


# ---- fees in any asset ----

def test_a_fee_paid_in_bnb_is_a_cost_valued_at_the_fill(broker: CcxtBroker, replay: Replay) -> None:
    """0.0030005 BNB at BNB's 600 USDT: 1.8003 USDT, where it used to be nothing at all."""
    replay.routes[f"POST {ORDER}"] = Answer(load("order_new_partial_bnb_fee.json"))
    state = broker.submit("spot", buy())
    assert state.commission == D("1.8003")


def test_fills_after_the_first_answer_get_their_fees_from_the_accounts_trades(
    broker: CcxtBroker, replay: Replay
) -> None:
    """GET order has no fills: the fees of the whole order come from myTrades for it (0.00750125 BNB)."""
    replay.routes[f"GET {ORDER}"] = Answer(load("order_filled_later.json"))
    replay.routes["GET /api/v3/myTrades"] = Answer(load("my_trades.json"))
    state = broker.get_order("spot", "rc-btc-buy-1", "BTC")
    assert state is not None
    assert state.commission == D("4.50075")


def test_the_trades_are_asked_for_that_order_only(broker: CcxtBroker, replay: Replay) -> None:
    replay.routes[f"GET {ORDER}"] = Answer(load("order_filled_later.json"))
    replay.routes["GET /api/v3/myTrades"] = Answer(load("my_trades.json"))
    broker.get_order("spot", "rc-btc-buy-1", "BTC")
    asked = [p for k, p in replay.requests if k == "GET /api/v3/myTrades"]
    assert [(p["symbol"], p["orderId"]) for p in asked] == [("BTCUSDT", "28457")]


# ---- statuses, archived and odd orders ----

@pytest.mark.parametrize(("binance_status", "ours", "filled"), [
    ("PENDING_NEW", "accepted", D(0)), ("EXPIRED", "canceled", D("0.02")),
    ("EXPIRED_IN_MATCH", "canceled", D(0)),
    ("REJECTED", "rejected", D(0)),
])
def test_binance_statuses(
    broker: CcxtBroker, replay: Replay, binance_status: str, ours: str, filled: Decimal
) -> None:
    replay.routes[f"GET {ORDER}"] = Answer(load("order_statuses.json")[binance_status])
    replay.routes["GET /api/v3/myTrades"] = Answer([])
    state = broker.get_order("spot", "rc-btc-buy-1", "BTC")
    assert state is not None
    assert (state.status, state.filled_quantity) == (ours, filled)


def test_a_negative_cumulative_quote_quantity_is_no_price_not_a_failed_lookup(
    broker: CcxtBroker, replay: Replay
) -> None:
    """Binance: "cummulativeQuoteQty < 0 means the data isn't available for this order" (some historical
    orders)."""
    replay.routes[f"GET {ORDER}"] = Answer(load("order_statuses.json")["negative_cummulative_quote"])
    replay.routes["GET /api/v3/myTrades"] = Answer([])
    state = broker.get_order("spot", "rc-btc-buy-1", "BTC")
    assert state is not None
    assert (state.status, state.avg_price) == ("canceled", None)


def test_an_archived_order_is_one_that_did_nothing(broker: CcxtBroker, replay: Replay) -> None:
    """-2026: cancelled or expired with no executed quantity over 90 days ago, and archived; the exchange
    holds nothing under the id any more, which is what None says (the lookup used to fail)."""
    replay.routes[f"GET {ORDER}"] = error("-2026")
    assert broker.get_order("spot", "rc-btc-buy-1", "BTC") is None


def test_a_cancel_answer_names_the_original_client_id(broker: CcxtBroker, replay: Replay) -> None:
    replay.routes[f"GET {ORDER}"] = [
        Answer(load("order_statuses.json")["PENDING_NEW"]),
        Answer(load("cancel.json")),
    ]
    replay.routes[f"DELETE {ORDER}"] = Answer(load("cancel.json"))
    replay.routes["GET /api/v3/myTrades"] = Answer(load("my_trades.json")[:1])
    state = broker.cancel("spot", "rc-btc-buy-1", "BTC")
    assert state is not None
    assert (state.client_order_id, state.status, state.filled_quantity) == (
        "rc-btc-buy-1",
        "canceled",
        D("0.04"),
    )


def test_a_cancel_of_an_order_already_gone_is_not_retried(broker: CcxtBroker, replay: Replay) -> None:
    replay.routes[f"GET {ORDER}"] = Answer(load("order_statuses.json")["PENDING_NEW"])
    replay.routes[f"DELETE {ORDER}"] = error("-2011")
    replay.routes["GET /api/v3/myTrades"] = Answer([])
    broker.cancel("spot", "rc-btc-buy-1", "BTC")
    assert replay.sent(f"DELETE {ORDER}") == 1


# ---- minimum notional on the limit price; filter refusals ----

def test_min_notional_is_checked_on_the_limit_price(broker: CcxtBroker, replay: Replay) -> None:
    """0.0001 BTC is 6 USDT at the last price but 4 at the limit: Binance checks the limit (NOTIONAL 5)."""
    state = broker.submit("spot", buy("0.0001", "40000"))
    assert state.status == "rejected"
    assert replay.sent(f"POST {ORDER}") == 0


def test_a_notional_filter_refusal_is_a_failed_send_with_binances_reason(
    broker: CcxtBroker, replay: Replay
) -> None:
    replay.routes[f"POST {ORDER}"] = error("-1013")
    replay.routes[f"GET {ORDER}"] = error("-2013")
    with pytest.raises(OrderRefusedError, match="NOTIONAL"):
        broker.submit("spot", buy())


# ---- bans, limits, clock skew ----

def test_a_ban_ends_the_call_at_once_with_its_end(
    broker: CcxtBroker, replay: Replay, clock: FixedClock
) -> None:
    replay.routes["GET /api/v3/account"] = error("418")
    with pytest.raises(ExchangeBannedError, match="2026-01-05T15:07:00"):
        broker.observe("spot", ["BTC"])
    assert clock.monotonic() == 0.0  # nothing waited


def test_a_ban_sends_no_order(broker: CcxtBroker, replay: Replay) -> None:
    replay.routes[f"POST {ORDER}"] = error("418")
    with pytest.raises(ExchangeBannedError):
        broker.submit("spot", buy())
    assert replay.sent(f"GET {ORDER}") == 0


def test_a_ban_stops_every_account_on_the_ip(broker: CcxtBroker, replay: Replay) -> None:
    replay.routes["GET /api/v3/account"] = error("418")
    with pytest.raises(ExchangeBannedError):
        broker.observe("spot", ["BTC"])
    before = len(replay.requests)
    with pytest.raises(ExchangeBannedError):
        broker.observe("other", ["BTC"])
    assert len(replay.requests) == before


@pytest.mark.parametrize(
    ("code", "said"), [("429", "429"), ("-1021", "clock")], ids=["rate-limit", "clock-skew"]
)
def test_an_order_refused_before_the_matching_engine_is_a_failed_send_sent_once(
    broker: CcxtBroker, replay: Replay, code: str, said: str
) -> None:
    """A 429 or a -1021 means nothing was placed: the order fails with the reason, is not waited out or
    retried inside submit, and the next plan re-quotes and re-checks it."""
    replay.routes[f"POST {ORDER}"] = error(code)
    with pytest.raises(OrderRefusedError, match=said):
        broker.submit("spot", buy())
    assert replay.sent(f"POST {ORDER}") == 1


def test_a_429_wait_longer_than_the_cap_is_an_error_not_a_wait(
    replay: Replay, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = binance(replay, clock, monkeypatch, rate_limit_max_wait_seconds=5)
    replay.routes["GET /api/v3/account"] = error("429")  # Retry-After: 7
    with pytest.raises(BrokerError, match="7"):
        broker.observe("spot", ["BTC"])
    assert clock.monotonic() == 0.0


def test_the_used_weight_paces_every_account_of_the_ip(
    broker: CcxtBroker, replay: Replay, clock: FixedClock
) -> None:
    """One account's calls used 5,990 of the minute's 6,000: the other account waits for the next minute."""
    broker.observe("spot", ["BTC"])
    replay.weight = 5990
    broker.quotes("spot", ["BTC"])
    clock.at = clock.at.replace(second=30)
    broker.observe("other", ["BTC"])
    assert clock.at.second < 30  # it waited into the next minute before its first call


def test_clock_skew_is_said_and_not_retried(broker: CcxtBroker, replay: Replay) -> None:
    replay.routes["GET /api/v3/account"] = error("-1021")
    with pytest.raises(BrokerError, match="clock"):
        broker.observe("spot", ["BTC"])
    assert replay.sent("GET /api/v3/account") == 1


def test_a_market_order_whose_sizing_waited_for_the_limits_is_not_sent_on_its_old_quote(
    broker: CcxtBroker, replay: Replay, clock: FixedClock
) -> None:
    """The weight ran out while the order was being sized: after the wait, the plan's quote is stale."""
    broker.observe("spot", ["BTC"])
    replay.weight = 5990
    broker.quotes("spot", ["BTC"])
    clock.at = clock.at.replace(second=30)
    with pytest.raises(OrderRefusedError, match="stale"):
        broker.submit("spot", buy("0.01", None))
    assert replay.sent(f"POST {ORDER}") == 0


def test_a_market_orders_min_notional_is_judged_at_the_5_minute_average(
    broker: CcxtBroker, replay: Replay
) -> None:
    """0.0001 BTC is 6 USDT at the last price, 4.5 at the 5-minute average Binance judges a market order
    at."""
    state = broker.submit("spot", buy("0.0001", None))
    assert (state.status, replay.sent(f"POST {ORDER}")) == ("rejected", 0)
