"""The error tree lives in one module and is drawn there: every error class of the project is defined in
reconciler/errors.py (a subclass of one of its classes anywhere else fails here, naming the file), and the
docstring's drawing names each of them under its parent."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from reconciler import errors

ROOT = Path(errors.__file__).resolve().parent
DEFINED = {
    name for name, obj in vars(errors).items() if inspect.isclass(obj) and issubclass(obj, BaseException)
}


def test_no_error_class_is_defined_outside_errors_py() -> None:
    wrong = []
    for path in ROOT.rglob("*.py"):
        if path.name == "errors.py" and path.parent == ROOT:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {
                    b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else ""
                    for b in node.bases
                }
                if bases & DEFINED:
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert wrong == []


def test_the_docstring_draws_every_class() -> None:
    drawn = set(re.findall(r"^    [│ ]*(?:[├└]── )?([A-Z][A-Za-z]+)\b", errors.__doc__ or "", re.M))
    assert sorted(DEFINED - drawn) == []


def test_each_class_is_drawn_under_its_parent() -> None:
    """The drawing's indentation is the hierarchy: each class sits below its direct base."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        m = re.match(r"^(    [│ ]*(?:[├└]── )?)([A-Z][A-Za-z]+)\s", line)  # the drawing: indented 4
        if not m or m.group(2) not in DEFINED:
            continue
        depth = len(m.group(1))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[m.group(2)] = stack[-1][1]
        stack.append((depth, m.group(2)))
    assert sorted(DEFINED - set(parents)) == ["OutputError", "ReconcilerError"]  # the two roots
    for name, parent in parents.items():
        assert getattr(errors, name).__bases__[0].__name__ == parent, name
