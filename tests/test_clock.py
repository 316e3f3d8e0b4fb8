"""One clock: no module of the product reads the time or sleeps except `reconciler/clock.py`.

With the clock in one place, the suite can run on any date: `make test` runs it a second time with every
in-process clock moved a year ahead (RECONCILER_TEST_CLOCK_SHIFT_DAYS, see tests/conftest.py).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from reconciler.clock import FixedClock

PACKAGE = Path(__file__).resolve().parent.parent / "reconciler"
FORBIDDEN = {
    ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
    ("time", "time"), ("time", "time_ns"), ("time", "monotonic"), ("time", "monotonic_ns"),
    ("time", "perf_counter"), ("time", "sleep"),
}


def _reads_of_the_time(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in FORBIDDEN:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {node.value.id}.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "time":
            names = {a.name for a in node.names} & {name for mod, name in FORBIDDEN if mod == "time"}
            found += [
                f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: from time import {n}" for n in names
            ]
    return found


def test_only_the_clock_module_reads_the_time() -> None:
    offenders = [
        hit
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "clock.py"
        for hit in _reads_of_the_time(path)
    ]
    assert offenders == [], "read the time through the injected Clock (reconciler/clock.py):\n" + "\n".join(
        offenders
    )


def test_the_scan_sees_each_spelling() -> None:
    sample = PACKAGE / "_clock_scan_sample.py"
    sample.write_text(
        "import time\nfrom datetime import datetime\nfrom time import monotonic\n"
        "a = datetime.now()\nb = time.time()\ntime.sleep(1)\n",
        encoding="utf-8",
    )
    try:
        hits = _reads_of_the_time(sample)
    finally:
        sample.unlink()
    assert sorted(h.split(": ", 1)[1] for h in hits) == [
        "datetime.now", "from time import monotonic", "time.sleep", "time.time",
    ]


def test_a_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(datetime(2030, 1, 2, 3, 4, tzinfo=UTC))
    assert clock.now() == datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    clock.sleep(90)
    assert clock.now() == datetime(2030, 1, 2, 3, 5, 30, tzinfo=UTC)
    assert clock.monotonic() == 90.0


def test_logging_survives_a_closed_stderr() -> None:
    """A handler set up while stderr was one stream keeps working after that stream is closed and replaced."""
    code = (
        "import io, logging, sys\n"
        "from reconciler.logs import setup\n"
        "old = sys.stderr\n"
        "sys.stderr = io.StringIO()\n"
        "setup('text', 'info')\n"
        "sys.stderr.close()\n"
        "sys.stderr = old\n"
        "logging.getLogger('reconciler.test').warning('still heard')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert "Logging error" not in done.stderr
    assert "still heard" in done.stderr
