"""The README's backtest example, run for real: the command in the README's "Backtesting" section, in process,
with --format json; its figures are recorded in bench/results/backtest_example.json, from which
bench/readme_tables.py renders the README's results table. A test runs the same command and fails when the
table it renders differs from the README's, so the README shows what the command prints.

    python bench/readme_backtest.py     run the README's command, record the figures (then readme_tables.py)
"""

from __future__ import annotations

import io
import json
import re
import shlex
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import ROOT, commit_line, record

from reconciler.cli.main import main as reconciler

README = ROOT / "README.md"
SHOWN = (
    "final_value",
    "cagr",
    "sharpe",
    "max_drawdown",
    "turnover_per_year",
    "rebalances",
    "costs",
    "taxes_paid",
    "avg_deviation",
)


def readme_command(text: str | None = None) -> str:
    """The one `reconciler ... backtest` command of the README's Backtesting section, continuation lines
    joined."""
    readme = README.read_text() if text is None else text
    section = readme.split("## Backtesting", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    joined = re.sub(r"\\\n\s*", " ", block)
    commands = [line.split("  #")[0].strip() for line in joined.splitlines() if line.startswith("reconciler"
        " ")]
    if len(commands) != 1:
        raise SystemExit("README.md: expected one backtest command in the Backtesting section, found"
                         f" {commands}")
    return commands[0]


def run_json(command: str, report_folder: Path) -> dict[str, Any]:
    """Run the command in process from the repository's root with --format json; its report goes to the
    folder."""
    argv = shlex.split(command)[1:]
    if "--report" in argv:  # the chart goes to a temporary folder, not the checkout
        i = argv.index("--report") + 1
        argv[i] = str(report_folder / Path(argv[i]).name)
    out = io.StringIO()
    with redirect_stdout(out):
        code = reconciler(["--no-color", *argv, "--format", "json"])
    if code != 0:
        raise RuntimeError(f"the README's backtest command exited {code}")
    doc: dict[str, Any] = json.loads(out.getvalue())
    return doc


def figures_of(doc: dict[str, Any]) -> dict[str, Any]:
    """What the README's table shows, from the command's JSON."""
    return {
        "start": doc["start"], "end": doc["end"], "rows": doc["days"], "rows_are": doc["rows_are"],
        "strategies": [{"name": s["name"], **{k: s["metrics"][k] for k in SHOWN}} for s in doc["strategies"]],
    }


def main() -> int:
    import os

    print(commit_line())
    os.chdir(ROOT)
    command = readme_command()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        doc = run_json(command, Path(folder))
        seconds = time.perf_counter() - started
    figures = {**figures_of(doc), "command": command, "seconds": round(seconds, 1)}
    print(f"{len(figures['strategies'])} strategies in {seconds:.1f} s (wall)")
    record("backtest_example", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
