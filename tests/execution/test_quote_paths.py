"""Every path that values an account with quotes outside the backtester corroborates them: a walk of the
package finds each call of the planner and of the quote check and fails on one that leaves out the limits or
the journal's fill prices (core.valuation), so a new path cannot skip corroboration."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"
# The arguments up to and including `references`, by position: (desired, obs, costs, limits, references) etc.
NEEDED = {"plan_portfolio": 5, "plan_many": 4, "doubtful_quotes": 5}
KEYWORDS = {"plan_portfolio": {"limits", "references"}, "plan_many": {"limits", "references"},
            "doubtful_quotes": {"references", "floors"}}
# The backtester replays history with no broker and no journal: its quotes are the data under test. The core
# is pure, but its registry of built-in checks is how apply judges a fresh observation (core.checks): walked
# too.
EXEMPT = ("backtest/", "core/")
WALKED = ("core/checks.py",)


def _calls() -> list[tuple[str, ast.Call]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(EXEMPT) and rel not in WALKED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                if name in NEEDED:
                    found.append((f"{rel}:{node.lineno} {name}", node))
    return found


def test_the_walk_finds_the_known_paths() -> None:
    where = {label.split(":")[0] for label, _ in _calls()}
    assert where == {
        "execution/planning.py",
        "execution/status.py",
        "execution/preflight.py",
        "core/checks.py",
    }


def test_every_path_passes_limits_and_fill_prices() -> None:
    skipping = []
    for label, call in _calls():
        name = label.rsplit(" ", 1)[1]
        given = {k.arg for k in call.keywords} & KEYWORDS[name]
        if len(call.args) + len(given) < NEEDED[name]:
            skipping.append(label)
    assert skipping == []
