"""Execution costs learned from the journal's own fills: realised slippage against the quote seen at the send,
commission per order and per share, and fill latency, per broker and symbol class, each with a 95% interval.

Pure: the journal reads the fills (journal/costs.py), this fits them, `reconciler costs` shows the fit and
`backtest --costs-from-journal` runs on it. The intervals are Student-t intervals of a mean (and of the two
coefficients of a least-squares line for the commission): deterministic, so the same journal always prints the
same figures, unlike a bootstrap's resampling, and sound for the sample sizes the fit demands (MIN_FILLS) when
the per-fill figures are roughly symmetric about their mean. Heavy tails (a few huge slippages) widen the
interval honestly rather than hiding in a resample.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from reconciler.errors import CostsFitError

MIN_FILLS = 30  # below this a t-interval of skewed per-fill costs is not trustworthy: refuse to fit
FLOOR = 10  # the least --min-fills may ask for: fewer fills give an interval too wide to run a backtest on
BPS = 10_000


@dataclass(frozen=True)
class ObservedFill:
    """One fill as the journal recorded it, with its order's intent: the quote it was sent at and when."""

    account: str
    client_order_id: str
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    commission: Decimal  # cash value of every fee of the fill (a fee in kind valued at the fill's price)
    quote: Decimal  # the quote the order was sent at (the intent's price)
    sent_at: datetime  # the intent journaled just before the send
    filled_at: datetime

    @property
    def slippage_bps(self) -> float:
        """What the fill cost against the quote, in basis points: positive is worse (paid more, got less)."""
        sign = 1 if self.side == "buy" else -1
        return float(sign * (self.price - self.quote) / self.quote * BPS)


@dataclass(frozen=True)
class Estimate:
    """A fitted figure with its 95% interval and the number of observations behind it."""

    value: float
    low: float
    high: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        """The estimate and its interval by name, for the JSON output."""
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n}


@dataclass(frozen=True)
class Fit:
    """Costs of one broker and symbol class, fitted from its fills; `refused` says why there is no fit."""

    broker: str
    symbol_class: str
    fills: int
    orders: int
    first: datetime | None = None
    last: datetime | None = None
    slippage_bps: Estimate | None = None
    commission_per_order: Estimate | None = None
    commission_per_share: Estimate | None = None
    latency_seconds: Estimate | None = None
    notes: tuple[str, ...] = ()
    refused: str | None = None

    def model(self) -> tuple[Decimal, Decimal, Decimal]:
        """(slippage bps, commission per order, per share) for a cost model: never below zero (a backtest
        credited with price improvement or rebates it may not get again would flatter every rule)."""
        if self.refused:
            raise ValueError(f"no fit for {self.broker} {self.symbol_class}: {self.refused}")
        return (
            _at_least_zero(self.slippage_bps, "0.01"),
            _at_least_zero(self.commission_per_order, "0.0001"),
            _at_least_zero(self.commission_per_share, "0.000001"),
        )

    def as_dict(self) -> dict[str, object]:
        """The fit's figures by name, for the JSON output."""
        figures = {
            k: None if e is None else e.as_dict()
            for k, e in (
                ("slippage_bps", self.slippage_bps),
                ("commission_per_order", self.commission_per_order),
                ("commission_per_share", self.commission_per_share),
                ("latency_seconds", self.latency_seconds),
            )
        }
        return {
            "broker": self.broker,
            "symbol_class": self.symbol_class,
            "fills": self.fills,
            "orders": self.orders,
            "first": None if self.first is None else self.first.isoformat(),
            "last": None if self.last is None else self.last.isoformat(),
            **figures,
            "notes": list(self.notes),
            "refused": self.refused,
        }


def _at_least_zero(e: Estimate | None, step: str) -> Decimal:
    if e is None:
        raise ValueError("a fit without this figure")
    return Decimal(repr(max(0.0, e.value))).quantize(Decimal(step))


def t_within(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with `df` degrees of freedom: the closed form for whole degrees of freedom
    (Abramowitz & Stegun 26.7.3-4), so the core needs no scipy."""
    theta = math.atan(t / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    term, total = 1.0, 1.0
    for k in range(2 if df % 2 else 1, df - 1, 2):  # odd df: 2/3, 2·4/3·5, ...; even df: 1/2, 1·3/2·4, ...
        term *= c2 * k / (k + 1)
        total += term
    if df % 2 == 0:
        return math.sin(theta) * total
    tail = math.sin(theta) * math.cos(theta) * total if df > 1 else 0.0
    return 2 / math.pi * (theta + tail)


def t_quantile(df: int) -> float:
    """The 97.5% quantile of Student's t with `df` degrees of freedom, by bisection of t_within to 1e-12."""
    low, high = 0.0, 1000.0
    while high - low > 1e-12:
        mid = (low + high) / 2
        low, high = (mid, high) if t_within(mid, df) < 0.95 else (low, mid)
    return (low + high) / 2


def mean_interval(values: Sequence[float]) -> Estimate:
    """The sample mean with its 95% Student-t interval (needs two values)."""
    n = len(values)
    mean = math.fsum(values) / n
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in values) / (n - 1))
    half = t_quantile(n - 1) * sd / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n)


