"""Every order's outcome reaches the terminal as it happens (issue 27, section 3): outcomes are added through one
method, ApplyResult.add, which tells the listener; a new path that appended to the list directly would print
nothing until the apply ended."""

from __future__ import annotations

import ast
from pathlib import Path

import reconciler

PACKAGE = Path(reconciler.__file__).parent


def _appends_to_outcomes() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("append", "extend", "insert")
                    and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "outcomes"):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return found


def _add() -> str:
    leg = (PACKAGE / "execution" / "leg.py").read_text().splitlines()
    return f"execution/leg.py:{next(n for n, line in enumerate(leg, start=1) if 'self.outcomes.append(' in line)}"


def test_the_walk_finds_apply_result_add() -> None:
    assert _add() in _appends_to_outcomes()


def test_only_apply_result_add_appends_an_order_outcome() -> None:
    allowed = {_add()}
    # workers.py's report.outcomes holds accounts (WorkOutcome), not orders: its own list, printed at the end.
    assert [p for p in _appends_to_outcomes() if p not in allowed and not p.startswith("execution/workers.py")] == []
