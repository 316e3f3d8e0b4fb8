"""What every part of bench/apply_scale.py shares: the sizes and prices of its accounts, the workspaces it
writes, how it runs the CLI and measures it, and the problems it keeps for its report."""

from __future__ import annotations

import contextlib
import json
import math
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

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


problems: list[str] = []


def problem(what: str) -> None:
    what = what.rstrip()
    problems.append(what)
    print("  PROBLEM: " + what.replace("\n", "\n    "), flush=True)
