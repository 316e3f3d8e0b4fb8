"""The benchmarks' guard and the README's generated figures: the guard fails on a planted slowdown, its limits
are half the target (or the recorded figure when the target is missed), and the README's performance tables
are what the recorded results render to."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import check  # noqa: E402
import readme_tables  # noqa: E402
from results import RESULTS  # noqa: E402


def test_the_readme_figures_are_the_recorded_results() -> None:
    assert readme_tables.stale(readme_tables.README.read_text()) == []


def test_the_readme_has_a_generated_block_per_recorded_benchmark() -> None:
    blocks = {m["name"] for m in readme_tables.BLOCK.finditer(readme_tables.README.read_text())}
    assert blocks == set(readme_tables.RENDERERS)


def test_a_figure_changed_in_a_result_makes_its_readme_block_stale(tmp_path: Path) -> None:
    folder = tmp_path / "results"
    shutil.copytree(RESULTS, folder)
    doc = json.loads((folder / "plan_scale.json").read_text())
    doc["figures"]["typical"]["seconds"] += 0.5
    (folder / "plan_scale.json").write_text(json.dumps(doc))
    assert readme_tables.stale(readme_tables.README.read_text(), folder) == ["plan_scale"]


def test_a_met_target_fails_at_half_the_target() -> None:
    ratio = check.Ratio("r", value=11.0, target=20, higher_is_better=True, why="", recorded=25.0)
    assert ratio.limit == 10


def test_a_met_target_where_lower_is_better_fails_at_twice_the_target() -> None:
    ratio = check.Ratio("r", value=9.0, target=5, higher_is_better=False, why="", recorded=4.0)
    assert ratio.limit == 10


def test_a_missed_target_is_held_to_its_recorded_figure() -> None:
    ratio = check.Ratio("r", value=16.0, target=5, higher_is_better=False, why="", recorded=10.0)
    assert ratio.limit == 10.0 * check.MISSED_SLACK


def test_a_ratio_past_its_limit_fails() -> None:
    ratio = check.Ratio("r", value=16.0, target=5, higher_is_better=False, why="", recorded=10.0)
    assert not ratio.ok


@pytest.mark.skipif(not (RESULTS / "check.json").is_file(), reason="no recorded bench-check figures")
def test_bench_check_fails_on_a_planted_2x_slowdown() -> None:
    env = {**os.environ, "RECONCILER_BENCH_SLOWDOWN": "2"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "check.py"), "--only", "plan"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr


@pytest.mark.skipif(not (RESULTS / "check.json").is_file(), reason="no recorded bench-check figures")
def test_bench_check_fails_on_a_planted_2x_slowdown_of_the_paper_apply() -> None:
    env = {**os.environ, "RECONCILER_BENCH_SLOWDOWN": "2"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "check.py"), "--only", "paper"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=900,
    )
    assert done.returncode == 1, done.stdout + done.stderr
