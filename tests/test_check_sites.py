"""Built-in checks in one registry (core.checks): a check's functions are called only where the registry
is iterated, so plan and apply judge every check, and a new check is one entry. Read from the source (an AST
walk of every call in the package): a call to a check's function anywhere else fails here, naming the file
and line."""

from __future__ import annotations

import ast
from pathlib import Path

from reconciler.core import checks

ROOT = Path(__file__).resolve().parents[1] / "reconciler"
# What the registry's entries call: each check's verdicts, and what they are made of.
CHECK_FUNCTIONS = {
    "valuation_denials", "order_size_denials", "oversized", "account_doubts", "doubtful_quotes",
    *(f.__name__ for c in checks.BUILTIN_CHECKS for f in (c.verdicts, c.on_observation, c.on_order) if f),
}
# Where they may be called: the registry's module, each function's own module (its helpers), and the planner,
# which computes the blocked lists the valuation check of the plan phase reads.
ALLOWED = {"core/checks.py", "core/valuation.py", "core/order_size.py", "core/planner.py"}


def _calls() -> list[tuple[str, int, str]]:
    found = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                if name in CHECK_FUNCTIONS:
                    found.append((rel, node.lineno, name))
    return found


def test_the_walk_sees_the_registry_s_own_calls() -> None:
    """The walk finds calls at all (else the test below passes on nothing)."""
    own = {name for rel, _, name in _calls() if rel == "core/checks.py"}
    assert own >= {"valuation_denials", "oversized"}


def test_no_check_is_called_outside_the_registry() -> None:
    assert [f"{rel}:{line} calls {name}" for rel, line, name in _calls() if rel not in ALLOWED] == []


def test_every_registry_iteration_is_a_registry_function() -> None:
    """plan and apply reach the checks through these three, each iterating BUILTIN_CHECKS by phase."""
    callers = {
        rel for rel, _, name in _iterations()
        if name in {"builtin_verdicts", "observation_denials", "order_denials"}
    }
    assert callers == {"execution/planning.py", "execution/executor.py", "execution/gate.py"}


def _iterations() -> list[tuple[str, int, str]]:
    found = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                found.append((rel, node.lineno, node.func.id))
    return found
