"""The Alpaca grid of bench/apply_scale.py: a PostgreSQL database and an emulator process per cell, `plan` and
`apply --all --workers N` run against them, and the bare-httpx baseline of the same orders."""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import queue
import shutil
import subprocess
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import httpx
from apply_common import (
    CASH,
    LIMIT_BAND,
    ORDERS_PER_ACCOUNT,
    PRICE,
    ROOT,
    SYMBOLS,
    WEIGHT,
    Run,
    account,
    cli,
    exe,
    key_id,
    problem,
    secret,
)
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

# ------------------------------------------------------------------------------------------------------------
# PostgreSQL


class Postgres:
    """An admin URL, and a fresh database per cell. Starts a throwaway cluster (.ci/postgres.sh) if given
    none."""

    def __init__(self, url: str | None) -> None:
        self.stop_line: str | None = None
        if url is None:
            print("starting a throwaway PostgreSQL cluster (.ci/postgres.sh) ...", flush=True)
            out = subprocess.run(["bash", str(ROOT / ".ci" / "postgres.sh")], check=True, capture_output=True,
                                 text=True).stdout.strip().splitlines()
            self.stop_line, url = out[-2], out[-1]
            atexit.register(self.stop)
        self.url = url
        self.admin = create_engine(url, isolation_level="AUTOCOMMIT")
        self.count = 0

    def create(self) -> tuple[str, str]:
        self.count += 1
        name = f"bench_{os.getpid()}_{self.count}"
        with self.admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        return name, make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def drop(self, name: str) -> None:
        with self.admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def stop(self) -> None:
        self.admin.dispose()
        if self.stop_line is None:
            return
        env = dict(part.split("=", 1) for part in self.stop_line.split())
        cmd = [env["PGCTL"], "-D", env["PGDATA"], "-m", "fast", "stop"]
        if os.getuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, capture_output=True, check=False)
        shutil.rmtree(Path(env["PGDATA"]).parent, ignore_errors=True)
        self.stop_line = None


# ------------------------------------------------------------------------------------------------------------
# The emulator, in its own process


class EmulatorProcess:
    def __init__(self, seed: Path, faults: Path, log: Path) -> None:
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [*exe(), "emulator", "--seed", str(seed), "--faults", str(faults), "--always-open"],
            stdout=subprocess.PIPE, stderr=self._log, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("emulator listening on "):
            self.stop()
            raise RuntimeError(f"the emulator did not start (see {log}): {line!r}")
        self.url = line.rsplit(" ", 1)[1]
        self.client = httpx.Client(timeout=600)
        self.client.get(self.url + "/_emulator/health").raise_for_status()

    def state(self) -> dict[str, Any]:
        r = self.client.get(self.url + "/_emulator/state")
        r.raise_for_status()
        result: dict[str, Any] = r.json()
        return result

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        with contextlib.suppress(AttributeError):
            self.client.close()
        self._log.close()


def write_emulator_files(root: Path, n: int) -> tuple[Path, Path]:
    seed = {
        "accounts": {
            account(i): {"key_id": key_id(i), "secret": secret(i), "cash": str(CASH)} for i in range(n)
        },
        "prices": {s: {"price": str(PRICE), "previous_close": str(PRICE)} for s in SYMBOLS},
    }
    # No rate limit, fills in one step at once (the defaults, said explicitly), no latency, no injected
    # faults.
    faults = {"rate_limit": None, "fill_steps": 1, "latency_ms": 0, "error_rate": 0, "throttle_rate": 0}
    (root / "seed.yaml").write_text(json.dumps(seed), encoding="utf-8")  # JSON is YAML
    (root / "faults.yaml").write_text(json.dumps(faults), encoding="utf-8")
    return root / "seed.yaml", root / "faults.yaml"


@dataclass
class Received:
    orders: int
    filled: int
    duplicate_ids: int  # client_order_ids seen more than once across all accounts
    duplicate_legs: int  # (account, symbol) pairs with more than one order
    wrong_accounts: int  # accounts without exactly 10 orders
    requests: int

    def ok(self, accounts: int) -> bool:
        return (
            self.orders == accounts * ORDERS_PER_ACCOUNT
            and not self.duplicate_ids
            and not self.duplicate_legs
            and not self.wrong_accounts
        )

    def describe(self, accounts: int) -> str:
        return (f"{self.orders}/{accounts * ORDERS_PER_ACCOUNT} orders ({self.filled} filled), "
                f"{self.duplicate_ids} duplicate client ids, {self.duplicate_legs} doubled (account, symbol),"
                f" {self.wrong_accounts} accounts without exactly {ORDERS_PER_ACCOUNT}")


def received(emu: EmulatorProcess) -> Received:
    state = emu.state()
    ids: Counter[str] = Counter()
    legs: Counter[tuple[str, str]] = Counter()
    orders = filled = wrong = 0
    for name, acct in state["accounts"].items():
        got = acct["orders"]
        orders += len(got)
        wrong += len(got) != ORDERS_PER_ACCOUNT
        for o in got:
            ids[o["client_order_id"]] += 1
            legs[(name, o["symbol"])] += 1
            filled += o["status"] == "filled"
    return Received(
        orders,
        filled,
        sum(1 for c in ids.values() if c > 1),
        sum(1 for c in legs.values() if c > 1),
        wrong,
        int(state["requests"]),
    )


