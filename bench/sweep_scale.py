"""`backtest --sweep` on every core: the same grid run by one worker process and by N, in one run.

Data: the 20 S&P 500 stocks from the skfolio wheel (daily, --start 2000-01-01: 23 years). Grid: threshold:abs=
0.01..0.25/0.01 × four calendars (calendar-threshold monthly/quarterly/annual and threshold daily): 100 points,
or the first --points of them. Times are wall seconds (the workers are other processes); the speed-up is the
one-worker time over the N-worker time, and per core that over N. On a machine shared with other work the
speed-up measures the neighbours too.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import commit_line, record

from reconciler.backtest.data import load_dataset
from reconciler.backtest.engine import Settings
from reconciler.backtest.strategies import parse_strategy
from reconciler.backtest.sweep import expand, run_grid
from reconciler.core.models import CostModel
from reconciler.spec.loader import load_workspace

ROOT = Path(__file__).resolve().parents[1]
GRIDS = ("calendar-threshold:{monthly|quarterly|annual},abs=0.01..0.25/0.01", "threshold:abs=0.01..0.25/0.01")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    print(commit_line())
    ws = load_workspace(ROOT / "examples" / "backtest" / "reconciler.yaml", accounts=False)
    desired = next(p for p in ws.portfolios if p.name == "sp500-20")
    table = load_dataset("sp500")
    from datetime import date

    prices = table.select(sorted(desired.targets), date(2000, 1, 1))
    specs = [s for grid in GRIDS for s in expand(grid).specs][: args.points]
    strategies = [parse_strategy(s, desired.trading.bands) for s in specs]
    settings = Settings(costs=CostModel())
    seconds = {}
    for jobs in (1, args.jobs):
        started = time.perf_counter()
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            run_grid(desired, prices, strategies, settings, 0.0, pool)
        seconds[jobs] = time.perf_counter() - started
        print(f"{len(specs)} points, {jobs} worker(s): {seconds[jobs]:.1f} s")
    speedup = seconds[1] / seconds[args.jobs]
    print(f"speed-up {speedup:.2f}x on {args.jobs} workers ({speedup / args.jobs:.2f} per core)")
    record("sweep_scale", {"points": len(specs), "jobs": args.jobs, "seconds_one": seconds[1],
                           "seconds_all": seconds[args.jobs], "speedup": speedup})
    return 0


if __name__ == "__main__":
    sys.exit(main())
