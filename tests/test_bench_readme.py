"""The README's performance tables are generated: each block is what the recorded results render to, every
recorded benchmark has its block, and every target a figure misses links to an explanation in the README
(and no explanation is left for a target that is met)."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import readme_run  # noqa: E402
import readme_tables  # noqa: E402
from results import RESULTS  # noqa: E402

WHY_LINK = re.compile(r"\(#why-([a-z0-9-]+)\)")
WHY_ANCHOR = re.compile(r'<a id="why-([a-z0-9-]+)"></a>')


def _readme() -> str:
    return readme_tables.README.read_text()


def test_the_readme_figures_are_the_recorded_results() -> None:
    assert readme_tables.stale(_readme()) == []


def test_the_readme_has_a_generated_block_per_recorded_benchmark() -> None:
    blocks = {m["name"] for m in readme_tables.BLOCK.finditer(_readme())}
    assert blocks == set(readme_tables.RENDERERS) | set(readme_tables.SUMMARIES)


def test_every_recorded_result_has_its_renderer() -> None:
    assert {p.stem for p in RESULTS.glob("*.json")} == set(readme_tables.RENDERERS)


def test_bench_readme_runs_every_benchmark_the_readme_renders() -> None:
    assert {name for name, *_ in readme_run.STEPS} == set(readme_tables.RENDERERS)


def test_a_figure_changed_in_a_result_makes_its_readme_block_stale(tmp_path: Path) -> None:
    folder = tmp_path / "results"
    shutil.copytree(RESULTS, folder)
    doc = json.loads((folder / "whatif.json").read_text())
    doc["figures"]["cold_seconds"] += 0.5
    (folder / "whatif.json").write_text(json.dumps(doc))
    assert readme_tables.stale(_readme(), folder) == ["whatif"]


def test_a_plan_figure_changed_makes_the_targets_block_stale_too(tmp_path: Path) -> None:
    folder = tmp_path / "results"
    shutil.copytree(RESULTS, folder)
    doc = json.loads((folder / "plan_scale.json").read_text())
    doc["figures"]["typical"]["seconds"] += 0.5
    (folder / "plan_scale.json").write_text(json.dumps(doc))
    assert readme_tables.stale(_readme(), folder) == ["targets", "plan_scale"]


def test_every_missed_target_links_to_its_explanation() -> None:
    text = _readme()
    missing = set(WHY_LINK.findall(text)) - set(WHY_ANCHOR.findall(text))
    assert missing == set(), f'add <a id="why-KEY"></a> explaining each miss: {sorted(missing)}'


def test_no_explanation_is_left_for_a_target_now_met() -> None:
    text = _readme()
    unused = set(WHY_ANCHOR.findall(text)) - set(WHY_LINK.findall(text))
    assert unused == set(), f"these targets are met now: remove their why- anchors {sorted(unused)}"


def test_a_missed_verdict_names_its_explanation() -> None:
    assert readme_tables._verdict(False, "paper") == "**missed** ([why](#why-paper))"


def test_a_time_target_at_a_quick_size_is_in_proportion() -> None:
    assert readme_tables._scaled(15, 1_000, 5_000) == "< 3 s (15 s at 5,000, in proportion)"
