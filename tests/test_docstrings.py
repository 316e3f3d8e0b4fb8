"""Every public definition of the package says why it exists in one line: modules, public functions and
classes, and the public methods of public classes. Read from the source (an AST walk), so a new definition
without a docstring fails here, named by file and line. Pytest test methods of the suites a plug-in imports
(`reconciler/testing/`) are exempt: their names are the sentence."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "reconciler"
Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _public(node: ast.AST) -> bool:
    return isinstance(node, Definition) and not node.name.startswith("_")


def undocumented(path: Path, root: Path = ROOT) -> list[str]:
    """file:line name of each public definition in the file without a docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(root.parent)
    missing = [f"{rel}:1 (module)"] if ast.get_docstring(tree) is None else []
    for node in tree.body:
        if not _public(node):
            continue
        assert isinstance(node, Definition)
        if ast.get_docstring(node) is None:
            missing.append(f"{rel}:{node.lineno} {node.name}")
        if isinstance(node, ast.ClassDef):
            for member in node.body:
                if _public(member) and not isinstance(member, ast.ClassDef):
                    assert isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef)
                    if member.name.startswith("test_") or ast.get_docstring(member) is not None:
                        continue
                    missing.append(f"{rel}:{member.lineno} {node.name}.{member.name}")
    return missing


def test_every_public_definition_has_a_docstring() -> None:
    missing = [m for path in sorted(ROOT.rglob("*.py")) for m in undocumented(path)]
    assert missing == [], "add a one-line docstring saying why:\n" + "\n".join(missing)


def test_the_walk_sees_each_kind_of_definition(tmp_path: Path) -> None:
    source = (
        "def f():\n    pass\n"
        "class C:\n    def m(self):\n        pass\n    def _private(self):\n        pass\n"
        "    def test_named_as_a_sentence(self):\n        pass\n"
        "def _helper():\n    pass\n"
    )
    sample = tmp_path / "reconciler" / "sample.py"
    sample.parent.mkdir()
    sample.write_text(source)
    found = [m.split(" ", 1)[1] for m in undocumented(sample, sample.parent)]
    assert found == ["(module)", "f", "C", "C.m"]
