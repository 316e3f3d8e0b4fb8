"""Mutation testing of the functional core: how much of each rule do the tests pin? (`make mutate`, docs/mutation.md)

Each mutant is one small change to one module of `reconciler/core` (a `>` made `>=`, a `+` made `-`, a constant
moved one tick, a guard removed, a return emptied, a condition negated). A mutant is run against the tests that
import its module and ran its line (traced once per module, unmutated), fastest first, with `-x` and a fixed
hypothesis profile; it is killed when a test fails or the run times out. Mutants listed in
tools/equivalent-mutants.tsv (ones no test could kill: the behaviour is the same) are left out of the score.

    python tools/mutate.py                      # every module with a score target, one after another
    python tools/mutate.py --module planner     # one module
    python tools/mutate.py --sample 40 --max-seconds 600 --seed 7   # a time-bounded random sample (CI)
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import CodeType

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "reconciler" / "core"
EQUIVALENT = ROOT / "tools" / "equivalent-mutants.tsv"
# The modules the score targets are set for (docs/mutation.md), in the order a plain `make mutate` runs them.
TARGETS = {"fills": 95, "weights": 95, "valuation": 95, "order_size": 95, "envelope": 95, "drift": 95, "planner": 90}
PYTEST_ARGS = ["-x", "-q", "-p", "tools.mutate_plugin", "-p", "no:cacheprovider", "-o", "addopts=", "--no-header"]


def module_path(name: str) -> Path:
    """The source file of a module of this repository, found without importing it."""
    return ROOT.joinpath(*name.split(".")).with_suffix(".py")


# --- mutants ------------------------------------------------------------------------------------------------------

_COMPARE: dict[type[ast.cmpop], tuple[type[ast.cmpop], ...]] = {
    # One tick over the edge first, then the negation.
    ast.Lt: (ast.LtE, ast.GtE), ast.LtE: (ast.Lt, ast.Gt), ast.Gt: (ast.GtE, ast.LtE), ast.GtE: (ast.Gt, ast.Lt),
    ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,), ast.In: (ast.NotIn,), ast.NotIn: (ast.In,),
    ast.Is: (ast.IsNot,), ast.IsNot: (ast.Is,),
}
_ARITH: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
    ast.BitOr: ast.BitAnd, ast.BitAnd: ast.BitOr,
}
_SWAP_CALLS = {"min": "max", "max": "min"}


@dataclass
class Mutant:
    """One change, applied in place to the tree it was found in by `apply` (which returns the node put in)."""

    index: int
    kind: str
    line: int
    end_line: int
    col: int
    end_col: int
    apply: Callable[[], ast.AST]
    replaced: ast.AST
    module: str = ""
    original: str = ""
    mutated: str = ""

    @property
    def lines(self) -> range:
        return range(self.line, self.end_line + 1)


def _replacer(parent: ast.AST, name: str, index: int | None, new: ast.AST, old: ast.AST) -> Callable[[], ast.AST]:
    def apply() -> ast.AST:
        ast.copy_location(new, old)
        if index is None:
            setattr(parent, name, new)
        else:
            getattr(parent, name)[index] = new
        return new

    return apply


def _is_docstring(node: ast.AST, parent: ast.AST | None, name: str, index: int | None) -> bool:
    bodies = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return (
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        and isinstance(parent, bodies) and name == "body" and index == 0
    )


def _children(node: ast.AST) -> Iterator[tuple[str, int | None, ast.AST]]:
    for name, value in ast.iter_fields(node):
        if isinstance(value, ast.AST):
            yield name, None, value
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield name, i, item


# What is never mutated: what only a type checker reads, the words of messages (f-strings), docstrings,
# decorators, and `zip(strict=True)` (a length check the lists already satisfy: its mutant is always equivalent).
_SKIP_FIELDS = {"annotation", "returns", "decorator_list", "type_comment"}


def _decimal_tick(text: str) -> str | None:
    """A numeric string moved by one unit in its last place ("0.05" → "0.06"), or None when it is not a number."""
    try:
        d = Decimal(text)
    except InvalidOperation:
        return None
    if not d.is_finite():
        return None
    return str(d + Decimal(1).scaleb(d.as_tuple().exponent if isinstance(d.as_tuple().exponent, int) else 0))


def _sites(
    node: ast.AST, parent: ast.AST | None, name: str, index: int | None
) -> Iterator[tuple[str, Callable[[], ast.AST], ast.AST]]:
    """(kind, apply, the node replaced) for every mutant of this node itself (not its children)."""

    def swap(new: ast.AST) -> Callable[[], ast.AST]:
        assert parent is not None
        return _replacer(parent, name, index, new, node)

    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            for alt in _COMPARE.get(type(op), ()):
                new = copy.copy(node)
                new.ops = [*node.ops[:i], alt(), *node.ops[i + 1:]]
                yield "compare", swap(new), node
    elif isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        yield "arith", swap(ast.BinOp(node.left, _ARITH[type(node.op)](), node.right)), node
    elif isinstance(node, ast.BoolOp):
        yield "boolean", swap(ast.BoolOp(ast.Or() if isinstance(node.op, ast.And) else ast.And(), node.values)), node
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        yield ("negation" if isinstance(node.op, ast.Not) else "arith"), swap(node.operand), node
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
        yield "constant", swap(ast.Constant(node.value + 1)), node
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield "constant", swap(ast.Constant(not node.value)), node
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        fn = node.func.id
        if fn in _SWAP_CALLS:
            yield "call", swap(ast.Call(ast.Name(_SWAP_CALLS[fn], ast.Load()), node.args, node.keywords)), node
        elif fn == "abs" and len(node.args) == 1:
            yield "call", swap(node.args[0]), node
        elif fn == "Decimal" and len(node.args) == 1 and isinstance(node.args[0], ast.Constant):
            value = node.args[0].value
            ticked = _decimal_tick(value) if isinstance(value, str) else None
            if ticked is not None:
                arg = node.args[0]
                yield "constant", _replacer(node, "args", 0, ast.Constant(ticked), arg), arg
    elif isinstance(node, ast.AugAssign) and type(node.op) in _ARITH:
        yield "arith", swap(ast.AugAssign(node.target, _ARITH[type(node.op)](), node.value)), node
    elif isinstance(node, ast.Return) and node.value is not None and not (
        isinstance(node.value, ast.Constant) and node.value.value is None
    ):
        yield "return", _replacer(node, "value", None, ast.Constant(None), node.value), node.value
    elif isinstance(node, ast.Continue):
        yield "guard", swap(ast.Break()), node
    elif isinstance(node, ast.Break):
        yield "guard", swap(ast.Continue()), node
    if isinstance(node, ast.If):
        yield "guard", _replacer(node, "test", None, ast.Constant(False), node.test), node.test
        if not isinstance(node.test, (ast.Compare, ast.BoolOp, ast.UnaryOp)):
            new = ast.UnaryOp(ast.Not(), node.test)
            yield "negation", _replacer(node, "test", None, new, node.test), node.test
    elif isinstance(node, ast.IfExp) and not isinstance(node.test, (ast.Compare, ast.BoolOp, ast.UnaryOp)):
        yield "negation", _replacer(node, "test", None, ast.UnaryOp(ast.Not(), node.test), node.test), node.test


def _walk(node: ast.AST, parent: ast.AST | None = None, name: str = "", index: int | None = None
          ) -> Iterator[tuple[str, Callable[[], ast.AST], ast.AST]]:
    if _is_docstring(node, parent, name, index) or isinstance(node, (ast.JoinedStr, ast.ImportFrom, ast.Import)):
        return
    if isinstance(node, ast.keyword) and node.arg == "strict":
        return
    yield from _sites(node, parent, name, index)
    for child_name, child_index, child in _children(node):
        if child_name not in _SKIP_FIELDS:
            yield from _walk(child, node, child_name, child_index)


def find_mutants(tree: ast.Module) -> list[Mutant]:
    """Every mutant of a module's tree, numbered in a fixed order; each `apply` changes that very tree."""
    out = []
    for i, (kind, apply, old) in enumerate(_walk(tree)):
        line, col = old.lineno, old.col_offset  # type: ignore[attr-defined]
        end_line = old.end_lineno or line  # type: ignore[attr-defined]
        end_col = old.end_col_offset or col  # type: ignore[attr-defined]
        out.append(Mutant(i, kind, line, end_line, col, end_col, apply, old))
    return out


