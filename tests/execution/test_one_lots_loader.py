"""One lots loader, one field (issue 26): the journal's lot ledger is read in one module, the planner's
copy of an account's lots is loaded in one place (execution.tax_inputs) onto one field (`Observation.lots`),
and the household carries no lots of its own. Walks the package's syntax trees, so a second loader cannot
come back unseen."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import reconciler

ROOT = Path(reconciler.__file__).parent

# Who may touch the journal's `lots` table: the ledger's reader and importer, and the fills that book lots in
# their own transaction. (tables.py declares it; the migrations create it.)
LOTS_TABLE = {"journal/lots.py", "journal/lot_book.py"}
# Who may load an account's lots from the journal: the plan's one loader, and the `lots` command showing them.
LOADERS = {"execution/tax_inputs.py", "execution/lots.py"}
# Who may put lots on a live observation: the plan's one loader. (The backtester's lots are its run's own
# book, not the journal's: reconciler/backtest is not walked for this.)
SETTERS = {"execution/tax_inputs.py"}


def _trees() -> Iterator[tuple[str, ast.AST]]:
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if not rel.startswith("journal/migrations/"):
            yield rel, ast.parse(path.read_text(encoding="utf-8"))


def _tables_aliases(tree: ast.AST) -> set[str]:
    """The names the module binds the journal's tables module to (`from reconciler.journal import tables as
    t`, `import reconciler.journal.tables as t`)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "reconciler.journal":
            names |= {a.asname or a.name for a in node.names if a.name == "tables"}
        elif isinstance(node, ast.Import):
            names |= {a.asname for a in node.names if a.name == "reconciler.journal.tables" and a.asname}
        elif isinstance(node, ast.ImportFrom) and node.module == "reconciler.journal.tables":
            names |= {"<lots>" for a in node.names if a.name == "lots"}
    return names


def _calls(tree: ast.AST, name: str) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if (isinstance(f, ast.Name) and f.id == name) or (
                isinstance(f, ast.Attribute) and f.attr == name
            ):
                yield node


def test_only_the_ledger_touches_the_lots_table() -> None:
    found = set()
    for rel, tree in _trees():
        aliases = _tables_aliases(tree)
        if "<lots>" in aliases:
            found.add(rel)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr == "lots" and isinstance(node.value, ast.Name)
                    and node.value.id in aliases):
                found.add(rel)
    assert found == LOTS_TABLE


def test_an_accounts_lots_are_loaded_in_one_place_for_the_plan() -> None:
    found = {rel for rel, tree in _trees() if rel != "journal/lots.py" and any(_calls(tree, "account_lots"))}
    assert found == LOADERS


def test_the_plans_loader_loads_them_once() -> None:
    tree = ast.parse((ROOT / "execution/tax_inputs.py").read_text(encoding="utf-8"))
    assert len(list(_calls(tree, "account_lots"))) == 1


def _sets_lots(tree: ast.AST) -> bool:
    """Whether the module puts `lots` on a model: a `lots=` keyword, or a `"lots"` key of a model_copy's
    update."""
    for call in _calls(tree, "model_copy"):
        for kw in call.keywords:
            if kw.arg == "update" and isinstance(kw.value, ast.Dict) and any(
                isinstance(k, ast.Constant) and k.value == "lots" for k in kw.value.keys
            ):
                return True
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {
            "Observation", "Household"
        } and any(kw.arg == "lots" for kw in node.keywords):
            return True
    return False


def test_one_place_puts_lots_on_a_live_observation() -> None:
    found = {rel for rel, tree in _trees() if not rel.startswith("backtest/") and _sets_lots(tree)}
    assert found == SETTERS


def test_no_household_is_built_with_lots() -> None:
    built = [
        rel for rel, tree in _trees() for call in _calls(tree, "Household")
        if any(kw.arg == "lots" for kw in call.keywords)
    ]
    assert built == []


def test_the_walk_sees_a_second_loader() -> None:
    """The walks find what they look for: a module loading lots a second way is caught."""
    tree = ast.parse(
        "from reconciler.journal import tables as t\n"
        "from reconciler.journal.lots import account_lots\n"
        "def f(j, obs):\n"
        "    rows = t.lots.select()\n"
        "    return obs.model_copy(update={'lots': account_lots(j, obs.account)})\n"
    )
    assert "t" in _tables_aliases(tree)
    assert len(list(_calls(tree, "account_lots"))) == 1
    assert _sets_lots(tree)
