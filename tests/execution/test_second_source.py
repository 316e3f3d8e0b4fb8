"""Every broker fact has a second source (issue 20, section 2): a fill is checked against the order we sent
(the journal's intent), never against the quantity the broker's answer claims; positions times quotes plus
cash are checked against the equity the broker reports."""

from __future__ import annotations

import ast
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from reconciler.brokers.ccxt_answers import order_state
from reconciler.errors import ImpossibleFillError
from reconciler.execution.reconcile import record_state
from reconciler.runtime import Runtime
from tests.conftest import Workspace, edit_yaml
from tests.execution.conftest import Answer, Broker, ForwardingProxy, run_cli

LIAR = "key-paper-ira"  # the account whose first order the proxy inflates
INFLATED = "100000"


class InflatedFills(ForwardingProxy):
    """The answer to the first order sent for one account claims it was an order of 100,000, all filled (its
    own qty agrees, so only the journal can tell)."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream, self._lie)
        self.upstream = upstream
        self.lied_about: str | None = None
        self.lock = threading.Lock()

    def _lie(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer | None:
        key = {k.lower(): v for k, v in headers.items()}.get("apca-api-key-id")
        if key != LIAR or (method, path) != ("POST", "/v2/orders"):
            return None
        r = httpx.post(self.upstream + path, headers=headers, content=body)
        order = r.json()
        with self.lock:
            if r.status_code == 200 and self.lied_about is None:
                self.lied_about = order["client_order_id"]
                order.update(qty=INFLATED, filled_qty=INFLATED, status="filled",
                             filled_avg_price=order.get("filled_avg_price") or "100")
        return r.status_code, {"Content-Type": "application/json"}, json.dumps(order).encode()


@pytest.fixture
def liar(alpaca: Workspace, emulator: Broker) -> Iterator[tuple[Workspace, InflatedFills]]:
    proxy = InflatedFills(emulator.url)
    edit_yaml(alpaca.config, lambda d: d["broker"].__setitem__("trading_url", proxy.url))
    yield alpaca, proxy
    proxy.server.shutdown()


def test_a_fill_beyond_the_order_we_sent_is_refused_not_journaled(
    liar: tuple[Workspace, InflatedFills], emulator: Broker
) -> None:
    ws, proxy = liar
    r = run_cli(ws, "apply", "--auto-approve")
    assert proxy.lied_about is not None, r.stdout + r.stderr
    sent = ws.query("select quantity from intents where client_order_id = :c", c=proxy.lied_about)[0][0]
    filled = [Decimal(str(q)) for (q,) in ws.query(
        "select quantity from fills where client_order_id = :c", c=proxy.lied_about
    )]
    assert sum(filled, Decimal(0)) <= Decimal(str(sent))
    assert (
        ws.query("select status from intents where client_order_id = :c", c=proxy.lied_about)[0][0]
        == "unknown"
    )
    assert ws.query("select count(*) from events where kind = 'order.impossible_answer'")[0][0] == 1
    assert "cannot be true" in r.stdout + r.stderr
    assert r.returncode != 0
    # the emulator keeps accounts by key id
    sent_for_it = [o["client_order_id"] for o in emulator.orders(LIAR)]
    assert sent_for_it == [proxy.lied_about]  # nothing more was sent for that portfolio



def test_a_true_answer_after_the_impossible_one_is_adopted(liar: tuple[Workspace, InflatedFills]) -> None:
    """The order stayed as the journal knew it; `reconcile` asks again (the proxy lies to the send only) and
    adopts what the broker now says, which can be true."""
    ws, proxy = liar
    run_cli(ws, "apply", "--auto-approve")
    r = run_cli(ws, "reconcile")
    sent, filled, status = ws.query(
        "select quantity, filled_quantity, status from intents where client_order_id = :c", c=proxy.lied_about
    )[0]
    assert (status, Decimal(str(filled))) == ("filled", Decimal(str(sent))), r.stdout + r.stderr


def test_an_exchanges_inflated_fill_is_refused_by_the_same_gate(workspace: Workspace) -> None:
    rt = Runtime(workspace.config, workspace.journal_url)
    apply_id = rt.journal.start_apply("c" * 64, "t" * 64, None, "test")
    rt.journal.add_intent(
        apply_id=apply_id,
        plan_hash="c" * 64,
        portfolio="alice-ira",
        account="paper-ira",
        leg=1,
        client_order_id="rc-ccxt",
        symbol="BTC",
        side="buy",
        quantity=Decimal("0.5"),
        est_price=Decimal(60000),
        status="submitting",
    )
    answer = order_state({"id": "x1", "symbol": "BTC/USD", "side": "buy", "amount": 100000, "filled": 100000,
                          "average": 60000, "status": "closed"}, "USD", "rc-ccxt")
    with pytest.raises(ImpossibleFillError):
        record_state(rt.journal, "paper-ira", answer, apply_id)
    assert workspace.query("select count(*) from fills where client_order_id = 'rc-ccxt'")[0][0] == 0


def test_only_the_checked_gate_writes_a_brokers_answer_to_the_journal() -> None:
    """Every adapter's answers reach the journal through execution.reconcile.record_state, which checks them
    against the order we sent: no other module calls the journal's record_state."""
    root = Path(__file__).resolve().parents[2] / "reconciler"
    callers = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "record_state"
        and ast.unparse(node.func.value).endswith("journal")
    )
    assert callers == ["execution/reconcile.py"]


class InflatedPositions(ForwardingProxy):
    """GET /v2/positions for one account says every holding is 100 times what it is; the account figures do
    not."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream, self._lie)
        self.upstream = upstream

    def _lie(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer | None:
        key = {k.lower(): v for k, v in headers.items()}.get("apca-api-key-id")
        if key != "key-paper-taxable" or (method, path) != ("GET", "/v2/positions"):
            return None
        r = httpx.get(self.upstream + path, headers=headers)
        positions = r.json()
        for p in positions:
            p["qty"] = str(Decimal(p["qty"]) * 100)
        return r.status_code, {"Content-Type": "application/json"}, json.dumps(positions).encode()


@pytest.fixture
def inflated(alpaca: Workspace, emulator: Broker) -> Iterator[Workspace]:
    proxy = InflatedPositions(emulator.url)
    edit_yaml(alpaca.config, lambda d: d["broker"].__setitem__("trading_url", proxy.url))
    yield alpaca
    proxy.server.shutdown()


def test_positions_that_disagree_with_the_reported_equity_block_the_account(
    inflated: Workspace, emulator: Broker
) -> None:
    """Before, VTI reported as 21,000 shares planned a sell of 20,000-odd of the 210 held."""
    r = inflated.run("plan", "--format", "json")
    assert r.code == 1, r.out + r.err  # a plan the valuation check denies exits 1
    taxable = next(p for p in json.loads(r.out)["portfolios"] if p["account"] == "paper-taxable")
    assert taxable["actions"] == []
    assert any(b.startswith("equity: ") for b in taxable["blocked"]), taxable["blocked"]
    assert taxable["observation"]["reported_equity"] is not None
    applied = run_cli(inflated, "apply", "--auto-approve")
    assert emulator.orders("key-paper-taxable") == [], applied.stdout + applied.stderr
