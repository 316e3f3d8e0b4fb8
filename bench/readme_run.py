"""Every benchmark the README shows, in its README form, one after the other, then the README's tables
(`make bench-readme`; `make bench-readme-quick` for the short forms).

Each benchmark runs as its own process (one at a time: on a shared machine two at once would measure each
other) and records bench/results/NAME.json with the commit, the machine, the load average and the form;
bench/readme_tables.py then renders every generated block of README.md from those files. A benchmark that
fails stops the run before the README is touched, so the README never mixes a fresh run with a failed one
silently. The quick form keeps every ratio's baseline beside it in the same run and shrinks only the sizes
(the README's time targets are scaled to the size, as the tables say); the full form is what the README's
figures should come from.

    python bench/readme_run.py              the full forms (38 minutes on 2 cores at load 5-16)
    python bench/readme_run.py --quick      the short forms
    python bench/readme_run.py --only plan_scale --only backtest_vs_peers   some of them, then the tables
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

# (result name, script, full-form arguments, quick-form arguments), in the README's order of sections.
STEPS: list[tuple[str, str, list[str], list[str]]] = [
    ("plan_scale", "plan_scale.py", [], ["--portfolios", "2000", "--repeat", "2", "--startup-runs", "5"]),
    ("executor_throughput", "executor_throughput.py", [], ["--orders", "300"]),
    ("hostile_broker", "hostile_broker.py", [], []),
    # The Alpaca adapter at scale on a PostgreSQL journal (a throwaway cluster from .ci/postgres.sh unless
    # RECONCILER_TEST_PG_URL names a server), 8 workers (the README's 5,000 accounts take 8 minutes more).
    ("apply_alpaca_scale", "apply_scale.py", ["--sizes", "200,1000", "--workers", "8"],
     ["--sizes", "200", "--workers", "8"]),
    ("apply_scale", "apply_scale.py", ["--sizes", "", "--sqlite", "--paper"],
     ["--sizes", "", "--sqlite", "--paper", "--paper-accounts", "100"]),
    ("requests_per_order", "requests_per_order.py", [], []),
    ("backtest_vs_peers", "backtest_vs_peers.py", [], ["--repeat", "3", "--no-scaling"]),
    ("backtest_example", "readme_backtest.py", [], []),
    ("whatif", "whatif.py", [], []),
    ("sweep_scale", "sweep_scale.py", [], ["--points", "20", "--repeat", "1"]),
    # Last: the guard's reference for targets still missed, recorded from the same code as the tables.
    ("check", "check.py", ["--record"], ["--record"]),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the short forms (smaller sizes)")
    ap.add_argument("--only", action="append", choices=[name for name, *_ in STEPS])
    args = ap.parse_args()
    form = "quick" if args.quick else "full"
    env = {**os.environ, "RECONCILER_BENCH_FORM": form}
    env.pop("RECONCILER_BENCH_SLOWDOWN", None)  # a planted slowdown is never a README figure
    started = time.monotonic()
    took: list[tuple[str, float, float]] = []
    guard = 0
    for name, script, full, quick in STEPS:
        if args.only and name not in args.only:
            continue
        argv = [sys.executable, str(BENCH / script), *(quick if args.quick else full)]
        load = os.getloadavg()[0]
        print(f"\n=== {name}: {' '.join(argv[1:])} ({form} form, load average {load:.1f})", flush=True)
        t = time.monotonic()
        done = subprocess.run(argv, env=env, cwd=BENCH.parent, check=False)
        took.append((name, time.monotonic() - t, load))
        if name == "check":  # a ratio outside its guard is the check's verdict, not a failed run: recorded
            guard = done.returncode
        elif done.returncode != 0:
            print(f"bench-readme: {script} exited {done.returncode}; README.md not rewritten",
                  file=sys.stderr)
            return 1
    print("\n=== README tables: bench/readme_tables.py", flush=True)
    tables = [sys.executable, str(BENCH / "readme_tables.py")]
    rendered = subprocess.run(tables, cwd=BENCH.parent, check=False)
    print(f"\nbench-readme ({form} form):")
    for name, seconds, load in took:
        print(f"  {name:<22} {seconds:7.1f} s wall (load average {load:.1f} before it)")
    print(f"  {'in all':<22} {time.monotonic() - started:7.1f} s wall")
    if guard:
        print("  bench-check: a ratio was outside its guard (above); its figures are recorded all the same")
    return rendered.returncode or guard


if __name__ == "__main__":
    sys.exit(main())
