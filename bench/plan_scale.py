"""Planner scale and CLI start-up benchmark.

Prints plan time for 10,000 portfolios × 50 holdings and for one portfolio of 5,000 holdings, and the start-up
time of `reconciler --help`, each as a ratio against a baseline measured in the same run: the baseline is the
cheapest honest pass over the same data (valuing every holding with Decimal arithmetic), so the ratio says how
many such passes a full plan costs. Targets: 10,000 × 50 under 2 s on a 2-core machine; --help under 0.3 s.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from reconciler.core.models import CostModel, Desired, Observation, Quote
from reconciler.core.planner import plan_many
from reconciler.core.rules import Bands, Commission, Trading

NOW = datetime(2026, 1, 2, 15, 0, tzinfo=UTC)


def make_case(rng: random.Random, holdings: int, idx: int, drift: float | None) -> tuple[Desired, Observation]:
    """A portfolio and an observation of it: drifted around its targets (typical), or random (worst case)."""
    symbols = [f"S{idx % 97}X{i}" for i in range(holdings)]
    raw = [rng.randint(1, 100) for _ in symbols]
    scale = Decimal("0.98") / sum(raw)  # 2% cash target; the rounding remainder goes to cash too
    weights = {s: (r * scale).quantize(Decimal("0.000001")) for s, r in zip(symbols, raw, strict=True)}
    cash = Decimal(1) - sum(weights.values(), Decimal(0))
    trading = Trading(bands=Bands(absolute=Decimal("0.02"), relative=Decimal("0.25")), min_trade_notional=Decimal(50))
    desired = Desired(name=f"p{idx}", account=f"a{idx}", source="bench", targets=weights, cash=cash, trading=trading)
    quotes = {
        s: Quote(symbol=s, price=Decimal(rng.randint(500, 50000)) / 100, previous_close=None, as_of=NOW)
        for s in symbols
    }
    if drift is None:
        positions = {s: Decimal(rng.randint(0, 400)) for s in symbols}
        cash_settled = Decimal(rng.randint(0, 200000))
    else:
        equity = 1_000_000
        positions = {
            s: Decimal(max(0, round(float(weights[s]) * equity / float(quotes[s].price) * rng.gauss(1, drift))))
            for s in symbols
        }
        cash_settled = Decimal(round(equity * float(cash) * rng.gauss(1, drift)))
    obs = Observation(account=f"a{idx}", taken_at=NOW, positions=positions, cash_settled=cash_settled, quotes=quotes)
    return desired, obs


def baseline(cases: list[tuple[Desired, Observation]]) -> float:
    t0 = time.perf_counter()
    for _, obs in cases:
        total = obs.cash_settled
        for s, q in obs.positions.items():
            total += q * obs.quotes[s].price
    return time.perf_counter() - t0


def time_plans(cases: list[tuple[Desired, Observation]], costs: CostModel) -> tuple[float, int]:
    """Plans are kept, as `reconciler plan` keeps them for the sealed artifact (retention costs allocator time)."""
    t0 = time.perf_counter()
    plans = plan_many(cases, costs)
    elapsed = time.perf_counter() - t0
    return elapsed, sum(len(p.actions) for p in plans)


def cli_startup(runs: int) -> tuple[float, float]:
    exe = Path(sys.executable).parent / "reconciler"
    cmd = [str(exe), "--help"] if exe.exists() else [sys.executable, "-m", "reconciler.cli.main", "--help"]
    bare, helped = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, capture_output=True)
        bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        helped.append(time.perf_counter() - t0)
    return statistics.median(bare), statistics.median(helped)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--portfolios", type=int, default=10_000)
    ap.add_argument("--holdings", type=int, default=50)
    ap.add_argument("--big", type=int, default=5_000)
    ap.add_argument("--startup-runs", type=int, default=15)
    args = ap.parse_args()
    rng = random.Random(7)
    costs = CostModel(slippage_bps=Decimal(5), commission=Commission(per_share=Decimal("0.005")))

    n = args.portfolios * args.holdings
    for label, drift in (("drifted ±10% (typical)", 0.10), ("random holdings (worst case)", None)):
        cases = [make_case(rng, args.holdings, i, drift) for i in range(args.portfolios)]
        base = baseline(cases)
        elapsed, orders = time_plans(cases, costs)
        verdict = "PASS" if elapsed < 2 else "FAIL"
        print(f"plan {args.portfolios:,} portfolios x {args.holdings} holdings, {label}: {elapsed:.3f} s "
              f"({elapsed / n * 1e6:.2f} µs/holding, {orders:,} orders); baseline valuation pass {base:.3f} s; "
              f"ratio {elapsed / base:.1f}x; target < 2 s: {verdict}")
        del cases

    big = [make_case(rng, args.big, 0, 0.10)]
    base_big = baseline(big)
    elapsed_big, orders_big = time_plans(big, costs)
    print(f"plan 1 portfolio x {args.big:,} holdings: {elapsed_big * 1000:.1f} ms ({orders_big:,} orders); "
          f"baseline {base_big * 1000:.2f} ms; ratio {elapsed_big / base_big:.1f}x")

    bare, helped = cli_startup(args.startup_runs)
    print(f"reconciler --help: {helped * 1000:.0f} ms (bare python {bare * 1000:.0f} ms; ratio {helped / bare:.1f}x); "
          f"target < 300 ms: {'PASS' if helped < 0.3 else 'FAIL'}")


if __name__ == "__main__":
    main()