def line_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[Estimate, Estimate] | None:
    """Least squares y = a + b·x with 95% t-intervals of a and b; None when every x is the same (no slope)."""
    n = len(xs)
    mx, my = math.fsum(xs) / n, math.fsum(ys) / n
    if len(set(xs)) == 1:
        return None
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    b = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    a = my - b * mx
    s2 = math.fsum((y - a - b * x) ** 2 for x, y in zip(xs, ys, strict=True)) / (n - 2)
    t = t_quantile(n - 2)
    se_b = math.sqrt(s2 / sxx)
    se_a = math.sqrt(s2 * (1 / n + mx * mx / sxx))
    return Estimate(a, a - t * se_a, a + t * se_a, n), Estimate(b, b - t * se_b, b + t * se_b, n)


def fit(
    fills: Iterable[ObservedFill],
    group: Callable[[ObservedFill], tuple[str, str]],
    min_fills: int = MIN_FILLS,
) -> list[Fit]:
    """One Fit per (broker, symbol class) that `group` names, ordered by them; a group with fewer than
    `min_fills` fills (FLOOR at least), or fewer than three orders, is refused, never fitted on too little."""
    groups: dict[tuple[str, str], list[ObservedFill]] = {}
    for f in fills:
        groups.setdefault(group(f), []).append(f)
    return [_fit_group(key, rows, max(min_fills, FLOOR)) for key, rows in sorted(groups.items())]


def _fit_group(key: tuple[str, str], rows: list[ObservedFill], min_fills: int) -> Fit:
    orders: dict[str, list[ObservedFill]] = {}
    for f in rows:
        orders.setdefault(f.client_order_id, []).append(f)
    first, last = min(f.filled_at for f in rows), max(f.filled_at for f in rows)
    base = Fit(key[0], key[1], len(rows), len(orders), first, last)
    if len(rows) < min_fills or len(orders) < 3:
        return replace(
            base,
            refused=f"too few fills to fit: {len(rows)} fills of {len(orders)} orders, at least"
            f" {min_fills} fills of 3 orders needed",
        )
    notes: list[str] = []
    shares = [float(sum((f.quantity for f in fs), Decimal(0))) for fs in orders.values()]
    paid = [float(sum((f.commission for f in fs), Decimal(0))) for fs in orders.values()]
    line = line_fit(shares, paid)
    if line is None:  # every order the same size: per order and per share cannot be told apart
        per_order = mean_interval(paid)
        per_share = Estimate(0.0, 0.0, 0.0, len(paid))
        notes.append("every order had the same quantity: its whole commission is counted per order")
    else:
        per_order, per_share = line
    latency = mean_interval([(f.filled_at - f.sent_at).total_seconds() for f in rows])
    return replace(
        base,
        slippage_bps=mean_interval([f.slippage_bps for f in rows]),
        commission_per_order=per_order,
        commission_per_share=per_share,
        latency_seconds=latency,
        notes=tuple(notes),
    )


# What class of symbol each broker kind the project ships trades: the journal records neither the broker nor
# the asset class of an order, so both come from the account's broker in reconciler.yaml. The Alpaca adapter
# lists us_equity assets only (brokers/alpaca.py); the paper broker models a stock broker (whole or fractional
# shares).
SYMBOL_CLASS = {"paper": "equity", "alpaca": "equity", "ccxt": "crypto"}
UNKNOWN = "unknown"


def grouping(broker_kind: str, accounts: Iterable[str]) -> Callable[[ObservedFill], tuple[str, str]]:
    """(broker, symbol class) of a fill: the configured broker's for its accounts; an account reconciler.yaml
    no longer declares is `unknown`, never guessed (its fills may be another broker's)."""
    known = frozenset(accounts)
    kind_class = (broker_kind, SYMBOL_CLASS.get(broker_kind, UNKNOWN))

    def key(f: ObservedFill) -> tuple[str, str]:
        return kind_class if f.account in known else (UNKNOWN, UNKNOWN)

    return key


def chosen(fits: Sequence[Fit], broker_kind: str, where: str) -> Fit:
    """The fit of the configured broker's symbol class, for a backtest; CostsFitError when there is none."""
    key = (broker_kind, SYMBOL_CLASS.get(broker_kind, UNKNOWN))
    fit_ = next((f for f in fits if (f.broker, f.symbol_class) == key), None)
    if fit_ is None or fit_.refused:
        why = fit_.refused if fit_ is not None else "the journal holds no fills of its accounts"
        raise CostsFitError(
            f"no costs learned for {key[0]} {key[1]}: {why}",
            where=where,
            fix="apply more orders through this broker first, or run without --costs-from-journal (the"
            " configured cost model); `reconciler costs` shows what the journal holds",
        )
    return fit_