def write_alpaca_config(root: Path, url: str, journal: str, n: int) -> None:
    config = {
        "apiVersion": "reconciler.dev/v1",
        "kind": "Config",
        "portfolios_dir": "portfolios",
        "journal": {"url": journal},
        "broker": {
            "kind": "alpaca",
            "trading_url": url,
            "data_url": url,
            "rate_limit_per_second": 1000,
            # polled, as measured before the stream (requests_per_order.py)
            "slippage_bps": 0,
            "stream": False,
            "accounts": {
                account(i): {"key_id": f"env:BENCH_KEY_{i:05d}", "secret_key": f"env:BENCH_SECRET_{i:05d}"}
                for i in range(n)
            },
        },
        "policies": {"dir": "policies", "params": {"max_turnover": 2.0}},
    }
    (root / "reconciler.yaml").write_text(json.dumps(config, indent=1), encoding="utf-8")


def credentials_env(n: int) -> dict[str, str]:
    env = dict(os.environ)
    for i in range(n):
        env[f"BENCH_KEY_{i:05d}"] = key_id(i)
        env[f"BENCH_SECRET_{i:05d}"] = secret(i)
    return env


# ------------------------------------------------------------------------------------------------------------
# Cells


@dataclass
class Cell:
    size: int
    workers: int
    plan: Run | None = None
    apply: Run | None = None
    got: Received | None = None
    outcomes: Counter[str] = field(default_factory=Counter)
    base_seconds: float = math.nan
    base_got: Received | None = None
    base_errors: int = 0

    @property
    def orders(self) -> int:
        return self.size * ORDERS_PER_ACCOUNT

    @property
    def ok(self) -> bool:
        return bool(self.apply and self.apply.code == 0 and self.got and self.got.ok(self.size))

    @property
    def rate(self) -> float:
        return self.orders / self.apply.seconds if self.ok and self.apply else 0.0

    @property
    def base_rate(self) -> float:
        good = self.base_got is not None and self.base_got.ok(self.size) and not self.base_errors
        return self.orders / self.base_seconds if good else math.nan


def run_cell(cell: Cell, root: Path, seed: Path, faults: Path, journal: tuple[str, str], env: dict[str, str],
             timeout: float) -> None:
    tag = f"n{cell.size}-w{cell.workers}"
    emu = EmulatorProcess(seed, faults, root / f"{tag}.emulator.log")
    try:
        write_alpaca_config(root, emu.url, journal[1], cell.size)
        plan_file = root / f"plan-{tag}.json"
        cell.plan = cli(
            root,
            f"{tag}.plan",
            ["plan", "--config", "reconciler.yaml", "--out", str(plan_file)],
            env,
            timeout,
        )
        if cell.plan.code != 0:
            problem(f"{tag}: plan {cell.plan.status()}\n{cell.plan.tail()}")
            return
        cell.apply = cli(
            root,
            f"{tag}.apply",
            [
                "apply",
                "--config",
                "reconciler.yaml",
                str(plan_file),
                "--all",
                "--workers",
                str(cell.workers),
                "--auto-approve",
            ],
            env,
            timeout,
        )
        for line in cell.apply.out.read_text(encoding="utf-8", errors="replace").splitlines():
            word = line.split(maxsplit=1)[0] if line.strip() else ""
            if word in ("done", "failed"):
                cell.outcomes[word] += 1
        cell.got = received(emu)
        if cell.apply.code != 0:
            problem(f"{tag}: apply {cell.apply.status()} "
                    f"(work items: {dict(cell.outcomes)}); broker received {cell.got.describe(cell.size)}\n"
                    f"{cell.apply.tail()}")
        elif not cell.got.ok(cell.size):
            problem(f"{tag}: apply exited 0 but the broker received {cell.got.describe(cell.size)}")
    finally:
        emu.stop()


def baseline_orders(n: int) -> list[tuple[int, dict[str, Any]]]:
    """The adapter's order bodies for the same plan: a day limit buy of each symbol at the quote + 0.5 %."""
    limit = (PRICE * (1 + LIMIT_BAND)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    qty = (CASH * WEIGHT / limit).to_integral_value(rounding=ROUND_DOWN)
    return [
        (i, {"symbol": s, "qty": str(qty), "side": "buy", "type": "limit", "time_in_force": "day",
             "client_order_id": f"bl-{i:05d}-{leg:02d}-{uuid.uuid4().hex}"[:36], "limit_price": str(limit)})
        for i in range(n) for leg, s in enumerate(SYMBOLS)
    ]


def run_baseline(cell: Cell, root: Path, seed: Path, faults: Path) -> None:
    tag = f"n{cell.size}-w{cell.workers}"
    emu = EmulatorProcess(seed, faults, root / f"{tag}.baseline-emulator.log")
    try:
        work: queue.SimpleQueue[list[tuple[int, dict[str, Any]]]] = queue.SimpleQueue()
        bodies = baseline_orders(cell.size)
        # one account at a time, as a worker claims them
        for start in range(0, len(bodies), ORDERS_PER_ACCOUNT):
            work.put(bodies[start:start + ORDERS_PER_ACCOUNT])
        errors: list[str] = []
        url = emu.url + "/v2/orders"

        def worker() -> None:
            with httpx.Client(timeout=30) as client:
                while True:
                    try:
                        batch = work.get_nowait()
                    except queue.Empty:
                        return
                    for i, body in batch:
                        headers = {"APCA-API-KEY-ID": key_id(i), "APCA-API-SECRET-KEY": secret(i)}
                        r = client.post(url, json=body, headers=headers)
                        if r.status_code != 200:
                            errors.append(f"HTTP {r.status_code} {r.text[:200]}")

        threads = [threading.Thread(target=worker) for _ in range(cell.workers)]
        t0 = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        cell.base_seconds = time.perf_counter() - t0
        cell.base_errors = len(errors)
        cell.base_got = received(emu)
        if errors or not cell.base_got.ok(cell.size):
            problem(f"{tag} baseline: {len(errors)} errors (first: {errors[:1]}); emulator received "
                    f"{cell.base_got.describe(cell.size)}")
    finally:
        emu.stop()
