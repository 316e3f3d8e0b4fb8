"""Where benchmarks say what they measured: the commit, the machine, and a JSON result under bench/results/.

Every benchmark prints `commit_line()` first and ends with `record(name, figures)`, which writes
bench/results/<name>.json. bench/readme_tables.py renders the README's performance tables from those files,
and a docs test fails when the README's figures differ from them, so a figure in the README is always one a
benchmark printed, at a commit it names.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


@functools.cache
def commit() -> str:
    """The commit measured (short hash), with "+dirty" when the work tree had uncommitted changes. Asked once
    per process, when the benchmark starts: a commit made while it runs is not what it measured."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("rev-parse", "--short=10", "HEAD") or "unknown"
    dirty = git(
        "status", "--porcelain", "--untracked-files=no", "--", "reconciler", "bench", ":!bench/results"
    )
    return f"{head}+dirty" if dirty else head


def machine() -> str:
    """One line: CPU model, cores, Python."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


@functools.cache
def start_load() -> float:
    """The 1-minute load average when the benchmark started (asked with the commit): the README states it."""
    return round(os.getloadavg()[0], 1)


def form() -> str:
    """RECONCILER_BENCH_FORM: "full" (the README's sizes, the default) or "quick" (`make bench-readme-quick`:
    smaller sizes, the same ratios), recorded with every result so the README says which form it shows."""
    return os.environ.get("RECONCILER_BENCH_FORM", "full")


def commit_line() -> str:
    """What every benchmark prints first (and fixes the commit and load its result will name)."""
    return f"measured at commit {commit()} on {machine()}, load average {start_load():.1f}, {form()} form"


def record(name: str, figures: dict[str, Any], *, into: Path | None = None) -> Path:
    """Write bench/results/<name>.json: the figures with the commit and machine they were measured at."""
    folder = into or Path(os.environ.get("RECONCILER_BENCH_RESULTS", RESULTS))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    doc = {"benchmark": name, "commit": commit(), "machine": machine(), "form": form(),
           "load": [start_load(), round(os.getloadavg()[0], 1)], "figures": figures}
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    print(f"result written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path


def load(name: str, folder: Path = RESULTS) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((folder / f"{name}.json").read_text())
    return doc


def planted() -> float:
    """RECONCILER_BENCH_SLOWDOWN: a factor every benchmark multiplies its own measured time by (never its
    baseline's), to show the guard catches a slowdown of that size (`RECONCILER_BENCH_SLOWDOWN=2 make
    bench-check` must fail). 1 when unset."""
    return float(os.environ.get("RECONCILER_BENCH_SLOWDOWN", "1"))
