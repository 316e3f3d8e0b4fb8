"""Invariants of the backtest engine on random price paths (hypothesis): the books add up, cash is never
negative, never-rebalance is buy-and-hold, and without costs trading neither makes nor loses money."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.backtest.data import PriceTable
from reconciler.backtest.engine import Settings, StrategyRun, run_strategy
from reconciler.backtest.strategies import parse_strategy
from reconciler.core.models import CostModel, Desired
from reconciler.core.rules import Bands, Commission, Trading
from tests.builders import desired

SPECS = [
    "never",
    "calendar:monthly",
    "calendar:quarterly",
    "threshold:abs=0.03",
    "threshold:rel=0.2,trade=all",
    "calendar-threshold:monthly,rel=0.1",
    "opportunistic",
    "buy-only",
]
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Case:
    desired: Desired
    prices: PriceTable
    spec: str
    settings: Settings

    def run(self) -> StrategyRun:
        return run_strategy(self.desired, self.prices, parse_strategy(self.spec, self.desired.trading.bands),
                            self.settings)


@st.composite
def cases(draw: st.DrawFn, *, costs: bool = True, flows: bool = True, taxes: bool = True) -> Case:
    n = draw(st.integers(1, 5))
    days = draw(st.integers(2, 400))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    start = np.datetime64("2001-01-01") + np.timedelta64(draw(st.integers(0, 3000)), "D")
    dates = np.busday_offset(start, np.arange(days), roll="forward")
    vol = draw(st.sampled_from([0.005, 0.02, 0.06]))
    closes = draw(st.sampled_from([1.0, 20.0, 300.0])) * np.exp(
        np.cumsum(rng.normal(0, vol, (days, n)), axis=0)
    )
    symbols = tuple(f"S{i}" for i in range(n))
    cuts = sorted(draw(st.lists(st.integers(1, 99), min_size=n, max_size=n)))
    cash_part = draw(st.sampled_from([0, 0, 2, 5]))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
    raw = [Decimal(p) for p in parts[1:]]
    scale = (Decimal(100) - cash_part) / sum(raw)
    targets = {s: (r * scale / 100).quantize(Decimal("0.0001")) for s, r in zip(symbols, raw, strict=True)}
    cash = Decimal(1) - sum(targets.values(), Decimal(0))
    step = draw(st.sampled_from([None, Decimal("0.001"), Decimal("1")]))
    trading = Trading(
        bands=Bands(absolute=Decimal("0.05"), relative=Decimal("0.25")),
        fractional=step != Decimal(1),
        quantity_step=step,
        min_trade_notional=Decimal(draw(st.sampled_from([0, 0, 25]))),
        order_sizing=draw(st.sampled_from(["target", "net_of_costs"])),
    )
    target = desired(targets, cash, name="p", account="a", source="t", trading=trading)
    model = CostModel()
    if costs and draw(st.booleans()):
        model = CostModel(
            slippage_bps=Decimal(draw(st.integers(0, 30))),
            commission=Commission(
                per_order=Decimal(draw(st.integers(0, 5))),
                per_share=Decimal(draw(st.integers(0, 2))).scaleb(-2),
                bps=Decimal(draw(st.integers(0, 20))),
            ),
        )
    contribution = Decimal(draw(st.sampled_from([0, 0, 500, -300]))) if flows else Decimal(0)
    rates = (Decimal(0), Decimal(0))
    if taxes and draw(st.booleans()):
        rates = (Decimal("0.37"), Decimal("0.2"))
    run_settings = Settings(
        initial_cash=Decimal(draw(st.sampled_from([1000, 25_000, 1_000_000]))),
        contribution=contribution,
        contribution_every=draw(st.sampled_from(["monthly", "quarterly"])),
        costs=model,
        lot_method=draw(st.sampled_from(["fifo", "hifo"])),
        tax_short=rates[0],
        tax_long=rates[1],
    )
    prices = PriceTable(dates, symbols, np.ascontiguousarray(closes), "synthetic")
    return Case(target, prices, draw(st.sampled_from(SPECS)), run_settings)


@PROPS
@given(cases())
def test_books_add_up_cash_never_negative_and_lots_match_positions(case: Case) -> None:
    """final value = cash in - cash out - taxes + realized + unrealized gains, exactly; lots sum to
    positions."""
    run = case.run()
    s = case.settings
    assert run.cash >= 0
    assert (1 - run.weights.sum(axis=1) >= -1e-9).all()  # cash weight, every day
    last = case.prices.closes[-1]
    unrealized = Decimal(0)
    for j, sym in enumerate(run.symbols):
        lots = run.book.open_lots(sym)
        assert sum((lot.quantity for lot in lots), Decimal(0)) == run.positions.get(sym, Decimal(0))
        price = Decimal(repr(float(last[j])))
        unrealized += sum((lot.quantity * (price - lot.unit_cost) for lot in lots), Decimal(0))
    realized = sum((y.short + y.long for y in run.book.years.values()), Decimal(0))
    expected = s.initial_cash + run.contributed - run.withdrawn - run.taxes_paid + realized + unrealized
    assert abs(run.final_value - expected) <= Decimal("1e-6") * max(Decimal(1), abs(expected))


@PROPS
@given(cases(costs=False, flows=False, taxes=False))
def test_without_costs_trading_neither_makes_nor_loses_money(case: Case) -> None:
    """Each day's return is what yesterday's closing weights earned: a rebalance at the close changes the mix,
    never the value (the zero-cost equity identity)."""
    run = case.run()
    closes = case.prices.closes
    rel = closes[1:] / closes[:-1]
    w = run.weights[:-1]
    expected = (w * rel).sum(axis=1) + (1 - w.sum(axis=1))
    actual = run.equity[1:] / run.equity[:-1]
    assert np.allclose(actual, expected, rtol=1e-9, atol=0)
    assert abs(float(run.final_value) - run.equity[-1]) <= 1e-6 * run.equity[-1]


@PROPS
@given(cases(flows=False, taxes=False))
def test_never_rebalancing_is_buy_and_hold(case: Case) -> None:
    """After the first day's purchase nothing trades: the account is the day-0 holdings at each day's
    close."""
    case = Case(case.desired, case.prices, "never", case.settings)
    run = case.run()
    q = np.array([float(run.positions.get(s, 0)) for s in run.symbols])
    held = case.prices.closes @ q + float(run.cash)
    assert np.allclose(run.equity, held, rtol=1e-12)
    assert run.rebalances == 0
    assert run.orders <= len(run.symbols)


@PROPS
@given(cases(flows=False, taxes=False))
def test_every_dollar_lost_to_trading_is_a_cost(case: Case) -> None:
    """With costs and no cash flows, the value that trades take away, day by day, adds up to commissions plus
    slippage."""
    run = case.run()
    closes = case.prices.closes
    w = run.weights[:-1]
    pre = run.equity[:-1] * ((w * (closes[1:] / closes[:-1])).sum(axis=1) + (1 - w.sum(axis=1)))
    lost = float(case.settings.initial_cash) - run.equity[0] + float((pre - run.equity[1:]).sum())
    assert abs(lost - float(run.costs)) <= 1e-6 * max(1.0, float(case.settings.initial_cash))


def test_an_account_emptied_by_withdrawals_is_measured_while_it_had_money() -> None:
    # The figures of a run whose withdrawals empty the account equal those of the same run cut at the day it
    # emptied: the empty days after it are not days of zero return.
    import pandas as pd
    import pytest

    from reconciler.backtest.data import from_frame
    from reconciler.backtest.metrics import compute, live_days

    rng = np.random.default_rng(5)
    days = pd.bdate_range("2020-01-01", periods=400)
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, size=(len(days), 2)), axis=0))
    frame = pd.DataFrame({"date": days, "AAA": closes[:, 0], "BBB": closes[:, 1]})
    target = desired({"AAA": "0.5", "BBB": "0.5"}, name="p", account="a", source="t",
                     trading=Trading(fractional=True, quantity_step=Decimal("0.0001")))
    settings = Settings(
        initial_cash=Decimal(10000), contribution=Decimal(-1500), contribution_every="monthly"
    )
    strategy = parse_strategy("calendar:quarterly", Bands())

    def run(rows: int) -> tuple[int, dict[str, object]]:
        r = run_strategy(target, from_frame(frame.iloc[:rows].copy(), "t", None), strategy, settings)
        return live_days(r), compute(r).as_dict()

    n, whole = run(len(days))
    assert n < len(days)
    assert whole["final_value"] == 0
    cut_n, cut = run(n)
    assert cut_n == n
    for key in ("cagr", "volatility", "sharpe", "max_drawdown", "avg_deviation", "max_deviation"):
        assert whole[key] == pytest.approx(cut[key], rel=1e-12, abs=1e-12), key
