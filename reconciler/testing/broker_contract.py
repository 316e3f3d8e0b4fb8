"""The contract every Broker adapter keeps (brokers/base.py), as pytest tests a plug-in's own suite runs.

Subclass `BrokerContract` in a test module and give it a `contract` fixture; every test below then runs
against your adapter (docs/brokers.md):

    from reconciler.testing.broker_contract import BrokerContract, ContractSetup

    class TestMyBroker(BrokerContract):
        @pytest.fixture
        def contract(self, my_emulator) -> ContractSetup:
            return ContractSetup(broker=MyBroker(...), account="acct-1", symbol="ABC", quantity=Decimal(2))

The tests send real orders: point the adapter at an emulator or a sandbox account, never at money.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import get_args

import pytest

from reconciler.brokers.base import FINAL_ORDER_STATUSES, Broker, OrderRequest, OrderState, OrderStatus
from reconciler.clock import SYSTEM, Clock


@dataclass(frozen=True)
class ContractSetup:
    """An adapter and an account to run the contract on."""

    broker: Broker
    account: str  # holds enough cash to buy `quantity` of `symbol`
    symbol: str  # quoted by the broker, and tradable now (the emulator's market open)
    quantity: Decimal  # a buy of this many fills in full without waiting on anyone
    lookups: int = 50  # how often a test asks for an order before it must be final (a venue that fills later)
    # False only for a venue that takes a known client id again once its order is closed (Binance through
    # ccxt): the adapter must then never resend an order itself, and the test of a second submit is skipped
    # with this reason.
    resubmit_reason: str | None = None
    pause_seconds: float = 0.1  # between those lookups
    # what waits between them (the adapter's clock, if it is given one that is not the system's)
    clock: Clock = SYSTEM


def client_id() -> str:
    """A client order id no test run used before."""
    return f"rc-contract-{uuid.uuid4().hex[:16]}"


def settled(setup: ContractSetup, order: OrderState) -> OrderState:
    """The order once final, asked for by its client id (at most `lookups` times)."""
    state: OrderState | None = order
    for _ in range(setup.lookups):
        if state is not None and state.status in FINAL_ORDER_STATUSES:
            return state
        setup.clock.sleep(setup.pause_seconds)
        state = setup.broker.get_order(setup.account, order.client_order_id, order.symbol)
    pytest.fail(f"order {order.client_order_id} is not final after {setup.lookups} lookups: {state}")


class BrokerContract:
    """What the executor, reconciliation and planner rely on of any adapter. Not collected itself (no Test
    prefix)."""

    @pytest.fixture
    def contract(self) -> Iterator[ContractSetup]:
        """Override in the subclass: the adapter under test."""
        raise NotImplementedError("give your BrokerContract subclass a `contract` fixture")
        yield  # pragma: no cover

    def buy(self, setup: ContractSetup, client_order_id: str | None = None) -> OrderRequest:
        """A small buy of the setup's symbol under a fresh client id."""
        return OrderRequest(
            client_order_id=client_order_id or client_id(), symbol=setup.symbol, side="buy",
            quantity=setup.quantity
        )

    def test_concurrency_is_a_positive_whole_number(self, contract: ContractSetup) -> None:
        assert isinstance(contract.broker.concurrency, int)
        assert contract.broker.concurrency >= 1

    def test_observe_names_the_account_and_prices_the_symbol(self, contract: ContractSetup) -> None:
        obs = contract.broker.observe(contract.account, [contract.symbol])
        assert obs.account == contract.account
        assert obs.quotes[contract.symbol].price > 0

    def test_observed_cash_is_never_negative(self, contract: ContractSetup) -> None:
        obs = contract.broker.observe(contract.account, [contract.symbol])
        assert min(obs.cash_settled, obs.cash_unsettled, obs.cash_reserved) >= 0

    def test_quotes_price_the_symbol(self, contract: ContractSetup) -> None:
        quotes = contract.broker.quotes(contract.account, [contract.symbol])
        assert quotes[contract.symbol].price > 0

    def test_an_order_never_sent_is_not_found(self, contract: ContractSetup) -> None:
        assert contract.broker.get_order(contract.account, client_id(), contract.symbol) is None

    def test_cancelling_an_order_never_sent_answers_none(self, contract: ContractSetup) -> None:
        assert contract.broker.cancel(contract.account, client_id(), contract.symbol) is None

    def test_a_sent_order_is_found_by_its_client_id(self, contract: ContractSetup) -> None:
        sent = contract.broker.submit(contract.account, self.buy(contract))
        found = contract.broker.get_order(contract.account, sent.client_order_id, contract.symbol)
        assert found is not None
        assert (found.client_order_id, found.symbol, found.side, found.quantity) == (
            sent.client_order_id, contract.symbol, "buy", contract.quantity,
        )

    def test_the_same_client_id_never_makes_a_second_order(self, contract: ContractSetup) -> None:
        if contract.resubmit_reason:
            pytest.skip(contract.resubmit_reason)
        order = self.buy(contract)
        first = contract.broker.submit(contract.account, order)
        second = contract.broker.submit(contract.account, order)
        assert second.broker_order_id == first.broker_order_id
        listed = contract.broker.list_orders(contract.account, [contract.symbol])
        assert [o.client_order_id for o in listed].count(order.client_order_id) == 1

    def test_an_order_state_keeps_to_its_vocabulary(self, contract: ContractSetup) -> None:
        state = settled(contract, contract.broker.submit(contract.account, self.buy(contract)))
        assert state.status in get_args(OrderStatus)
        assert 0 <= state.filled_quantity <= state.quantity
        assert state.commission >= 0

    def test_a_filled_buy_moves_the_position_by_its_fill(self, contract: ContractSetup) -> None:
        before = contract.broker.observe(contract.account, [contract.symbol]).positions.get(
            contract.symbol, 0
        )
        state = settled(contract, contract.broker.submit(contract.account, self.buy(contract)))
        assert state.status == "filled"
        after = contract.broker.observe(contract.account, [contract.symbol]).positions.get(contract.symbol, 0)
        assert after - before == state.filled_quantity - state.fee_in_kind

    def test_a_filled_order_has_its_price(self, contract: ContractSetup) -> None:
        state = settled(contract, contract.broker.submit(contract.account, self.buy(contract)))
        assert state.avg_price is not None
        assert state.avg_price > 0

    def test_cancelling_a_final_order_leaves_it_final(self, contract: ContractSetup) -> None:
        state = settled(contract, contract.broker.submit(contract.account, self.buy(contract)))
        after = contract.broker.cancel(contract.account, state.client_order_id, contract.symbol)
        assert after is not None
        assert (after.status, after.filled_quantity) == (state.status, state.filled_quantity)
