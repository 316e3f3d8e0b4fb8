"""The backtester against bt and vectorbt: the same data and strategies in one process, then a scaling line.

Data: the 20 S&P 500 stocks, daily 1990-2022 (../shared/data/, or the same history from the skfolio wheel).
Strategies, configured alike in the three tools (equal weight, $1,000,000, fractional shares, no costs, trades
at the close on identical days, every holding back to target):
  monthly     first trading day of each month (bt RunMonthly; vectorbt target-percent orders on those days)
  threshold   daily: rebalance everything when a weight is 20% (relative) off target (bt
              RunIfOutOfBounds(0.2); vectorbt from_order_func with a numba pre-segment check)
Each timing is the best of --repeat runs of the whole call a user makes: ours `run_strategy` + metrics (prices
converted from the same DataFrame, so loading is included), bt `bt.run(bt.Backtest(...))` (which also computes
its statistics), vectorbt `Portfolio.from_orders/from_order_func(...).value()` after a warm-up call that
compiles its numba code (the compile time is printed separately). The final values are printed too: the three
must agree, or the comparison is void. Times are CPU seconds of this process (time.process_time): on a machine
shared with other work, wall time measures the neighbours too. Targets: at least 20x faster than bt, within 2x
of vectorbt. Writes bench/results/backtest_vs_peers.json (--days N: the last N days only, a short form).

Scaling: generated geometric random walks (seeded), assets x days up to 500 x 8,000, both strategies, ours
only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import commit_line, planted, record

from reconciler.backtest.data import from_frame
from reconciler.backtest.engine import Settings, run_strategy
from reconciler.backtest.metrics import compute
from reconciler.backtest.strategies import parse_strategy
from reconciler.core.models import Desired
from reconciler.core.rules import Bands, Trading

SHARED = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sp500_20_stocks_daily_1990_2022.csv"
)
# another checkout's shared/data (a git worktree has none beside it)
if "RECONCILER_SHARED_DATA" in os.environ:
    SHARED = Path(os.environ["RECONCILER_SHARED_DATA"]) / SHARED.name
CAPITAL = 1_000_000.0
TOLERANCE = 0.2
SPECS = {"monthly": "calendar:monthly", "threshold": "threshold:rel=0.2,trade=all"}
# bt's conventions (docs/backtest.md): fractional shares, each order closes its gap, no cash target.
ALIGNED = Trading(
    fractional=True, quantity_step=Decimal("1e-12"), order_sizing="net_of_costs", max_cost_fraction=Decimal(1)
)


def load_stocks() -> pd.DataFrame:
    if SHARED.is_file():
        return pd.read_csv(SHARED, index_col=0, parse_dates=True)
    from skfolio.datasets import load_sp500_dataset

    return load_sp500_dataset()


def best_of(repeat: int, fn: Callable[[], float]) -> tuple[float, float]:
    """(best CPU seconds, the result of the last run)."""
    times, result = [], 0.0
    for _ in range(repeat):
        t0 = time.process_time()
        result = fn()
        times.append(time.process_time() - t0)
    return min(times), result


# ---- ours ----
def ours(frame: pd.DataFrame, kind: str) -> float:
    symbols = sorted(frame.columns)
    prices = from_frame(frame.reset_index(names="date"), "frame", None).select(symbols)
    w = Decimal(1) / len(symbols)
    desired = Desired(name="b", account="b", source="bench", targets={s: w for s in symbols}, cash=Decimal(0),
                      trading=ALIGNED)
    run = run_strategy(
        desired, prices, parse_strategy(SPECS[kind], Bands()), Settings(initial_cash=Decimal(CAPITAL))
    )
    compute(run)
    return float(run.final_value)


# ---- bt ----
def with_bt(frame: pd.DataFrame, kind: str) -> float:
    import bt

    weights = {s: 1 / frame.shape[1] for s in frame.columns}
    a = bt.algos
    if kind == "monthly":
        algos = [a.RunMonthly(), a.SelectAll(), a.WeighSpecified(**weights), a.Rebalance()]
    else:
        algos = [a.SelectAll(), a.WeighSpecified(**weights), a.RunIfOutOfBounds(TOLERANCE), a.Rebalance()]
    backtest = bt.Backtest(bt.Strategy(kind, algos), frame, initial_capital=CAPITAL, integer_positions=False)
    bt.run(backtest)
    return float(backtest.strategy.values.iloc[-1])


# ---- vectorbt ----
def _vectorbt_threshold() -> tuple[Any, Any, Any]:
    from numba import njit
    from vectorbt.portfolio import nb as pnb

    @njit
    def pre_group(c: Any) -> tuple[Any]:
        return (np.empty(c.group_len, dtype=np.float64),)

    @njit
    def pre_segment(
        c: Any, order_value_out: Any, size: Any, size_type: Any, direction: Any, tol: float
    ) -> Any:
        value = c.last_cash[c.group]
        for col in range(c.from_col, c.to_col):
            c.last_val_price[col] = c.close[c.i, col]
            value += c.last_position[col] * c.close[c.i, col]
        go = c.i == 0
        for col in range(c.from_col, c.to_col):
            t = size[0, col]
            dev = (c.last_position[col] * c.close[c.i, col] / value - t) / t
            if dev > tol or dev < -tol:
                go = True
        if go:
            pnb.sort_call_seq_nb(c, size, size_type, direction, order_value_out)
        return (go,)

    @njit
    def order(c: Any, go: bool, size: Any, size_type: Any, direction: Any) -> Any:
        if not go:
            return pnb.order_nothing_nb()
        return pnb.order_nb(size=size[0, c.col], price=c.close[c.i, c.col], size_type=size_type[0, 0],
                            direction=direction[0, 0])

    return pre_group, pre_segment, order


def with_vectorbt(frame: pd.DataFrame, kind: str, funcs: tuple[Any, Any, Any]) -> float:
    import vectorbt as vbt
    from vectorbt.portfolio.enums import Direction, SizeType

    n = frame.shape[1]
    if kind == "monthly":
        month = frame.index.to_period("M")
        first = np.r_[True, month[1:] != month[:-1]]
        size = np.where(first[:, None], 1.0 / n, np.nan)
        pf = vbt.Portfolio.from_orders(
            frame,
            size,
            size_type="targetpercent",
            group_by=True,
            cash_sharing=True,
            call_seq="auto",
            init_cash=CAPITAL,
            freq="1D",
        )
    else:
        pre_group, pre_segment, order = funcs
        size = np.full((1, n), 1.0 / n)
        size_type = np.full((1, 1), SizeType.TargetPercent)
        direction = np.full((1, 1), Direction.LongOnly)
        pf = vbt.Portfolio.from_order_func(
            frame, order, size, size_type, direction,
            pre_group_func_nb=pre_group, pre_segment_func_nb=pre_segment,
            pre_segment_args=(size, size_type, direction, TOLERANCE),
            group_by=True, cash_sharing=True, init_cash=CAPITAL, freq="1D",
        )
    return float(pf.value().iloc[-1])


def compare(frame: pd.DataFrame, repeat: int, peers: tuple[str, ...] = ("bt", "vectorbt")) -> dict[str, Any]:
    """Each strategy timed in the three tools; the ratios bt/ours and ours/vectorbt."""
    funcs = _vectorbt_threshold() if "vectorbt" in peers else None
    print(f"data: {frame.shape[1]} stocks x {frame.shape[0]:,} days ({frame.index[0]:%Y-%m-%d} → "
          f"{frame.index[-1]:%Y-%m-%d}); best of {repeat} runs each, CPU seconds\n")
    print(f"{'strategy':10s} {'ours':>9s} {'bt':>9s} {'vectorbt':>9s}   {'bt/ours':>8s} {'ours/vbt':>9s}   "
          "final values (ours, bt, vectorbt)")
    rows: dict[str, Any] = {}
    for kind in SPECS:
        compile_s, t_vbt, v_vbt = 0.0, float("nan"), float("nan")
        if funcs is not None:
            t0 = time.process_time()
            with_vectorbt(frame, kind, funcs)  # compiles vectorbt's numba code once
            compile_s = time.process_time() - t0
        t_ours, v_ours = best_of(repeat, lambda k=kind: ours(frame, k))
        t_ours *= planted()
        with_bt(frame.iloc[:300], kind)  # imports bt and warms its code paths, as vectorbt's first call does
        t_bt, v_bt = best_of(max(1, repeat // 2), lambda k=kind: with_bt(frame, k))
        if funcs is not None:
            t_vbt, v_vbt = best_of(repeat, lambda k=kind: with_vectorbt(frame, k, funcs))
        values = [v for v in (v_bt, v_vbt) if v == v]
        agree = max(abs(v_ours / v - 1) for v in values)
        print(f"{kind:10s} {t_ours:8.3f}s {t_bt:8.3f}s {t_vbt:8.3f}s   {t_bt / t_ours:7.1f}x"
              f" {t_ours / t_vbt:8.2f}x   {v_ours:,.2f} {v_bt:,.2f} {v_vbt:,.2f} (agree to {agree:.1e};"
              f" vectorbt first call {compile_s:.1f}s)")
        rows[kind] = {"ours_seconds": round(t_ours, 4), "bt_seconds": round(t_bt, 4),
                      "vectorbt_seconds": None if funcs is None else round(t_vbt, 4),
                      "bt_over_ours": round(t_bt / t_ours, 2),
                      "ours_over_vectorbt": None if funcs is None else round(t_ours / t_vbt, 2),
                      "agree": float(f"{agree:.1e}"), "final_value": round(v_ours, 2)}
    print("\ntargets: bt/ours >= 20x, ours/vectorbt <= 2x")
    return {"stocks": frame.shape[1], "days": frame.shape[0], "rows": rows}


def scaling(repeat: int, sizes: list[tuple[int, int]]) -> dict[str, Any]:
    print("\nscaling (ours, generated prices):")
    print(f"{'assets':>6s} {'days':>6s} {'monthly':>9s} {'threshold':>10s} {'rebalances':>11s}")
    rng = np.random.default_rng(7)
    results: dict[tuple[int, int], tuple[float, float]] = {}
    for assets, days in sizes:
        closes = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, (days, assets)), axis=0))
        index = pd.bdate_range("1990-01-01", periods=days)
        frame = pd.DataFrame(closes, index=index, columns=[f"S{i:03d}" for i in range(assets)])
        frame.index.name = "date"
        t_m, _ = best_of(repeat, lambda f=frame: ours(f, "monthly"))
        t_t, _ = best_of(repeat, lambda f=frame: ours(f, "threshold"))
        results[(assets, days)] = (t_m, t_t)
        print(f"{assets:6d} {days:6d} {t_m:8.3f}s {t_t:9.3f}s")
    keys = sorted(results)
    small, big = keys[0], keys[-1]
    by_days = [k for k in keys if k[0] == big[0]]
    by_assets = [k for k in keys if k[1] == big[1]]
    for label, pair in (("days", by_days), ("assets", by_assets)):
        if len(pair) >= 2:
            a, b = pair[0], pair[-1]
            growth = results[b][0] / results[a][0]
            factor = (b[1] / a[1]) if label == "days" else (b[0] / a[0])
            print(f"monthly: {factor:.0f}x the {label} → {growth:.1f}x the time")
    print(f"largest case {big[0]} x {big[1]:,}: {results[big][0]:.2f}s monthly, {results[big][1]:.2f}s"
          f" threshold (smallest {small[0]} x {small[1]:,}: {results[small][0]:.3f}s)")
    return {
        f"{a}x{d}": {"monthly": round(m, 3), "threshold": round(t, 3)} for (a, d), (m, t) in results.items()
    }


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("bt", "vectorbt")}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--days", type=int, default=0, help="the last N days only (a short form); 0: all")
    parser.add_argument("--no-scaling", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    print(commit_line())
    frame = load_stocks()
    if args.days:
        frame = frame.iloc[-args.days:]
    figures = compare(frame, args.repeat)
    figures["versions"] = versions()
    if not args.no_scaling:
        figures["scaling"] = scaling(max(1, args.repeat // 3),
                                     [(20, 2000), (20, 8000), (100, 8000), (500, 2000), (500, 8000)])
    record("backtest_vs_peers", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
