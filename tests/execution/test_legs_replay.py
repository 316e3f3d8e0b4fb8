"""One sizing rule (core.legs.size_leg): a corpus of generated rebalance days (random accounts, prices, cash
short of what the plan expected, minimum trades, quantity steps, commissions, limit or market orders) replayed
through both paths, a real apply against the paper broker and the backtest's order loop (backtest.orders),
sends the same orders: symbol, side, quantity and limit, in order, day by day."""

from __future__ import annotations

import random
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from reconciler.backtest.costs import FillModel
from reconciler.backtest.orders import send_orders
from reconciler.brokers.base import OrderRequest, OrderState
from reconciler.brokers.paper import PaperBroker
from reconciler.brokers.prices import Price
from reconciler.execution.executor import apply_plan
from reconciler.execution.planning import make_plan
from reconciler.runtime import Runtime
from tests.builders import WithBroker
from tests.conftest import PG_ADMIN_URL, REPO, fresh_journal_url

DAYS_PER_RUN = 10
Order = tuple[str, str, Decimal, Decimal | None]


class _Recording:
    """The paper broker, recording each order as apply sends it."""

    def __init__(self, inner: PaperBroker) -> None:
        self.inner = inner
        self.sent: dict[str, list[Order]] = {}

    def submit(self, account: str, order: OrderRequest) -> OrderState:
        sent = (order.symbol, order.side, order.quantity, order.limit_price)
        self.sent.setdefault(account, []).append(sent)
        return self.inner.submit(account, order)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _day(rng: random.Random, n: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, float]]]:
    """One generated rebalance day: (account, portfolio, prices) for account `acct-n`."""
    symbols = [f"S{n}X{k}" for k in range(rng.randint(2, 4))]
    prices = {s: {"price": rng.randint(500, 40000) / 100} for s in symbols}
    for p in prices.values():
        p["previous_close"] = p["price"]
    fractional = rng.random() < 0.4
    scale = rng.choice([1, 10, 100])  # small accounts too: there a buy of a share or two shrinks to nothing
    held = {
        s: (rng.randint(0, 300 * scale) / 100 if fractional else rng.randint(0, 3 * scale)) for s in symbols
    }
    account = {"cash": rng.randint(0, 20000 * scale) / 100, "positions": {s: q for s, q in held.items() if q}}
    weights = [rng.random() for _ in symbols]
    total = sum(weights) / rng.choice([1, 0.995, 0.98])  # often no cash held back: no room for a surprise
    trading: dict[str, Any] = {
        "bands": {"absolute": rng.choice([0.0, 0.01, 0.03]), "relative": None},
        "min_trade_notional": rng.choice([0, 50, 250, 1000, 2500]),
        "use_sale_proceeds": rng.random() < 0.8,
    }
    if fractional:
        trading.update(fractional=True, quantity_step=rng.choice([0.001, 0.01, 0.1]))
    targets = {s: round(w / total, 4) for s, w in zip(symbols, weights, strict=True)}
    portfolio = {
        "apiVersion": "reconciler.dev/v1", "kind": "Portfolio", "metadata": {"name": f"day-{n}"},
        "spec": {"account": f"acct-{n}", "targets": targets, "cash": round(1 - sum(targets.values()), 4),
                 "trading": trading},
    }
    return account, portfolio, prices


def _workspace(root: Path, rng: random.Random, first: int, limit: bool, per_order: float) -> Path:
    """A paper workspace holding DAYS_PER_RUN generated days, one account and portfolio each."""
    (root / "portfolios").mkdir(parents=True)
    shutil.copytree(REPO / "policies", root / "policies")
    config = yaml.safe_load((REPO / "reconciler.yaml").read_text())
    accounts, prices = {}, {}
    for n in range(first, first + DAYS_PER_RUN):
        account, portfolio, day_prices = _day(rng, n)
        accounts[f"acct-{n}"] = account
        prices.update(day_prices)
        (root / "portfolios" / f"day-{n}.yaml").write_text(yaml.safe_dump(portfolio))
    # Fills at the quote, commissions in whole cents: the paper broker's tick and cent rounding then change
    # nothing, so the cash both paths budget with is the same to the cent.
    config["broker"].update(slippage_bps=0, settlement_days=0, commission={"per_order": per_order},
                            accounts=accounts, prices={"static": prices})
    config["apply"].update(order_type="limit" if limit else "market", quote_band=0.25)
    config["policies"]["params"].update(max_order_fraction=1, max_turnover=100, max_volume_fraction=1)
    config["policies"]["enforcement"] = {}
    if PG_ADMIN_URL:
        config["journal"]["url"] = fresh_journal_url(root)
    path = root / "reconciler.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


Sent = dict[str, list[Order]]  # account → its orders, in the order sent


def _replay(root: Path, seed: int, limit: bool, per_order: int) -> tuple[Sent, Sent, set[str]]:
    """(orders apply sent, orders the backtest's loop sends, kinds of the backtest's events), for one run."""
    rng = random.Random(seed)
    rt = Runtime(_workspace(root, rng, seed * 100, limit, per_order))
    plan = make_plan(rt)
    paper = rt.broker
    assert isinstance(paper, PaperBroker)
    # Between plan and apply, within the quote band, what is sold falls and what is bought rises (mostly): the
    # sells raise less than the plan expected and the buys cost more, so buys are shrunk or skipped.
    moves = {a.symbol: (-1 if a.side == "sell" else 1) for pp in plan.portfolios for a in pp.actions}
    for symbol, p in list(paper.prices.items()):
        drift = Decimal(rng.randint(-10, 150)) / 1000 * moves.get(symbol, 1)
        paper.prices[symbol] = Price((p.price * (1 + drift)).quantize(Decimal("0.01")), p.previous_close)
    replayed: dict[str, list[Order]] = {}
    kinds: set[str] = set()
    for pp in plan.portfolios:
        quotes = paper.quotes(pp.account, [a.symbol for a in pp.actions])
        cash = paper.observe(pp.account, []).cash_settled
        trading = rt.workspace.by_name[pp.name].trading
        day = send_orders(pp.actions, quotes, cash, trading, FillModel(rt.costs))
        kinds |= {kind for kind, _ in day.events}
        if day.sent:
            replayed[pp.account] = day.sent
    recording = _Recording(paper)
    result = apply_plan(plan, WithBroker(rt, recording), actor="test")
    assert result.refused == {}, result.refused
    return recording.sent, replayed, kinds


# (seed, limit orders, commission per order)
CORPUS = [(1, True, 0), (2, False, 1), (3, True, 1), (4, False, 0)]


def test_apply_and_the_backtest_send_the_same_orders(tmp_path: Path) -> None:
    kinds: set[str] = set()
    for seed, limit, per_order in CORPUS:
        sent, replayed, seen = _replay(tmp_path / f"run-{seed}", seed, limit, per_order)
        assert sent == replayed, f"seed {seed}"
        kinds |= seen
    # The corpus is not all plain days: buys shrunk for want of cash, and buys skipped, are both on it.
    assert {"shrunk", "skipped"} <= kinds, kinds