def mutant_code(path: Path, index: int) -> CodeType:
    """The module at `path` compiled with its `index`-th mutant applied."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    find_mutants(tree)[index].apply()
    ast.fix_missing_locations(tree)
    return compile(tree, str(path), "exec", dont_inherit=True)


def _shown(new: ast.AST, old: ast.AST) -> str:
    """The node put in, in parentheses where it is an operation of another kind than the one it replaced."""
    text = ast.unparse(new)
    operations = (ast.BoolOp, ast.BinOp, ast.Compare, ast.IfExp, ast.UnaryOp)
    return f"({text})" if isinstance(new, operations) and type(new) is not type(old) else text


def describe(path: Path, module: str) -> list[Mutant]:
    """Every mutant of a module, with its source line before and after (one line, as a reviewer reads it)."""
    source = path.read_text(encoding="utf-8")
    raw = source.encode()
    starts = [0]
    for line in raw.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    mutants = []
    for m in find_mutants(ast.parse(source, str(path))):
        tree = ast.parse(source, str(path))
        fresh = find_mutants(tree)[m.index]
        old = fresh.replaced
        new = fresh.apply()
        a, b = starts[m.line - 1] + m.col, starts[m.end_line - 1] + m.end_col
        line_start, line_end = starts[m.line - 1], starts[m.end_line]
        before = raw[line_start:line_end].decode()
        after = (raw[line_start:a] + _shown(new, old).encode() + raw[b:line_end]).decode()
        m.module, m.original, m.mutated = module, _one_line(before), _one_line(after)
        mutants.append(m)
    return mutants


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# --- equivalent mutants -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Equivalent:
    module: str
    original: str
    mutated: str
    reason: str


def load_equivalents(path: Path = EQUIVALENT) -> list[Equivalent]:
    """module <TAB> original line <TAB> mutated line <TAB> why no test can tell them apart; # comments."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if path.exists() else []:
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 4 or not parts[3].strip():
            raise SystemExit(f"{path}:{n}: expected module, original, mutated and reason separated by tabs")
        out.append(Equivalent(*(p.strip() for p in parts)))
    return out


