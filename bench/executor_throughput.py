"""Executor throughput against the broker emulator under a rate limit.

A 1,000-order plan (one account, 1,000 symbols, all cash) is applied through the Alpaca adapter to the
emulator limited to 50 requests/s (token bucket, burst 5, 429 + Retry-After beyond it). Prints the request
rate achieved during the apply as a ratio of the allowed rate (target ≥ 0.90) and the number of 429s (target
0), and the baseline: the same number of bare requests sent as fast as the limiter allows, measured in the
same run. Writes bench/results/executor_throughput.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx
from ruamel.yaml import YAML

from reconciler.brokers.ratelimit import TokenBucket
from reconciler.emulator import Emulator, EmulatorServer, Faults

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import commit_line, record

ROOT = Path(__file__).resolve().parent.parent


def write_workspace(root: Path, url: str, n: int, rate: float) -> None:
    symbols = [f"S{i:04d}" for i in range(n)]
    weight = (Decimal("0.99") / n).quantize(Decimal("0.00000001"))
    cash = Decimal(1) - weight * n
    yaml = YAML()
    (root / "portfolios").mkdir()
    shutil.copytree(ROOT / "policies", root / "policies")
    yaml.dump(
        {
            "apiVersion": "reconciler.dev/v1", "kind": "Config",
            "journal": {"url": f"sqlite:///{root / 'journal.db'}"},
            "broker": {
                "kind": "alpaca", "trading_url": url, "data_url": url, "rate_limit_per_second": rate,
                "slippage_bps": 0, "stream": False,
                "accounts": {"bench": {"key_id": "env:BENCH_KEY", "secret_key": "env:BENCH_SECRET"}},
            },
            "policies": {"params": {"max_turnover": 2.0}},
        },
        root / "reconciler.yaml",
    )
    yaml.dump(
        {
            "apiVersion": "reconciler.dev/v1", "kind": "Portfolio", "metadata": {"name": "bench"},
            "spec": {"account": "bench", "targets": {s: str(weight) for s in symbols}, "cash": str(cash),
                     "trading": {"min_trade_notional": 1}},
        },
        root / "portfolios" / "bench.yaml",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--orders", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=50.0)
    args = ap.parse_args()
    print(commit_line())
    symbols = {f"S{i:04d}": {"price": 10, "previous_close": 10} for i in range(args.orders)}
    seed = {"accounts": {"bench": {"key_id": "bench-key", "secret": "bench-secret", "cash": 1_000_000}},
            "prices": symbols}
    emu = Emulator(seed, Faults(rate_limit=args.rate, rate_burst=5))
    server = EmulatorServer(emu)
    server.start()
    os.environ.update(BENCH_KEY="bench-key", BENCH_SECRET="bench-secret")

    # Baseline: bare GETs through the same limiter, nothing else done per request.
    bucket = TokenBucket(args.rate)
    headers = {"APCA-API-KEY-ID": "bench-key", "APCA-API-SECRET-KEY": "bench-secret"}
    n_base = int(args.rate * 4)
    with httpx.Client(headers=headers) as client:
        t0 = time.perf_counter()
        for _ in range(n_base):
            bucket.wait()
            client.get(server.url + "/v2/clock")
        base_rate = n_base / (time.perf_counter() - t0)
    time.sleep(1)  # let the server's bucket refill

    from reconciler.cli.main import main as cli

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_workspace(root, server.url, args.orders, args.rate)
        plan_file = root / "plan.json"
        config = str(root / "reconciler.yaml")
        with contextlib.redirect_stdout(io.StringIO()):  # the 1,000-order plan itself is not the result
            assert cli(["--config", config, "plan", "--out", str(plan_file)]) == 0
        time.sleep(1)
        before_requests, before_limited = emu.requests, emu.limited
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            code = cli(["--config", config, "apply", str(plan_file)])
        elapsed = time.perf_counter() - t0
    requests = emu.requests - before_requests
    limited = emu.limited - before_limited
    orders = sum(1 for a in emu.accounts.values() for o in a.orders.values() if o.status == "filled")
    achieved = requests / elapsed
    print(f"baseline: {n_base} bare requests through the limiter at {base_rate:.1f} req/s "
          f"({base_rate / args.rate:.2f} of the allowed {args.rate:.0f}/s)")
    print(f"apply: exit {code}, {orders} orders filled, {requests} requests in {elapsed:.1f} s ="
          f" {achieved:.1f} req/s; ratio to the allowed rate {achieved / args.rate:.2f} (target >= 0.90: "
          f"{'PASS' if achieved / args.rate >= 0.9 else 'FAIL'}); ratio to baseline"
          f" {achieved / base_rate:.2f}; 429s: {limited} (target 0: {'PASS' if limited == 0 else 'FAIL'})")
    server.shutdown()
    record("executor_throughput", {
        "orders": args.orders, "filled": orders, "exit": code, "rate": args.rate, "requests": requests,
        "seconds": round(elapsed, 2), "achieved": round(achieved, 2), "baseline_rate": round(base_rate, 2),
        "limited": limited, "target_share": 0.9,
    })


if __name__ == "__main__":
    main()
