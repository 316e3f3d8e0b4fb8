"""The paper-broker part of bench/apply_scale.py: 500 accounts × 10 orders applied on SQLite in each mode, and
the journal + policy CPU per order measured in this process."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from apply_common import (
    ORDERS_PER_ACCOUNT,
    ROOT,
    Run,
    cli,
    problem,
    write_paper_config,
    write_portfolios,
)


@dataclass
class PaperRun:
    mode: str
    plan: Run
    apply: Run | None
    orders: int
    filled: int
    duplicates: int


def paper_check(root: Path, n: int, timeout: float) -> list[PaperRun]:
    root.mkdir(parents=True, exist_ok=True)
    write_portfolios(root, n)
    env = dict(os.environ)
    runs = []
    modes: list[tuple[str, list[str]]] = [("apply PLAN --auto-approve", [])] + [
        (f"apply PLAN --all --workers {w}", ["--all", "--workers", str(w)]) for w in (1, os.cpu_count() or 1)
    ]
    for mode, extra in modes:
        tag = "paper-" + (f"all-{extra[-1]}" if extra else "single")
        if any(r.mode == mode for r in runs):
            continue  # one core: the two --all modes are the same
        db = root / f"{tag}.db"
        write_paper_config(root, f"sqlite:///{db}", n)
        plan_file = root / f"plan-{tag}.json"
        plan = cli(root, f"{tag}.plan", ["plan", "--config", "reconciler.yaml", "--out", str(plan_file)], env,
                   timeout)
        if plan.code != 0:
            problem(f"paper ({mode}): plan {plan.status()}\n{plan.tail()}")
            runs.append(PaperRun(mode, plan, None, 0, 0, 0))
            continue
        apply = cli(
            root,
            f"{tag}.apply",
            ["apply", "--config", "reconciler.yaml", str(plan_file), "--auto-approve", *extra],
            env,
            timeout,
        )
        orders = filled = dups = 0
        if db.exists():
            with contextlib.closing(sqlite3.connect(db)) as c, contextlib.suppress(sqlite3.Error):
                orders, filled, distinct = c.execute(
                    "SELECT count(*), sum(status = 'filled'), count(DISTINCT client_order_id) FROM"
                    " paper_orders"
                ).fetchone()
                filled = filled or 0
                dups = orders - distinct
        runs.append(PaperRun(mode, plan, apply, orders, filled, dups))
        want = n * ORDERS_PER_ACCOUNT
        if apply.code != 0:
            problem(f"paper ({mode}): apply {apply.status()}; {orders}/{want} orders"
                    f"\n{apply.tail()}")
        elif orders != want or dups:
            problem(f"paper ({mode}): apply exited 0 but the books hold {orders}/{want} orders, {dups}"
                    " duplicates")
    return runs


@dataclass
class Overhead:
    # CPU per order: the intent before the send, the broker's answer after (two transactions)
    journal_ms: float
    policy_ms: float  # CPU per order: the shipped policies judging a portfolio's 10 orders together, over 10
    bare_ms: float  # CPU per order: the same two commits through the bare DB-API driver, no journal code


def overhead(url: str, orders: int = 2000) -> Overhead:
    """Journal and policy CPU per order, measured in this process (process_time), with a bare baseline."""
    from reconciler.brokers.base import OrderState
    from reconciler.core.models import CostModel, Desired, Observation, Quote
    from reconciler.core.planner import plan_portfolio
    from reconciler.core.rules import Trading
    from reconciler.journal.store import Journal
    from reconciler.policy.engine import load_policies
    from reconciler.policy.inputs import policy_input
    from reconciler.workspace.models import PolicyParams

    journal = Journal.open(url)
    apply_id = journal.start_apply("p" * 64, "t" * 64, None, "bench")
    t0 = time.process_time()
    for i in range(orders):
        cid = f"rc-bench-{i:06d}"
        journal.add_intent(apply_id=apply_id, plan_hash="p" * 64, portfolio="p", account="a", leg=i,
                           client_order_id=cid, symbol="S0001", side="buy", quantity=Decimal(10),
                           est_price=Decimal("100.5"), status="submitting")
        journal.record_state("a", OrderState(client_order_id=cid, broker_order_id=f"b{i}", symbol="S0001",
                                             side="buy", quantity=Decimal(10), filled_quantity=Decimal(10),
                                             avg_price=Decimal("100.52"), commission=Decimal("0.05"),
                                             status="filled"), apply_id)
    journal_ms = (time.process_time() - t0) / orders * 1000
    raw = journal.engine.raw_connection()
    cur = raw.cursor()
    mark = "%s" if journal.engine.dialect.name == "postgresql" else "?"
    t0 = time.process_time()
    for i in range(orders):
        for _ in range(2):  # the intent's transaction, then the answer's
            cur.execute(f"UPDATE intents SET status = {mark} WHERE client_order_id = {mark}",
                        ("filled", f"rc-bench-{i:06d}"))
            raw.commit()
    bare_ms = (time.process_time() - t0) / orders * 1000
    raw.close()
    journal.engine.dispose()

    policies = load_policies(ROOT / "policies", {}, "hard-mandatory")
    at = datetime.now(UTC)
    symbols = [f"S{k:04d}" for k in range(ORDERS_PER_ACCOUNT)]
    quotes = {
        sym: Quote(symbol=sym, price=Decimal(10), previous_close=Decimal(10), as_of=at) for sym in symbols
    }
    desired = Desired(
        name="p",
        account="a",
        source="bench",
        targets={sym: Decimal("0.099") for sym in symbols},
        cash=Decimal("0.01"),
        trading=Trading(),
    )
    obs = Observation(account="a", taken_at=at, positions={}, cash_settled=Decimal(100_000), quotes=quotes)
    pp = plan_portfolio(desired, obs, CostModel())
    assert len(pp.actions) == ORDERS_PER_ACCOUNT
    doc = policy_input(pp, PolicyParams(max_turnover=Decimal(2)), phase="apply", now=at)
    rounds = 100
    t0 = time.process_time()
    for _ in range(rounds):
        policies.evaluate(doc, "p")
    policy_ms = (time.process_time() - t0) / rounds / ORDERS_PER_ACCOUNT * 1000
    return Overhead(journal_ms, policy_ms, bare_ms)
