"""The package graph runs one way: the functional core depends on nothing of the project, `workspace` (YAML →
models) on the core, the brokers never on the executor, and only the CLI on the CLI. Read from the source's
imports (at module top or inside functions alike), so a new import that breaks the layering fails here, naming
the file."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "reconciler"
# Import nothing of the project above them.
LEAVES = {"errors", "clock", "bounded_http", "logs", "files", "strict_json", "shown", "__version__"}

# What each part may import, besides itself and the leaves. The order is the layering: each part only uses
# parts listed before it (execution and cli excepted: they use everything below them). `runtime` (the wiring
# of reconciler.yaml into services) comes after execution: execution sees services through execution.services,
# never the wiring, and only the CLI builds it.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "calendars": {"core"},
    "workspace": {"core", "calendars"},
    "secrets": {"workspace"},
    "policy": {"core", "workspace", "secrets"},  # secrets: a deny message is scrubbed where it is made
    "render": {"core", "workspace"},
    "backtest": {"core", "workspace", "calendars"},
    "journal": {"core", "secrets"},
    "brokers": {"core", "workspace", "calendars", "secrets", "journal"},
    # Alpaca on 127.0.0.1 for tests and demos; only the CLI (and tests) run it
    "emulator": {"core", "calendars"},
    "notify": {"workspace", "secrets"},
    "gitops": {"core", "workspace", "journal", "render", "secrets"},
    "execution": {
        "core",
        "workspace",
        "calendars",
        "secrets",
        "policy",
        "journal",
        "brokers",
        "gitops",
        "render",
    },
    "runtime": {"core", "workspace", "calendars", "secrets", "policy", "journal", "brokers", "gitops"},
    "cli": {"*"},
    "testing": {"core", "brokers"},  # suites a plug-in's own tests import (the broker contract)
}
# The adapters' own modules: only their plug-in modules (and the brokers package itself) import them;
# everything else reaches an adapter through `brokers.plugin`, by the configuration's kind.
ADAPTERS = ("paper", "alpaca", "ccxt")


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__version__"


def imports() -> dict[str, set[tuple[str, str]]]:
    """part → {(imported part, file)} for every import of the project, wherever it stands in the file."""
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        part = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        if part == "__init__":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "reconciler":
                top = node.module == "reconciler"  # from reconciler import calendars, __version__
                targets = [f"reconciler.{a.name}" for a in node.names] if top else [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("reconciler.")]
            for target in targets:
                if _part(target) != part:
                    found[part].add((_part(target), str(rel)))
    return found


def test_every_import_follows_the_layering() -> None:
    wrong = []
    for part, used in sorted(imports().items()):
        allowed = ALLOWED.get(part, set())
        for target, where in sorted(used):
            if "*" in allowed or target in LEAVES or target in allowed:
                continue
            wrong.append(f"reconciler/{where}: {part} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_leaves_import_nothing_of_the_project_but_errors() -> None:
    """(and `shown`, the escapers of text for each output, which import nothing at all)"""
    used = imports()
    assert not used.get("shown")
    for leaf in LEAVES - {"__version__"}:
        assert {t for t, _ in used.get(leaf, set())} <= {"errors", "shown"}, (leaf, used.get(leaf))


def test_there_is_no_package_cycle() -> None:
    graph = {part: {t for t, _ in used} for part, used in imports().items()}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    cycles = sorted({tuple(sorted((a, b))) for a in graph for b in graph[a] if reaches(b, a)})
    assert not cycles, cycles


def test_the_check_sees_a_violation() -> None:
    """The scan itself works: the core really is checked (a planted import of the executor would be seen)."""
    tree = ast.parse("from reconciler.execution.executor import apply_plan\n")
    node = tree.body[0]
    assert isinstance(node, ast.ImportFrom)
    assert node.module is not None
    assert _part(node.module) == "execution"
    assert "execution" not in ALLOWED["core"]
    assert "execution" not in ALLOWED["brokers"]
    assert "core" in imports()
    assert "brokers" in imports()


def test_only_the_cli_imports_the_emulator() -> None:
    """The emulator is a test double served over HTTP, not a `Broker`: the product reaches it only through the
    Alpaca adapter, so no part but the CLI (`reconciler emulator`) may import it."""
    assert sorted(part for part, allowed in ALLOWED.items() if "emulator" in allowed or "*" in allowed) == [
        "cli"
    ]
    assert {part for part, used in imports().items() if "emulator" in {t for t, _ in used}} <= {"cli"}


def test_only_the_journal_knows_its_tables() -> None:
    """The work queue, locks, applied commits and the paper broker's books all go through the journal's API: a
    module elsewhere that imports the table definitions writes SQL the journal cannot keep consistent."""
    wrong = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "journal":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "reconciler.journal":
                names = {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = {node.module.removeprefix("reconciler.journal.")} if node.module.startswith(
                    "reconciler.journal.") else set()
            elif isinstance(node, ast.Import):
                names = {a.name.removeprefix("reconciler.journal.") for a in node.names}
            else:
                continue
            if "tables" in names:
                wrong.append(str(rel))
    assert not wrong, wrong


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def test_no_product_code_imports_the_test_suites() -> None:
    """`reconciler.testing` needs pytest: the product never imports it, only test suites (ours and
    plug-ins')."""
    wrong = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py") if p.relative_to(ROOT).parts[0] != "testing"
             and any(m.startswith("reconciler.testing") for m in _imported_modules(p))]
    assert wrong == []


def test_adapters_are_reached_through_their_plug_ins() -> None:
    """A module outside brokers/ that imports an adapter (brokers.paper, .alpaca, .ccxt) picks a broker by
    hand again, beside the kind the configuration names."""
    adapters = {f"reconciler.brokers.{name}" for name in ADAPTERS}
    wrong = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py") if p.relative_to(ROOT).parts[0] != "brokers"
             and _imported_modules(p) & adapters]
    assert wrong == []


# The one agreed edge from execution to the wiring: none. Execution takes `execution.services.Services`
# (read-only) and an `ApplySession`; the command builds the runtime and passes it in.
EXECUTION_IMPORTS_OF_RUNTIME: set[str] = set()


def test_execution_never_imports_the_runtime() -> None:
    """Every module under execution/ (at top, inside functions or under TYPE_CHECKING alike) is read: one that
    imports `reconciler.runtime` reaches the grab-bag again instead of the services it was given."""
    found = {
        str(p.relative_to(ROOT)) for p in (ROOT / "execution").rglob("*.py")
        if any(m == "reconciler.runtime" or m.startswith("reconciler.runtime.") for m in _imported_modules(p))
    }
    assert found == EXECUTION_IMPORTS_OF_RUNTIME


@pytest.mark.parametrize("form", [
    "from reconciler.runtime import Runtime", "import reconciler.runtime", "from reconciler import runtime",
    "def f():\n    from reconciler.runtime import actor",
])
def test_the_runtime_check_sees_every_form_of_the_import(form: str, tmp_path: Path) -> None:
    """The scan behind the test above sees the import however it is written, at top or inside a function."""
    path = tmp_path / "planted.py"
    path.write_text(form + "\n", encoding="utf-8")
    assert "reconciler.runtime" in _imported_modules(path)
