"""Apply fails closed on valuation: a doubtful quote for anything a portfolio holds or targets stops that
portfolio (no orders, a journaled denial, exit 1) while the others go on; a shrunk buy says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from reconciler.brokers.base import Broker, OrderRequest, OrderState
from reconciler.brokers.paper import PaperBroker
from reconciler.brokers.prices import Price
from reconciler.clock import FixedClock
from reconciler.core.models import Observation, Quote
from reconciler.execution.executor import apply_plan
from reconciler.execution.planning import make_plan
from reconciler.runtime import Runtime
from tests.builders import WithBroker
from tests.conftest import Workspace, edit_yaml

_TEN_MINUTES = timedelta(minutes=10)


def _price(ws: Workspace, symbol: str, price: float, previous_close: float) -> None:
    def change(doc: Any) -> None:
        doc["broker"]["prices"]["static"][symbol] = {"price": price, "previous_close": previous_close}

    edit_yaml(ws.config, change)


def _orders_for(ws: Workspace, account: str) -> int:
    return int(ws.query("select count(*) from paper_orders where account = :a", a=account)[0][0])


def test_a_worthless_quote_on_a_held_symbol_blocks_only_that_portfolio(
    workspace: Workspace, tmp_path: Path
) -> None:
    # AAPL is held by paper-taxable (kept aside by hold: true), never traded: before, nothing looked at its
    # quote.
    _price(workspace, "AAPL", 0.0001, 231.02)
    plan_file = tmp_path / "plan.json"
    r = workspace.run("plan", "--out", str(plan_file), "--detailed-exitcode")
    assert r.code == 1, r.out + r.err  # a blocking denial fails the plan check in CI
    assert "'bob-taxable' (account paper-taxable): not traded: doubtful quote" in r.out
    assert "[hard-mandatory] valuation (bob-taxable): AAPL: quote 0.0001 moved -100.0%" in r.out
    assert "not traded: a quote that values this account is doubtful" in r.out

    r = workspace.run("apply", str(plan_file), "--auto-approve")
    assert r.code == 1, r.out + r.err
    assert "bob-taxable" in r.out
    assert "not traded" in r.out
    assert _orders_for(workspace, "paper-taxable") == 0
    assert _orders_for(workspace, "paper-ira") > 0  # the other portfolios went on
    rows = workspace.query("select portfolio, kind, level from policy_decisions where policy = 'valuation'")
    assert ("bob-taxable", "deny", "hard-mandatory") in rows
    status = workspace.query("select status, message from applies")
    assert [s for s, _ in status] == ["partial"]
    assert "bob-taxable not traded: valuation" in status[0][1]


def test_when_every_portfolio_is_blocked_nothing_is_sent(workspace: Workspace, tmp_path: Path) -> None:
    _price(workspace, "BND", 7.28, 72.80)  # every portfolio holds or targets BND
    plan_file = tmp_path / "plan.json"
    workspace.run("plan", "--out", str(plan_file))
    r = workspace.run("apply", str(plan_file), "--auto-approve")
    assert r.code == 1
    assert "BND: quote 7.28 moved -90.0%" in r.err
    assert workspace.paper_order_count() == 0


def test_validate_rejects_a_static_price_of_zero_with_its_line(workspace: Workspace) -> None:
    _price(workspace, "GLD", 0, 241.75)
    r = workspace.run("validate")
    assert r.code == 1
    lines = workspace.config.read_text().splitlines()
    gld = next(n for n, text in enumerate(lines, 1) if text.strip() == "GLD:")
    assert lines[gld].strip() == "price: 0"  # the edit wrote the quote as a block under GLD
    assert f"reconciler.yaml:{gld + 1}:" in r.err, r.err
    assert "broker.prices.static.GLD.price" in r.err
    assert "greater than 0" in r.err
    assert workspace.paper_order_count() == 0


class _StaleAfterFirstPortfolio:
    """The real paper broker, except that once orders have been sent its quotes are ten minutes old: what a
    data feed that stalled mid-apply looks like to the next portfolio."""

    def __init__(self, inner: Broker) -> None:
        self.inner = inner
        self.sent = 0

    def _age(self, q: Quote) -> Quote:
        return q.model_copy(update={"as_of": q.as_of.replace(microsecond=0) - _TEN_MINUTES})

    def observe(self, account: str, symbols: Any) -> Observation:
        obs = self.inner.observe(account, symbols)
        if not self.sent:
            return obs
        return obs.model_copy(update={"quotes": {s: self._age(q) for s, q in obs.quotes.items()}})

    def quotes(self, account: str, symbols: list[str]) -> dict[str, Quote]:
        return self.inner.quotes(account, symbols)

    def submit(self, account: str, order: OrderRequest) -> OrderState:
        self.sent += 1
        return self.inner.submit(account, order)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_each_portfolio_is_reobserved_before_its_orders(workspace: Workspace) -> None:
    rt = Runtime(workspace.config, workspace.journal_url)
    plan = make_plan(rt)
    traded = [pp for pp in plan.portfolios if pp.actions]
    assert len(traded) >= 2
    result = apply_plan(plan, WithBroker(rt, _StaleAfterFirstPortfolio(rt.broker)), actor="test")
    first, *rest = traded
    assert not result.ok
    assert set(result.refused) == {pp.name for pp in rest}
    assert all("s old (limit 60s)" in why[0] for why in result.refused.values()), result.refused
    assert {o.portfolio for o in result.outcomes if o.status == "filled"} == {first.name}
    denied = workspace.query("select count(*) from policy_decisions where policy = 'valuation' and phase ="
                             " 'apply'")
    assert denied[0][0] > 0


def test_a_shrunk_buy_says_planned_sent_and_why(workspace: Workspace) -> None:
    rt = Runtime(workspace.config, workspace.journal_url)
    plan = make_plan(rt)
    pp = next(p for p in plan.portfolios if p.name == "bob-taxable")
    sold = {a.symbol for a in pp.actions if a.side == "sell"}
    assert sold
    assert any(a.side == "buy" for a in pp.actions)
    # Within the quote band, what is sold fell and what is bought rose: the sales raise less than planned.
    broker = rt.broker
    assert isinstance(broker, PaperBroker)
    for symbol, p in list(broker.prices.items()):
        factor = Decimal("0.981") if symbol in sold else Decimal("1.019")
        broker.prices[symbol] = Price(p.price * factor, p.previous_close)
    result = apply_plan(plan, rt, actor="test")
    shrunk = [o for o in result.outcomes if o.planned_quantity is not None]
    assert shrunk, result.outcomes
    for o in shrunk:
        assert o.quantity < o.planned_quantity
        assert o.message is not None
        assert o.message.startswith(f"planned {o.planned_quantity}, sent {o.quantity}")
    cid = shrunk[0].client_order_id
    rows = workspace.query("select quantity, message from intents where client_order_id = :c", c=cid)
    assert Decimal(str(rows[0][0])) == shrunk[0].quantity
    assert "settled cash and this apply's sale proceeds" in rows[0][1]


class _SlowBroker:
    """The paper broker behind a link that takes 50 s per account observed (the clock moves, nothing
    sleeps)."""

    def __init__(self, inner: Broker, clock: FixedClock) -> None:
        self.inner = inner
        self.clock = clock

    def observe(self, account: str, symbols: Any) -> Observation:
        obs = self.inner.observe(account, symbols)
        self.clock.advance(50)
        return obs

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_plan_judges_quote_age_at_each_accounts_observation(workspace: Workspace) -> None:
    """Three accounts at 50 s each: judged at the end of planning, the first account's quotes were 150 s old
    against a 60 s limit, and the plan blocked itself."""
    clock = FixedClock(datetime(2031, 6, 2, 15, 0, tzinfo=UTC))
    rt = Runtime(workspace.config, workspace.journal_url, clock=clock)
    plan = make_plan(WithBroker(rt, _SlowBroker(rt.broker, clock)))
    assert [r.message for r in plan.policy_results if r.policy == "quote_freshness"] == []
    assert plan.blocked == []
