"""Apply at scale: many accounts × 10 orders through the Alpaca adapter, with a PostgreSQL journal and N
workers.

Grid: for each size in --sizes (accounts; default 200,1000, and 5000 on request) and each worker count in
--workers (default 1,2,4,8), on a fresh emulator and a fresh journal database: every account starts all cash
with 10 target symbols (10 buys each); `reconciler plan --out` and `reconciler apply PLAN --all --workers N
--auto-approve` run as subprocesses and are timed (wall clock, process start-up included); the emulator — a
separate process (`reconciler emulator --always-open`, no rate limit, market orders and marketable limits fill
at once), so its CPU never shares a GIL with the apply or with this script — is then asked for every order it
received: exactly accounts × 10, one per (account, symbol), no client_order_id twice. Baseline, in the same
run, for every cell: N bare httpx threads POST the same number of equivalent orders (POST /v2/orders, the
adapter's JSON: a day limit buy at the quote + 0.5 %, a 36-character client_order_id) to a fresh emulator of
the same size; no journal, no policies. The CPU per order is what the apply command and all its worker
processes used (user + system), over the orders.

The journal is PostgreSQL: --pg-url URL, or $RECONCILER_TEST_PG_URL, or else a throwaway cluster started with
.ci/postgres.sh and stopped at exit; each cell gets its own database (CREATE DATABASE, dropped afterwards).
--sqlite uses a fresh SQLite file per cell instead. --paper adds the paper-broker check: 500 accounts × 10
orders on SQLite, `plan --out` then `apply PLAN --auto-approve`, and again (fresh journal) with `--all
--workers 1` and with one worker per core.

Targets (each printed MET or MISSED at the end):
  - apply reaches ≥ 50 % of the baseline's orders/s at the best worker count, for every size;
  - ≥ 100 orders/s at 200 accounts × 10 (best worker count);
  - more workers are never slower: orders/s non-decreasing with the worker count (any count slower than a
    smaller count is named; --tolerance allows for noise, default 0);
  - 10,000 accounts × 10 (plan + apply, best worker count) extrapolated from the largest size measured: ≤ 30
    min (linear, and — with two sizes or more — by the power law fitted to the two largest; judged on the
    larger);
  - per-account apply time (apply wall seconds / accounts, best worker count) at the largest size ≤ 1.2 × that
    at the smallest;
  - paper broker, 500 × 10: apply < 15 s (each mode);
  - journal + policy CPU per order ≤ 1.5 ms, measured in this process on the same journal kind (the intent
    before the send and the broker's answer after, two transactions; the shipped policies judging a
    portfolio's 10 orders together, over 10), printed next to the same two commits through the bare database
    driver;
  - and in every cell: exactly accounts × 10 orders at the broker, no duplicates.

Develop with small sizes: `python bench/apply_scale.py --sizes 20,50 --workers 1,2 --sqlite`.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import math
import os
import queue
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from results import commit_line, record  # noqa: E402

ORDERS_PER_ACCOUNT = 10
SYMBOLS = [f"S{i}" for i in range(ORDERS_PER_ACCOUNT)]
PRICE = Decimal(10)
CASH = Decimal(100_000)
WEIGHT = Decimal("0.099")  # 10 × 9.9 %, 1 % cash
LIMIT_BAND = Decimal("0.005")  # apply.limit_band's default: the adapter's limit is the quote + 0.5 %
EXTRAPOLATE_TO = 10_000


def exe() -> list[str]:
    found = Path(sys.executable).parent / "reconciler"
    return [str(found)] if found.exists() else [sys.executable, "-m", "reconciler.cli.main"]


def key_id(i: int) -> str:
    return f"bench-key-{i:05d}"


def secret(i: int) -> str:
    return f"bench-secret-{i:05d}"


def account(i: int) -> str:
    return f"a{i:05d}"


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


# ------------------------------------------------------------------------------------------------------------
# Workspaces


def portfolio_yaml(i: int) -> str:
    targets = ", ".join(f"{s}: {WEIGHT}" for s in SYMBOLS)
    cash = Decimal(1) - WEIGHT * len(SYMBOLS)
    return (
        "apiVersion: reconciler.dev/v1\nkind: Portfolio\n"
        f"metadata:\n  name: p{i:05d}\n"
        f"spec:\n  account: {account(i)}\n  targets: {{{targets}}}\n  cash: {cash}\n"
        "  trading:\n    min_trade_notional: 1\n"
    )


def write_portfolios(root: Path, n: int) -> None:
    (root / "portfolios").mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "policies", root / "policies", dirs_exist_ok=True)
    for i in range(n):
        (root / "portfolios" / f"p{i:05d}.yaml").write_text(portfolio_yaml(i), encoding="utf-8")


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


def write_paper_config(root: Path, journal: str, n: int) -> None:
    config = {
        "apiVersion": "reconciler.dev/v1", "kind": "Config", "portfolios_dir": "portfolios",
        "journal": {"url": journal},
        "broker": {
            "kind": "paper", "slippage_bps": 5, "settlement_days": 1,
            "prices": {"static": {s: {"price": str(PRICE), "previous_close": str(PRICE)} for s in SYMBOLS}},
            "accounts": {account(i): {"cash": str(CASH)} for i in range(n)},
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


@dataclass
class Run:
    code: int | None  # None: timed out
    seconds: float
    out: Path
    err: Path
    cpu: float = math.nan  # CPU seconds (user + system) of the command and every worker process it waited for

    def status(self) -> str:
        return (f"timed out after {self.seconds:.1f} s (killed)" if self.code is None
                else f"exited {self.code} after {self.seconds:.1f} s")

    def tail(self, lines: int = 12) -> str:
        parts = []
        for p in (self.err, self.out):
            with contextlib.suppress(OSError):
                got = p.read_text(encoding="utf-8", errors="replace").strip().splitlines()
                if got:
                    parts.append(f"--- {p.name} (last {min(lines, len(got))} of {len(got)} lines)\n"
                                 + "\n".join(got[-lines:]))
        return "\n".join(parts)


def cli(root: Path, tag: str, args: list[str], env: dict[str, str], timeout: float) -> Run:
    out, err = root / f"{tag}.out", root / f"{tag}.err"
    with out.open("wb") as fo, err.open("wb") as fe:
        t0 = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            code: int | None = subprocess.run([*exe(), *args], cwd=root, env=env, stdout=fo, stderr=fe,
                                              timeout=timeout, check=False).returncode
        except subprocess.TimeoutExpired:
            code = None
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return Run(code, time.perf_counter() - t0, out, err, cpu)


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


problems: list[str] = []


def problem(what: str) -> None:
    what = what.rstrip()
    problems.append(what)
    print("  PROBLEM: " + what.replace("\n", "\n    "), flush=True)


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


# ------------------------------------------------------------------------------------------------------------
# Paper


@dataclass
class PaperRun:
    mode: str
    plan: Run
    apply: Run | None
    orders: int
    filled: int
    duplicates: int


def paper_check(root: Path, n: int, timeout: float) -> list[PaperRun]:
    root.mkdir(parents=True, exist_ok=True)
    write_portfolios(root, n)
    env = dict(os.environ)
    runs = []
    modes: list[tuple[str, list[str]]] = [("apply PLAN --auto-approve", [])] + [
        (f"apply PLAN --all --workers {w}", ["--all", "--workers", str(w)]) for w in (1, os.cpu_count() or 1)
    ]
    for mode, extra in modes:
        tag = "paper-" + (f"all-{extra[-1]}" if extra else "single")
        if any(r.mode == mode for r in runs):
            continue  # one core: the two --all modes are the same
        db = root / f"{tag}.db"
        write_paper_config(root, f"sqlite:///{db}", n)
        plan_file = root / f"plan-{tag}.json"
        plan = cli(root, f"{tag}.plan", ["plan", "--config", "reconciler.yaml", "--out", str(plan_file)], env,
                   timeout)
        if plan.code != 0:
            problem(f"paper ({mode}): plan {plan.status()}\n{plan.tail()}")
            runs.append(PaperRun(mode, plan, None, 0, 0, 0))
            continue
        apply = cli(
            root,
            f"{tag}.apply",
            ["apply", "--config", "reconciler.yaml", str(plan_file), "--auto-approve", *extra],
            env,
            timeout,
        )
        orders = filled = dups = 0
        if db.exists():
            with contextlib.closing(sqlite3.connect(db)) as c, contextlib.suppress(sqlite3.Error):
                orders, filled, distinct = c.execute(
                    "SELECT count(*), sum(status = 'filled'), count(DISTINCT client_order_id) FROM"
                    " paper_orders"
                ).fetchone()
                filled = filled or 0
                dups = orders - distinct
        runs.append(PaperRun(mode, plan, apply, orders, filled, dups))
        want = n * ORDERS_PER_ACCOUNT
        if apply.code != 0:
            problem(f"paper ({mode}): apply {apply.status()}; {orders}/{want} orders"
                    f"\n{apply.tail()}")
        elif orders != want or dups:
            problem(f"paper ({mode}): apply exited 0 but the books hold {orders}/{want} orders, {dups}"
                    " duplicates")
    return runs


# ------------------------------------------------------------------------------------------------------------
# Report


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("MET" if ok else "MISSED")


def fmt_rate(x: float) -> str:
    return "-" if not x or math.isnan(x) else f"{x:,.1f}"


def grid_table(cells: list[Cell], journal_kind: str) -> None:
    print(f"\n=== apply at scale: Alpaca adapter → emulator (separate process), journal {journal_kind} ===")
    head = (f"{'accounts':>8} {'workers':>7} {'plan s':>8} {'apply s':>8} {'orders at broker':>17}"
            f" {'req/order':>9} {'apply o/s':>10} {'baseline o/s':>12} {'ratio':>6} {'CPU ms/order':>12} "
            " items")
    print(head)
    print("-" * len(head))
    for c in cells:
        plan_s = f"{c.plan.seconds:.2f}" if c.plan else "-"
        apply_s = "-" if not c.apply else ("timeout" if c.apply.code is None else f"{c.apply.seconds:.2f}")
        got = f"{c.got.orders}/{c.orders}" + ("" if c.got.ok(c.size) else " !") if c.got else "-"
        rpo = f"{c.got.requests / max(c.got.orders, 1):.1f}" if c.got else "-"
        ratio = c.rate / c.base_rate if c.rate and not math.isnan(c.base_rate) else math.nan
        items = ", ".join(f"{k} {v}" for k, v in sorted(c.outcomes.items())) or "-"
        code = "" if not c.apply or c.apply.code in (0, None) else f" (exit {c.apply.code})"
        cpu = f"{c.apply.cpu / c.orders * 1000:.1f}" if c.apply and c.orders else "-"
        print(f"{c.size:>8} {c.workers:>7} {plan_s:>8} {apply_s:>8} {got:>17} {rpo:>9} {fmt_rate(c.rate):>10}"
              f" {fmt_rate(c.base_rate):>12} {'-' if math.isnan(ratio) else f'{ratio:.2f}':>6} {cpu:>12}  "
              f"{items}{code}")


@dataclass
class Overhead:
    # CPU per order: the intent before the send, the broker's answer after (two transactions)
    journal_ms: float
    policy_ms: float  # CPU per order: the shipped policies judging a portfolio's 10 orders together, over 10
    bare_ms: float  # CPU per order: the same two commits through the bare DB-API driver, no journal code


def overhead(url: str, orders: int = 2000) -> Overhead:
    """Journal and policy CPU per order, measured in this process (process_time), with a bare baseline."""
    from reconciler.brokers.base import OrderState
    from reconciler.core.models import CostModel, Desired, Observation, Quote
    from reconciler.core.planner import plan_portfolio
    from reconciler.core.rules import Trading
    from reconciler.journal.store import Journal
    from reconciler.policy.engine import load_policies
    from reconciler.policy.inputs import policy_input
    from reconciler.workspace.models import PolicyParams

    journal = Journal.open(url)
    apply_id = journal.start_apply("p" * 64, "t" * 64, None, "bench")
    t0 = time.process_time()
    for i in range(orders):
        cid = f"rc-bench-{i:06d}"
        journal.add_intent(apply_id=apply_id, plan_hash="p" * 64, portfolio="p", account="a", leg=i,
                           client_order_id=cid, symbol="S0001", side="buy", quantity=Decimal(10),
                           est_price=Decimal("100.5"), status="submitting")
        journal.record_state("a", OrderState(client_order_id=cid, broker_order_id=f"b{i}", symbol="S0001",
                                             side="buy", quantity=Decimal(10), filled_quantity=Decimal(10),
                                             avg_price=Decimal("100.52"), commission=Decimal("0.05"),
                                             status="filled"), apply_id)
    journal_ms = (time.process_time() - t0) / orders * 1000
    raw = journal.engine.raw_connection()
    cur = raw.cursor()
    mark = "%s" if journal.engine.dialect.name == "postgresql" else "?"
    t0 = time.process_time()
    for i in range(orders):
        for _ in range(2):  # the intent's transaction, then the answer's
            cur.execute(f"UPDATE intents SET status = {mark} WHERE client_order_id = {mark}",
                        ("filled", f"rc-bench-{i:06d}"))
            raw.commit()
    bare_ms = (time.process_time() - t0) / orders * 1000
    raw.close()
    journal.engine.dispose()

    policies = load_policies(ROOT / "policies", {}, "hard-mandatory")
    at = datetime.now(UTC)
    symbols = [f"S{k:04d}" for k in range(ORDERS_PER_ACCOUNT)]
    quotes = {
        sym: Quote(symbol=sym, price=Decimal(10), previous_close=Decimal(10), as_of=at) for sym in symbols
    }
    desired = Desired(
        name="p",
        account="a",
        source="bench",
        targets={sym: Decimal("0.099") for sym in symbols},
        cash=Decimal("0.01"),
        trading=Trading(),
    )
    obs = Observation(account="a", taken_at=at, positions={}, cash_settled=Decimal(100_000), quotes=quotes)
    pp = plan_portfolio(desired, obs, CostModel())
    assert len(pp.actions) == ORDERS_PER_ACCOUNT
    doc = policy_input(pp, PolicyParams(max_turnover=Decimal(2)), phase="apply", now=at)
    rounds = 100
    t0 = time.process_time()
    for _ in range(rounds):
        policies.evaluate(doc, "p")
    policy_ms = (time.process_time() - t0) / rounds / ORDERS_PER_ACCOUNT * 1000
    return Overhead(journal_ms, policy_ms, bare_ms)


def report(cells: list[Cell], paper: list[PaperRun], args: argparse.Namespace, journal_kind: str,
           cost: Overhead | None = None) -> None:
    if cost is not None:
        total = cost.journal_ms + cost.policy_ms
        print(f"\njournal + policy CPU per order ({journal_kind}): journal {cost.journal_ms:.2f} ms +"
              f" policies {cost.policy_ms:.2f} ms = {total:.2f} ms; bare driver, same two commits:"
              f" {cost.bare_ms:.2f} ms ({cost.journal_ms / cost.bare_ms:.1f}x); target <= 1.5 ms:"
              f" {verdict(total <= 1.5)}")
    if cells:
        grid_table(cells, journal_kind)
    sizes = sorted({c.size for c in cells})
    best: dict[int, Cell] = {}
    for n in sizes:
        row = [c for c in cells if c.size == n and c.ok]
        if row:
            best[n] = max(row, key=lambda c: c.rate)
    if best:
        print("\nper size, at the best worker count:")
        for n, c in best.items():
            assert c.apply is not None and c.plan is not None
            print(f"  {n:>6} accounts: {c.workers} workers, apply {c.apply.seconds:.2f} s = {c.rate:,.1f}"
                  f" orders/s, {c.apply.seconds / n * 1000:.1f} ms per account (plan {c.plan.seconds:.2f} s, "
                  f"{c.plan.seconds / n * 1000:.1f} ms per account); baseline {fmt_rate(c.base_rate)}"
                  " orders/s")
    if paper:
        print("\npaper broker (SQLite journal):")
        for p in paper:
            a = "-" if p.apply is None else ("timeout" if p.apply.code is None else f"{p.apply.seconds:.2f}"
                                             " s")
            code = "" if p.apply is None or p.apply.code in (0, None) else f" (exit {p.apply.code})"
            print(f"  {args.paper_accounts} accounts × {ORDERS_PER_ACCOUNT}, {p.mode}: plan"
                  f" {p.plan.seconds:.2f} s, apply {a}{code}; {p.orders} orders in the books ({p.filled}"
                  f" filled, {p.duplicates} duplicates)")

    print("\nTARGETS")
    lines: list[tuple[str, bool | None]] = []
    all_ok = all(c.ok for c in cells) if cells else None
    lines.append((f"every cell: exactly accounts × {ORDERS_PER_ACCOUNT} orders at the broker, no duplicates, "
                  f"apply exit 0 ({sum(c.ok for c in cells)}/{len(cells)} cells)", all_ok))
    for n in sizes:
        c = best.get(n)
        if c is None:
            lines.append((f"{n} accounts: apply ≥ 50 % of baseline orders/s — no successful cell", False))
            continue
        frac = c.rate / c.base_rate if not math.isnan(c.base_rate) else math.nan
        lines.append((f"{n} accounts, {c.workers} workers: apply {c.rate:,.1f} orders/s is "
                      f"{'?' if math.isnan(frac) else f'{frac:.0%}'} of baseline {fmt_rate(c.base_rate)} "
                      f"(target ≥ 50 %)", None if math.isnan(frac) else frac >= 0.5))
    if 200 in sizes:
        c = best.get(200)
        lines.append((f"200 accounts × 10: {fmt_rate(c.rate if c else 0)} orders/s (target ≥ 100)",
                      bool(c and c.rate >= 100)))
    else:
        lines.append(("200 accounts × 10: ≥ 100 orders/s — size 200 not measured", None))
    for n in sizes:
        row = sorted((c for c in cells if c.size == n), key=lambda c: c.workers)
        if len(row) < 2:
            continue
        slower = [
            f"{b.workers} workers {fmt_rate(b.rate)} < {a.workers} workers {fmt_rate(a.rate)}"
            for i, a in enumerate(row) for b in row[i + 1:]
            if b.rate < a.rate * (1 - args.tolerance)
        ]
        rates = ", ".join(f"{c.workers}: {fmt_rate(c.rate)}" for c in row)
        lines.append((f"{n} accounts: more workers never slower (orders/s {rates})"
                      + (f"; slower: {'; '.join(slower)}" if slower else ""), not slower))
    if best:
        n = max(best)
        c = best[n]
        assert c.apply is not None and c.plan is not None
        total = c.plan.seconds + c.apply.seconds
        linear = total * EXTRAPOLATE_TO / n
        estimate, how = linear, f"linear from {n}: {linear / 60:.1f} min"
        measured = [m for m in sorted(best) if m != n]
        if measured:
            m = measured[-1]
            cm = best[m]
            assert cm.apply is not None and cm.plan is not None
            small = cm.plan.seconds + cm.apply.seconds
            k = math.log(total / small) / math.log(n / m)
            fitted = total * (EXTRAPOLATE_TO / n) ** k
            how += f"; power law from {m} and {n} (exponent {k:.2f}): {fitted / 60:.1f} min"
            estimate = max(estimate, fitted)
        lines.append((f"{EXTRAPOLATE_TO:,} accounts × 10, plan + apply at {c.workers} workers, extrapolated: "
                      f"{how} (target ≤ 30 min)", estimate <= 30 * 60))
    if len(best) >= 2:
        lo, hi = min(best), max(best)
        a_lo, a_hi = best[lo].apply, best[hi].apply
        assert a_lo is not None and a_hi is not None
        per_lo, per_hi = a_lo.seconds / lo, a_hi.seconds / hi
        ratio = per_hi / per_lo
        lines.append((f"per-account apply time: {per_hi * 1000:.1f} ms at {hi} / {per_lo * 1000:.1f} ms at"
                      f" {lo} = {ratio:.2f} (target ≤ 1.2)", ratio <= 1.2))
    else:
        lines.append(("per-account apply time ratio ≤ 1.2 — needs two sizes", None))
    if paper:
        for p in paper:
            good = (
                p.apply is not None
                and p.apply.code == 0
                and p.orders == args.paper_accounts * ORDERS_PER_ACCOUNT
                and not p.duplicates
            )
            secs = "-" if p.apply is None or p.apply.code is None else f"{p.apply.seconds:.2f} s"
            lines.append((f"paper {args.paper_accounts} × 10, {p.mode}: apply {secs} (plan"
                          f" {p.plan.seconds:.2f} s; target < 15 s, all orders booked once)",
                          good and p.apply is not None and p.apply.seconds < 15))
    else:
        lines.append(("paper 500 × 10 < 15 s — not run (--paper)", None))
    for what, ok in lines:
        print(f"  {verdict(ok):>6}  {what}")
    if problems:
        print(f"\nPROBLEMS ({len(problems)}), product output kept in the work directory:")
        for p in problems:
            print("  - " + p.replace("\n", "\n    "))


def ints(text_: str) -> list[int]:
    return [int(x) for x in text_.split(",") if x.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=ints, default=[200, 1000], help="accounts per cell (default 200,1000)")
    ap.add_argument("--workers", type=ints, default=[1, 2, 4, 8], help="worker counts (default 1,2,4,8)")
    ap.add_argument("--pg-url", default=os.environ.get("RECONCILER_TEST_PG_URL") or None,
                    help="PostgreSQL admin URL (default $RECONCILER_TEST_PG_URL, else a throwaway cluster)")
    ap.add_argument("--sqlite", action="store_true", help="journal on a fresh SQLite file per cell instead")
    ap.add_argument("--paper", action="store_true", help="also run the paper-broker check")
    ap.add_argument("--paper-only", action="store_true", help="run only the paper-broker check")
    ap.add_argument("--paper-accounts", type=int, default=500)
    ap.add_argument("--no-baseline", action="store_true", help="skip the bare-httpx baseline")
    ap.add_argument("--tolerance", type=float, default=0.0,
                    help="'more workers never slower' allows this fraction of noise (default 0)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds allowed each plan or apply")
    ap.add_argument("--workdir", help="keep workspaces, plans and product output here (default: a temporary"
                    " dir)")
    args = ap.parse_args()

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="apply-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    print(commit_line())
    print(f"apply_scale {' '.join(sys.argv[1:])}: {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}; "
          f"work directory: {work}", flush=True)
    cells: list[Cell] = []
    paper: list[PaperRun] = []
    cost: Overhead | None = None
    journal_kind = "SQLite" if args.sqlite else "PostgreSQL"
    pg: Postgres | None = None
    try:
        if not args.paper_only:
            if not args.sqlite:
                pg = Postgres(args.pg_url)
            for n in args.sizes:
                root = work / f"alpaca-{n}"
                root.mkdir(parents=True, exist_ok=True)
                write_portfolios(root, n)
                seed, faults = write_emulator_files(root, n)
                env = credentials_env(n)
                for w in args.workers:
                    cell = Cell(n, w)
                    cells.append(cell)
                    print(f"{n} accounts × {ORDERS_PER_ACCOUNT}, {w} workers ...", flush=True)
                    if pg is not None:
                        name, url = pg.create()
                        journal: tuple[str, str] = (name, url)
                    else:
                        db = root / f"journal-w{w}.db"
                        db.unlink(missing_ok=True)
                        journal = (str(db), f"sqlite:///{db}")
                    try:
                        run_cell(cell, root, seed, faults, journal, env, args.timeout)
                    # the bench's own trouble (an emulator that did not start): go on
                    except Exception as exc:
                        problem(f"{n} accounts, {w} workers: {type(exc).__name__}: {exc}")
                    finally:
                        if pg is not None:
                            pg.drop(journal[0])
                    if not args.no_baseline:
                        try:
                            run_baseline(cell, root, seed, faults)
                        except Exception as exc:
                            problem(f"{n} accounts, {w} workers, baseline: {type(exc).__name__}: {exc}")
                    plan_s = f"{cell.plan.seconds:.2f} s" if cell.plan else "-"
                    apply_s = f"{cell.apply.seconds:.2f} s" if cell.apply else "-"
                    print(f"  plan {plan_s}, apply {apply_s}: {fmt_rate(cell.rate)} orders/s; "
                          f"baseline {fmt_rate(cell.base_rate)} orders/s", flush=True)
        if not args.paper_only or args.sqlite:  # the paper check's journal + policy figure, on its SQLite
            if pg is None and not args.sqlite:
                pg = Postgres(args.pg_url)
            if pg is not None:
                name, url = pg.create()
                try:
                    cost = overhead(url)
                finally:
                    pg.drop(name)
            else:
                db = work / "overhead.db"
                db.unlink(missing_ok=True)
                cost = overhead(f"sqlite:///{db}")
        if args.paper or args.paper_only:
            print(f"paper broker: {args.paper_accounts} accounts × {ORDERS_PER_ACCOUNT} ...", flush=True)
            paper = paper_check(work / "paper", args.paper_accounts, args.timeout)
    finally:
        if pg is not None:
            pg.stop()
    report(cells, paper, args, journal_kind, cost)
    record("apply_scale", {
        "journal": journal_kind,
        "cells": [{"accounts": c.size, "workers": c.workers, "orders_per_second": round(c.rate, 1),
                   "baseline_orders_per_second": round(c.base_rate, 1),
                   "plan_seconds": round(c.plan.seconds, 2) if c.plan else None,
                   "apply_seconds": round(c.apply.seconds, 2) if c.apply else None} for c in cells],
        "paper": [{"mode": p.mode, "apply_seconds": round(p.apply.seconds, 2) if p.apply else None,
                   "orders": p.orders, "filled": p.filled} for p in paper],
        "overhead_ms": None if cost is None else {"journal": round(cost.journal_ms, 3),
                                                  "policy": round(cost.policy_ms, 3),
                                                  "bare": round(cost.bare_ms, 3)},
    })
    if not args.workdir and not problems:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
