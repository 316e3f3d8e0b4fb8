"""Builders of the planner's inputs (Desired, Observation, Quote) shared by the tests.

One place knows how these models are spelled, so a test states only what matters to it. Numbers may be given
as str, int or Decimal (each becomes Decimal(value), so "0.40" keeps its spelling); never as float. The
defaults are those of the planner's worked examples (tests/core/test_planner_examples.py), the most frequent
caller: a portfolio "example" on account "acct", observed at NOW with no cash and quotes dated when observed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from reconciler.core.models import (
    Action,
    Desired,
    Holding,
    Observation,
    Plan,
    PolicyResult,
    PortfolioPlan,
    Quote,
    Side,
    TargetChange,
)
from reconciler.core.rules import SymbolRule, Trading

Num = Decimal | str | int
NOW = datetime(2024, 1, 2, 15, 30, tzinfo=UTC)
ZERO = Decimal(0)
EQUITY = Decimal(100000)  # of every portfolio plan_of builds


def desired(
    targets: Mapping[str, Num],
    cash: Num = ZERO,
    *,
    name: str = "example",
    account: str = "acct",
    source: str = "test",
    trading: Trading | None = None,
    symbols: Mapping[str, SymbolRule] | None = None,
) -> Desired:
    """A portfolio's resolved targets, as the loader would give them: weights by symbol and the cash weight.

    trading defaults to Trading() (5/25 bands, whole shares) and symbols to no per-symbol rules, as in a YAML
    file that leaves them out."""
    return Desired(
        name=name,
        account=account,
        source=source,
        targets={s: Decimal(w) for s, w in targets.items()},
        cash=Decimal(cash),
        trading=trading or Trading(),
        symbols=dict(symbols or {}),
    )


def quote(
    symbol: str,
    price: Num,
    *,
    as_of: datetime = NOW,
    previous_close: Num | None = None,
    daily_volume: Num | None = None,
) -> Quote:
    """A validated quote; the previous close and volume are left unknown unless given (the valuation and order
    size checks judge them only when present)."""
    return Quote(
        symbol=symbol,
        price=Decimal(price),
        previous_close=None if previous_close is None else Decimal(previous_close),
        as_of=as_of,
        daily_volume=None if daily_volume is None else Decimal(daily_volume),
    )


def observation(
    prices: Mapping[str, Num] | None = None,
    positions: Mapping[str, Num] | None = None,
    *,
    settled: Num = ZERO,
    unsettled: Num = ZERO,
    reserved: Num = ZERO,
    account: str = "acct",
    taken_at: datetime = NOW,
    quotes: Mapping[str, Quote] | None = None,
    quote_source: str | None = None,
) -> Observation:
    """What a broker reports for one account: positions, cash by kind, and a quote per symbol.

    prices are plain last prices, quoted at taken_at (a fresh quote, nothing doubtful about it); pass quotes
    instead where a test needs more of a quote (a previous close, a volume, an age, a price no validation
    accepts)."""
    if prices is not None and quotes is not None:
        raise ValueError("give prices or quotes, not both")
    if quotes is None:
        quotes = {s: quote(s, p, as_of=taken_at) for s, p in (prices or {}).items()}
    return Observation(
        account=account,
        taken_at=taken_at,
        positions={s: Decimal(q) for s, q in (positions or {}).items()},
        cash_settled=Decimal(settled),
        cash_unsettled=Decimal(unsettled),
        cash_reserved=Decimal(reserved),
        quotes=dict(quotes),
        quote_source=quote_source,
    )


def emulator_fees(emu: Any, key: str) -> Decimal:
    """What an emulator account owes in regulatory fees now, pending or posted (its FEE activities)."""
    from reconciler.emulator.fees import pending

    acct = emu.accounts[key]
    posted = sum(
        (-Decimal(a["net_amount"]) for a in acct.activities if a["activity_type"] == "FEE"), Decimal(0)
    )
    return posted + pending(acct, emu.fee_rates)


def plan_of(
    orders: Mapping[str, Mapping[str, tuple[Side, Decimal]]], *, targets_hash: str = "t" * 64,
    equity: Decimal = EQUITY,
    hashes: dict[str, str] | None = None, changed: tuple[str, ...] = (),
) -> Plan:
    """A plan whose portfolios place exactly these orders (portfolio → symbol → (side, notional))."""
    portfolios = []
    for name, symbols in sorted(orders.items()):
        actions = [
            Action(i, s, side, Decimal(1), n, n, ZERO, "underweight" if side == "buy" else "overweight")
            for i, (s, (side, n)) in enumerate(sorted(symbols.items()), start=1)
        ]
        buys = sum((a.notional for a in actions if a.side == "buy"), ZERO)
        sells = sum((a.notional for a in actions if a.side == "sell"), ZERO)
        portfolios.append(
            PortfolioPlan(
                name=name, account=f"acct-{name}", equity=equity, cash_before=ZERO, cash_after=ZERO,
                cash_weight_before=ZERO, cash_weight_target=ZERO, cash_weight_after=ZERO, buy_notional=buys,
                sell_notional=sells, turnover=(buys + sells) / equity, actions=actions, holdings=[],
                observation=observation(account=f"acct-{name}", taken_at=NOW),
            )
        )
    return Plan(
        reconciler_version="test", created_at=NOW, targets_hash=targets_hash, portfolio_hashes=hashes or {},
        target_changes=[TargetChange(portfolio=n, account=f"acct-{n}", change="changed") for n in changed],
        config_accounts=sorted(f"acct-{n}" for n in orders), portfolios=portfolios, content_hash="c" * 64,
    )


def planned(
    pairs: list[tuple[Desired, Observation]], *, results: list[PolicyResult] | None = None, **fields: Any
) -> Plan:
    """A sealed plan the planner makes of these portfolios and observations (no costs), with the built-in
    valuation denials of the portfolios it blocks, then `results`; `fields` set the plan's other fields
    (base_commit, target_changes, overrides)."""
    from reconciler.core.models import CostModel
    from reconciler.core.plan import reseal, seal
    from reconciler.core.planner import plan_many
    from reconciler.core.valuation import valuation_denials

    pps = plan_many(pairs, CostModel())
    verdicts = [r for pp in pps for r in valuation_denials(pp.name, pp.blocked)]
    plan = seal(pps, created_at=NOW, targets_hash="t" * 64, accounts=[d.account for d, _ in pairs],
                policy_results=[*verdicts, *(results or [])])
    return reseal(plan, **fields) if fields else plan


D = Decimal


def holding(symbol: str, before: str, after: str, target: str, band: str = "0.05", rule: str = "") -> Holding:
    """One line of a plan's weights table: weights now, after and targeted, as text."""
    return Holding(
        symbol=symbol,
        price=D(100),
        quantity_before=D(1),
        quantity_after=D(1),
        weight_before=D(before),
        weight_target=D(target),
        weight_after=D(after),
        band=D(band),
        rule=rule,
    )  # type: ignore[arg-type]


