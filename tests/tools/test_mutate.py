"""The mutation tool's own rules: which changes it makes, which it leaves alone, and its equivalents file."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from tools.mutants import CORE, EQUIVALENT, ROOT, describe, find_mutants, load_equivalents, mutant_code
from tools.mutate import TARGETS, default_modules, module_tests

SOURCE = '''"""A docstring: never mutated."""
LIMIT: int = 5


def f(x: int, items: list[int]) -> int | None:
    """Another docstring."""
    if x > LIMIT and x in items:
        return min(x, abs(x - 1))
    return None


def g(values: list[int]) -> str:
    total = sum(values) * 2
    return f"{total + 1} over {len(values)}"
'''


def _mutants(tmp_path: Path) -> list[str]:
    path = tmp_path / "m.py"
    path.write_text(SOURCE)
    return [m.mutated for m in describe(path, "m")]


def test_each_kind_of_change_is_made(tmp_path: Path) -> None:
    mutated = _mutants(tmp_path)
    assert "if x >= LIMIT and x in items:" in mutated  # one tick over the edge
    assert "if x <= LIMIT and x in items:" in mutated  # the negation
    assert "if x > LIMIT or x in items:" in mutated
    assert "if x > LIMIT and x not in items:" in mutated
    assert "LIMIT: int = 6" in mutated
    assert "return max(x, abs(x - 1))" in mutated
    assert "return min(x, (x - 1))" in mutated
    assert "return min(x, abs(x + 1))" in mutated
    assert "if False:" in mutated
    assert "total = sum(values) / 2" in mutated


def test_docstrings_annotations_and_message_text_are_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(SOURCE)
    mutants = describe(path, "m")
    assert not any("docstring" in m.original for m in mutants)
    # inside an f-string
    assert not any("total - 1" in m.mutated or "total + 2" in m.mutated for m in mutants)
    assert not any(m.original.startswith("def ") for m in mutants)  # only annotations there


def test_a_mutant_compiles_to_the_changed_code(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(SOURCE)
    index = next(m.index for m in describe(path, "m") if m.mutated == "return min(x, abs(x + 1))")
    namespace: dict[str, object] = {}
    exec(mutant_code(path, index), namespace)
    f = namespace["f"]
    assert callable(f)
    assert f(7, [7]) == 7  # min(7, abs(8)): the original gives min(7, 6) = 6


def test_mutants_are_numbered_the_same_way_every_time() -> None:
    source = (CORE / "planner.py").read_text()
    first = [(m.line, m.kind) for m in find_mutants(ast.parse(source))]
    assert first == [(m.line, m.kind) for m in find_mutants(ast.parse(source))]


def test_the_tests_of_a_module_are_those_that_import_it() -> None:
    assert "tests/core/test_fills.py" in module_tests("fills")
    assert "tests/core/test_envelope.py" not in module_tests("fills")


def test_every_equivalent_mutant_names_a_core_module_and_a_reason() -> None:
    entries = load_equivalents(EQUIVALENT)
    assert entries
    for e in entries:
        assert (CORE / f"{e.module}.py").exists(), e
        assert e.original != e.mutated, e
        assert len(e.reason) > 20, e


def test_every_module_of_the_core_has_a_score_target() -> None:
    modules = {p.stem for p in CORE.glob("*.py") if p.stem != "__init__"}
    assert modules - set(TARGETS) == set()


def test_a_plain_make_mutate_runs_every_module_of_the_core() -> None:
    modules = {p.stem for p in CORE.glob("*.py") if p.stem != "__init__"}
    assert set(default_modules()) == modules


def test_a_mutant_is_served_even_when_a_conftest_imports_its_module_first(tmp_path: Path) -> None:
    # tests/execution/conftest.py and those that reuse it import fees, models, numbers and rules before any
    # test: a mutant installed after them was never served, and every such run counted as a kill.
    (tmp_path / "conftest.py").write_text("import reconciler.core.numbers\n")
    (tmp_path / "test_zero.py").write_text(
        "from decimal import Decimal\n\nfrom reconciler.core.numbers import ZERO\n\n\n"
        "def test_zero() -> None:\n    assert ZERO == Decimal(0)\n"
    )
    index = next(
        m.index for m in describe(CORE / "numbers.py", "numbers") if m.mutated == "ZERO = Decimal(1)"
    )
    env = {**os.environ, "MUTATE_MODULE": "reconciler.core.numbers", "MUTATE_MUTANT": str(index),
           "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tools.mutate_plugin", "-p", "no:cacheprovider",
         "-o", "addopts=", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )
    assert "1 failed" in run.stdout, run.stdout + run.stderr  # the mutant's ZERO of 1, not an internal error


def test_every_equivalent_mutant_matches_exactly_one_mutant() -> None:
    # An entry is matched by its lines' text: one that matched two mutants (the same `return ""` in two
    # functions) would hide the one its reason does not speak of; one that matches none is stale.
    entries = load_equivalents(EQUIVALENT)
    mutants = {name: describe(CORE / f"{name}.py", name) for name in {e.module for e in entries}}
    for e in entries:
        found = [m for m in mutants[e.module] if (m.original, m.mutated) == (e.original, e.mutated)]
        assert len(found) == 1, (e, [m.line for m in found])
