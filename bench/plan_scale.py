"""Planner scale and CLI start-up benchmark.

Prints plan time for 10,000 portfolios × 50 holdings and for one portfolio of 5,000 holdings, and the start-up
time of `reconciler --help`, each as a ratio against a baseline measured in the same run: the baseline is the
cheapest honest pass over the same data (valuing every holding with Decimal arithmetic), so the ratio says how
many such passes a full plan costs. Plan and baseline times are CPU seconds of this process
(time.process_time): on a machine shared with other work, wall time measures the neighbours too. Each is the
best of --repeat runs. Targets: 10,000 × 50 typical under 1 s and at most 5× the valuation pass; the worst
case under 3 s; --help under 0.3 s. Writes bench/results/plan_scale.json.
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import commit_line, planted, record

from reconciler.core.models import CostModel, Desired, Observation, Quote
from reconciler.core.planner import plan_many
from reconciler.core.rules import Bands, Commission, Trading

NOW = datetime(2026, 1, 2, 15, 0, tzinfo=UTC)


def make_case(
    rng: random.Random, holdings: int, idx: int, drift: float | None
) -> tuple[Desired, Observation]:
    """A portfolio and an observation of it: drifted around its targets (typical), or random (worst case)."""
    symbols = [f"S{idx % 97}X{i}" for i in range(holdings)]
    raw = [rng.randint(1, 100) for _ in symbols]
    scale = Decimal("0.98") / sum(raw)  # 2% cash target; the rounding remainder goes to cash too
    weights = {s: (r * scale).quantize(Decimal("0.000001")) for s, r in zip(symbols, raw, strict=True)}
    cash = Decimal(1) - sum(weights.values(), Decimal(0))
    trading = Trading(
        bands=Bands(absolute=Decimal("0.02"), relative=Decimal("0.25")), min_trade_notional=Decimal(50)
    )
    desired = Desired(
        name=f"p{idx}", account=f"a{idx}", source="bench", targets=weights, cash=cash, trading=trading
    )
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
            s: Decimal(
                max(0, round(float(weights[s]) * equity / float(quotes[s].price) * rng.gauss(1, drift)))
            )
            for s in symbols
        }
        cash_settled = Decimal(round(equity * float(cash) * rng.gauss(1, drift)))
    obs = Observation(
        account=f"a{idx}", taken_at=NOW, positions=positions, cash_settled=cash_settled, quotes=quotes
    )
    return desired, obs


def baseline(cases: list[tuple[Desired, Observation]]) -> float:
    t0 = time.process_time()
    for _, obs in cases:
        total = obs.cash_settled
        for s, q in obs.positions.items():
            total += q * obs.quotes[s].price
    return time.process_time() - t0


def time_plans(cases: list[tuple[Desired, Observation]], costs: CostModel) -> tuple[float, int]:
    """Plans are kept, as `reconciler plan` keeps them for the sealed artifact (retention costs allocator
    time)."""
    t0 = time.process_time()
    plans = plan_many(cases, costs)
    elapsed = time.process_time() - t0
    return elapsed * planted(), sum(len(p.actions) for p in plans)


COSTS = CostModel(slippage_bps=Decimal(5), commission=Commission(per_share=Decimal("0.005")))
CASES = (("typical", "drifted ±10% (typical)", 0.10), ("worst", "random holdings (worst case)", None))


def measure(portfolios: int, holdings: int, repeat: int, seed: int = 7) -> dict[str, dict[str, Any]]:
    """Per case (typical, worst): best plan and baseline CPU seconds over `repeat` runs, orders, and their
    ratio."""
    rng = random.Random(seed)
    out = {}
    for key, _, drift in CASES:
        cases = [make_case(rng, holdings, i, drift) for i in range(portfolios)]
        bases, plans, orders = [], [], 0
        for _ in range(repeat):
            bases.append(baseline(cases))
            elapsed, orders = time_plans(cases, COSTS)
            plans.append(elapsed)
        base, plan = min(bases), min(plans)
        out[key] = {"portfolios": portfolios, "holdings": holdings, "seconds": round(plan, 4),
                    "baseline_seconds": round(base, 4), "ratio": round(plan / base, 2), "orders": orders}
        del cases
    return out


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
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--startup-runs", type=int, default=15)
    args = ap.parse_args()
    print(commit_line())
    figures: dict[str, Any] = measure(args.portfolios, args.holdings, args.repeat)
    n = args.portfolios * args.holdings
    for key, label, _ in CASES:
        f = figures[key]
        target = "target < 1 s and <= 5x" if key == "typical" else "target < 3 s"
        met = f["seconds"] < 1 and f["ratio"] <= 5 if key == "typical" else f["seconds"] < 3
        print(f"plan {args.portfolios:,} portfolios x {args.holdings} holdings, {label}: {f['seconds']:.3f} s"
              f" CPU ({f['seconds'] / n * 1e6:.2f} µs/holding, {f['orders']:,} orders); baseline valuation"
              f" pass {f['baseline_seconds']:.3f} s; ratio {f['ratio']:.1f}x; {target}:"
              f" {'MET' if met else 'MISSED'}")

    big = measure(1, args.big, args.repeat, seed=8)["typical"]
    figures["big"] = big
    print(f"plan 1 portfolio x {args.big:,} holdings: {big['seconds'] * 1000:.1f} ms ({big['orders']:,}"
          f" orders); baseline {big['baseline_seconds'] * 1000:.2f} ms; ratio {big['ratio']:.1f}x")

    bare, helped = cli_startup(args.startup_runs)
    figures["startup"] = {"seconds": round(helped, 3), "bare_python_seconds": round(bare, 3),
                          "ratio": round(helped / bare, 2)}
    print(f"reconciler --help: {helped * 1000:.0f} ms (bare python {bare * 1000:.0f} ms; ratio"
          f" {helped / bare:.1f}x); target < 300 ms: {'MET' if helped < 0.3 else 'MISSED'}")
    record("plan_scale", figures)


if __name__ == "__main__":
    main()