# --- running ------------------------------------------------------------------------------------------------------

def module_tests(module: str) -> list[str]:
    """The test files that import a core module (from it, or it from its package)."""
    pattern = re.compile(
        rf"^\s*(from reconciler\.core\.{module} import|import reconciler\.core\.{module}\b"
        rf"|from reconciler\.core import .*\b{module}\b)", re.MULTILINE,
    )
    return sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py")
        if pattern.search(p.read_text(encoding="utf-8"))
    )


def _env(module: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUTATE_")}
    env.update(MUTATE_MODULE=f"reconciler.core.{module}", HYPOTHESIS_PROFILE="mutate", PYTHONPATH=str(ROOT), **extra)
    return env


@dataclass
class Coverage:
    seconds: dict[str, float]
    by_line: dict[int, list[str]]
    at_import: set[int]
    wall: float

    def tests_for(self, m: Mutant) -> list[str]:
        """The tests that ran the mutant's lines, fastest first; every test for module-level code."""
        if any(line in self.at_import for line in m.lines):
            chosen = set(self.seconds)
        else:
            chosen = {t for line in m.lines for t in self.by_line.get(line, [])}
        return sorted(chosen, key=lambda t: (self.seconds.get(t, 0.0), t))


def trace(module: str, files: list[str]) -> Coverage:
    """Run the module's tests once, unmutated, recording which test ran which line; they must pass."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "trace.json"
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "pytest", *PYTEST_ARGS, *files], cwd=ROOT, env=_env(module, MUTATE_TRACE=str(out)),
            capture_output=True, text=True,
        )
        wall = time.monotonic() - started
        if run.returncode != 0 or not out.exists():
            sys.stdout.write(run.stdout[-4000:] + run.stderr[-4000:])
            raise SystemExit(f"{module}: the tests fail without any mutant; fix them first")
        data = json.loads(out.read_text())
    by_line: dict[int, list[str]] = {}
    for test, lines in data["lines"].items():
        if test != "<import>":
            for line in lines:
                by_line.setdefault(line, []).append(test)
    return Coverage(data["seconds"], by_line, set(data["lines"].get("<import>", [])), wall)


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed, timeout, survived, uncovered, equivalent
    seconds: float = 0.0
    tests: int = 0


def warm_up(files: list[str]) -> None:
    """Import pytest, the test files and all they import once, then forget the project's own modules: each mutant's
    run forks from here and imports only those again (a fresh `python -m pytest` spends seconds on the rest)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ["HYPOTHESIS_PROFILE"] = "mutate"
    import importlib

    for f in ["tests/conftest.py", *files]:
        importlib.import_module(f.removesuffix(".py").replace("/", "."))
    _forget_project()
    # The children use this very copy of the mutator and its plugin, whatever happens to the files meanwhile.
    if __name__ == "__main__":
        sys.modules.setdefault("tools.mutate", sys.modules["__main__"])
    importlib.import_module("tools.mutate_plugin")


def _forget_project() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in ("reconciler", "tests"):
            del sys.modules[name]


def run_mutant(m: Mutant, tests: list[str], timeout: float) -> Outcome:
    """Run the tests against one mutant in a child forked from the warmed-up runner; killed at the timeout."""
    import pytest

    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 3
        try:
            os.setpgid(0, 0)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            _forget_project()
            os.environ.update(_env(m.module, MUTATE_MUTANT=str(m.index)))
            os.chdir(ROOT)
            code = int(pytest.main([*PYTEST_ARGS, *tests]))
        finally:
            os._exit(code)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() - started > timeout:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)  # the child's own group: a mutant that loops forever
            os.waitpid(pid, 0)
            return Outcome(m, "timeout", time.monotonic() - started, len(tests))
        time.sleep(0.02)
    if code in (4, 5):
        raise SystemExit(f"pytest could not run the tests for mutant {m.module}#{m.index} (exit {code})")
    # 1: a test failed; 2 and 3: the mutant broke collection or pytest itself (an import-time crash): killed.
    return Outcome(m, "survived" if code == 0 else "killed", time.monotonic() - started, len(tests))


