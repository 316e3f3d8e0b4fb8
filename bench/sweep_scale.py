"""`backtest --sweep` on every core: the same grid run by one worker process and by N, in one run.

Data: the 20 S&P 500 stocks from the skfolio wheel, or the same file in ../shared/data when skfolio is not
installed (daily, 2000-01-03 → 2022-12-28: 23 years). Grid: abs=0.01..0.25/0.01 × four rules (calendar-
threshold monthly/quarterly/annual and threshold daily): 100 points, or the first --points of them, each run
as `backtest --sweep` runs it (the example's sp500-20 portfolio, no costs). Times are wall seconds (the
workers are other processes); the speed-up is the one-worker time over the N-worker time, and per core that
over N. On a machine shared with other work the speed-up measures the neighbours too: each worker count runs
--repeat times, alternating, the best kept, and the 1-minute load average before each run is recorded beside
it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import commit_line, record

from reconciler.backtest.data import load_dataset, load_prices
from reconciler.backtest.engine import Settings
from reconciler.backtest.metrics import years_between
from reconciler.backtest.strategies import parse_strategy
from reconciler.backtest.sweep import expand, run_grid
from reconciler.core.models import CostModel
from reconciler.errors import BacktestError
from reconciler.workspace.loader import load_workspace

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "sp500_20_stocks_daily_1990_2022.csv"
GRIDS = ("calendar-threshold:{monthly|quarterly|annual},abs=0.01..0.25/0.01", "threshold:abs=0.01..0.25/0.01")


def _cpu() -> float:
    """CPU seconds of this process and of its reaped children (the pool's workers), user and system."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each worker count; the best is kept")
    args = ap.parse_args()
    print(commit_line())
    ws = load_workspace(ROOT / "examples" / "backtest" / "reconciler.yaml", accounts=False)
    desired = next(p for p in ws.portfolios if p.name == "sp500-20")
    try:
        table = load_dataset("sp500")
    except BacktestError:
        table = load_prices(SHARED)
    prices = table.select(sorted(desired.targets), date(2000, 1, 1))
    years = years_between(prices.dates)
    print(
        f"{len(desired.targets)} stocks × {len(prices.dates):,} days ({years:.1f} years) from {table.source}"
    )
    specs = [s for grid in GRIDS for s in expand(grid).specs][: args.points]
    strategies = [parse_strategy(s, desired.trading.bands) for s in specs]
    settings = Settings(costs=CostModel())
    seconds: dict[int, float] = {}
    runs: dict[int, list[float]] = {1: [], args.jobs: []}
    load: dict[int, list[float]] = {1: [], args.jobs: []}
    cpu: dict[int, list[float]] = {1: [], args.jobs: []}
    # Alternating one worker and N, so a neighbour's burst of work lands on both alike.
    for _ in range(args.repeat):
        for jobs in (1, args.jobs):
            load[jobs].append(round(os.getloadavg()[0], 2))
            cpu_before = _cpu()
            started = time.perf_counter()
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                run_grid(desired, prices, strategies, settings, 0.0, pool)
            runs[jobs].append(round(time.perf_counter() - started, 3))
            cpu[jobs].append(round(_cpu() - cpu_before, 3))  # the pool is shut down: its workers are reaped
            print(
                f"{len(specs)} points, {jobs} worker(s): {runs[jobs][-1]:.1f} s "
                f"({runs[jobs][-1] / len(specs) * 1000:.0f} ms a point; load average before {load[jobs][-1]})"
            )
    seconds = {jobs: min(times) for jobs, times in runs.items()}
    speedup = seconds[1] / seconds[args.jobs]
    print(f"speed-up {speedup:.2f}x on {args.jobs} workers ({speedup / args.jobs:.2f} per core)")
    # What a loaded machine hides: the CPU seconds of all the processes, one worker against N. Their ratio is
    # the work parallelism adds (pool start-up, prices pickled per task): it bounds an idle machine's
    # speed-up.
    work = min(cpu[1]) / min(cpu[args.jobs])
    print(
        f"CPU seconds: {min(cpu[1]):.1f} on one worker, {min(cpu[args.jobs]):.1f} on {args.jobs};"
        " an idle machine's"
        f" speed-up is at most {args.jobs * work:.2f}x"
    )
    record(
        "sweep_scale",
        {
            "points": len(specs),
            "stocks": len(desired.targets),
            "days": len(prices.dates),
            "years": round(years, 1),
            "jobs": args.jobs,
            "seconds_one": seconds[1],
            "seconds_all": seconds[args.jobs],
            "speedup": speedup,
            "per_core": speedup / args.jobs,
            "cpu_one": min(cpu[1]),
            "cpu_all": min(cpu[args.jobs]),
            "idle_bound": args.jobs * work,
            "runs_one": runs[1],
            "runs_all": runs[args.jobs],
            "load_one": load[1],
            "load_all": load[args.jobs],
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
