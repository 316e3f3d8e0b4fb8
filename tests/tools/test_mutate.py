"""The mutation tool's own rules: which changes it makes, which it leaves alone, and its equivalents file."""

from __future__ import annotations

import ast
from pathlib import Path

from tools.mutants import CORE, EQUIVALENT, describe, find_mutants, load_equivalents, mutant_code
from tools.mutate import module_tests

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
    assert not any("total - 1" in m.mutated or "total + 2" in m.mutated for m in mutants)  # inside an f-string
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