def portfolio(
    name: str, *, actions: Sequence[Action] = (), holdings: Sequence[Holding] = (), notes: Sequence[str] = (),
    blocked: Sequence[str] = (), quote_source: str | None = None,
) -> PortfolioPlan:
    """A planned portfolio with these orders, weights and notes, valued at 10,000 (for the renderers)."""
    buys = sum((a.notional for a in actions if a.side == "buy"), D(0))
    sells = sum((a.notional for a in actions if a.side == "sell"), D(0))
    return PortfolioPlan(
        name=name, account=f"acct-{name}", equity=D(10000), cash_before=D(100),
        cash_after=D(100) + sells - buys,
        cash_weight_before=D("0.01"), cash_weight_target=D(0),
        cash_weight_after=(D(100) + sells - buys) / 10000,
        buy_notional=buys, sell_notional=sells, turnover=(buys + sells) / 10000, actions=list(actions),
        holdings=list(holdings), notes=list(notes), blocked=list(blocked),
        observation=observation(settled=100, account=f"acct-{name}", taken_at=NOW, quote_source=quote_source),
    )


def sealed(*portfolios: PortfolioPlan, results: Sequence[PolicyResult] = (), **git: Any) -> Plan:
    """A sealed plan of these portfolios and policy results (`git`: its git fields)."""
    from reconciler.core.plan import seal

    return seal(
        list(portfolios),
        created_at=NOW,
        targets_hash="t" * 64,
        accounts=[p.account for p in portfolios],
        policy_results=list(results),
        **git,
    )


def price_csv(
    path: Path, symbols: Sequence[str], days: int = 800, *, seed: int = 7, start: str = "2020-01-02"
) -> Path:
    """A CSV of daily closes on weekdays from `start`: a random walk per symbol (about 8% a year up, 16% a
    year of volatility), the same for the same seed; returns the path."""
    import math
    import random
    from datetime import date, timedelta

    rng = random.Random(seed)
    day, prices = date.fromisoformat(start), [100.0] * len(symbols)
    rows = ["date," + ",".join(symbols)]
    while len(rows) <= days:
        if day.weekday() < 5:
            prices = [p * math.exp(rng.gauss(0.0003, 0.01)) for p in prices]
            rows.append(day.isoformat() + "," + ",".join(f"{p:.4f}" for p in prices))
        day += timedelta(days=1)
    path.write_text("\n".join(rows) + "\n")
    return path


@dataclass(frozen=True)
class WithBroker:
    """A runtime's services with another broker (a test's wrapper over the real one, to inject a fault or
    record the sends): the seam by which a test swaps the broker, never by writing into the runtime's
    `__dict__`."""

    services: Any
    broker: Any

    def __getattr__(self, name: str) -> Any:
        return getattr(self.services, name)