@dataclass
class Score:
    module: str
    outcomes: list[Outcome] = field(default_factory=list)
    total: int = 0

    def count(self, *statuses: str) -> int:
        return sum(1 for o in self.outcomes if o.status in statuses)

    @property
    def scored(self) -> int:
        return len(self.outcomes) - self.count("equivalent")

    @property
    def percent(self) -> float:
        return 100.0 * self.count("killed", "timeout") / self.scored if self.scored else 100.0


def mutate_module(
    module: str, equivalents: list[Equivalent], picked: set[int] | None, deadline: float | None,
    log: Callable[[str], None],
) -> Score:
    path = CORE / f"{module}.py"
    mutants = describe(path, module)
    score = Score(module, total=len(mutants))
    files = module_tests(module)
    if not files:
        raise SystemExit(f"no test file imports reconciler.core.{module}")
    known = {(e.original, e.mutated) for e in equivalents if e.module == module}
    todo = [m for m in mutants if picked is None or m.index in picked]
    if not todo:
        return score
    cov = trace(module, files)
    warm_up(files)
    log(f"{module}: {len(mutants)} mutants, {len(todo)} to run; tests from {', '.join(files)}"
        f" ({len(cov.seconds)} tests, {cov.wall:.0f}s traced)")
    for n, m in enumerate(todo):
        if n and n % 25 == 0:
            log(f"  {n} of {len(todo)} run, {sum(1 for o in score.outcomes if o.status in ('survived', 'uncovered'))}"
                " survived so far")
        if deadline is not None and time.monotonic() > deadline:
            log(f"{module}: time is up; {len(todo) - len(score.outcomes)} mutants not run")
            break
        if (m.original, m.mutated) in known:
            score.outcomes.append(Outcome(m, "equivalent"))
            continue
        tests = cov.tests_for(m)
        if not tests:
            score.outcomes.append(Outcome(m, "uncovered"))
            log(f"  uncovered {path.relative_to(ROOT)}:{m.line}  {m.mutated}")
            continue
        budget = 10 + 3 * sum(cov.seconds.get(t, 0.0) for t in tests) + 2 * (cov.wall - sum(cov.seconds.values()))
        outcome = run_mutant(m, tests, budget)
        score.outcomes.append(outcome)
        if outcome.status in ("survived", "uncovered"):
            log(f"  survived {path.relative_to(ROOT)}:{m.line}  {m.mutated}")
    return score


def report(scores: list[Score], sampled: bool) -> str:
    rows = [f"{'module':<12} {'mutants':>7} {'run':>5} {'equiv':>5} {'killed':>6} {'survived':>8} {'score':>7}  target"]
    for s in scores:
        target = TARGETS.get(s.module)
        mark = "" if target is None else (f"{target}% met" if s.percent >= target else f"{target}% MISSED")
        rows.append(
            f"{s.module:<12} {s.total:>7} {len(s.outcomes):>5} {s.count('equivalent'):>5}"
            f" {s.count('killed', 'timeout'):>6} {s.count('survived', 'uncovered'):>8} {s.percent:>6.1f}%  {mark}"
        )
    if sampled:
        rows.append("(a part of the mutants only: scores are over the mutants run)")
    for s in scores:
        for o in s.outcomes:
            if o.status in ("survived", "uncovered"):
                note = " (no test runs this line)" if o.status == "uncovered" else ""
                rows.append(f"SURVIVED reconciler/core/{s.module}.py:{o.mutant.line}  [{o.mutant.kind}]{note}")
                rows.append(f"    - {o.mutant.original}")
                rows.append(f"    + {o.mutant.mutated}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", help="a module of reconciler/core (repeatable); default: "
                        + ", ".join(TARGETS))
    parser.add_argument("--sample", type=int, help="run this many mutants drawn at random across the modules")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    parser.add_argument("--max-seconds", type=float, help="start no mutant after this long")
    parser.add_argument("--list", action="store_true", help="list the mutants and run nothing")
    parser.add_argument("--json", type=Path, help="also write every outcome here")
    parser.add_argument("--survivors-of", type=Path, metavar="JSON",
                        help="run only the mutants that survived in this earlier --json (after adding tests)")
    args = parser.parse_args(argv)
    modules = args.module or list(TARGETS)
    for name in modules:
        if not (CORE / f"{name}.py").exists():
            parser.error(f"no module reconciler/core/{name}.py")
    equivalents = load_equivalents()
    if args.list:
        for name in modules:
            for m in describe(CORE / f"{name}.py", name):
                print(f"{name}#{m.index} reconciler/core/{name}.py:{m.line} [{m.kind}] {m.mutated}")
        return 0
    picked: dict[str, set[int] | None] = dict.fromkeys(modules)
    if args.sample is not None:
        everything = [(name, m.index) for name in modules for m in describe(CORE / f"{name}.py", name)]
        chosen = random.Random(args.seed).sample(everything, min(args.sample, len(everything)))
        picked = {name: {i for n, i in chosen if n == name} for name in modules}
    if args.survivors_of is not None:
        alive = {(o["module"], o["original"], o["mutated"]) for o in json.loads(args.survivors_of.read_text())
                 if o["status"] in ("survived", "uncovered")}
        picked = {
            name: {m.index for m in describe(CORE / f"{name}.py", name) if (name, m.original, m.mutated) in alive
                   and (picked[name] is None or m.index in (picked[name] or ()))}
            for name in modules
        }
    deadline = time.monotonic() + args.max_seconds if args.max_seconds else None
    scores = []
    for name in modules:
        scores.append(mutate_module(name, equivalents, picked[name], deadline, lambda s: print(s, flush=True)))
    partial = args.sample is not None or deadline is not None or args.survivors_of is not None
    print(report(scores, partial))
    _stale(equivalents, modules)
    if args.json:
        args.json.write_text(json.dumps([
            {"module": o.mutant.module, "index": o.mutant.index, "line": o.mutant.line, "kind": o.mutant.kind,
             "status": o.status, "original": o.mutant.original, "mutated": o.mutant.mutated, "seconds": o.seconds}
            for s in scores for o in s.outcomes
        ], indent=1))
    missed = [s for s in scores if s.module in TARGETS and s.percent < TARGETS[s.module]]
    return 1 if missed and not partial else 0


def _stale(equivalents: list[Equivalent], modules: list[str]) -> None:
    """Entries of the equivalents file that match no mutant any more (the code changed): to be deleted."""
    for name in modules:
        present = {(m.original, m.mutated) for m in describe(CORE / f"{name}.py", name)}
        for e in equivalents:
            if e.module == name and (e.original, e.mutated) not in present:
                print(f"stale entry in {EQUIVALENT.relative_to(ROOT)}: {name}: {e.mutated}")


if __name__ == "__main__":
    sys.exit(main())
