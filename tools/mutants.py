"""The mutants of a module: every small change tools/mutate.py makes to reconciler/core, found on its syntax
tree, numbered in a fixed order, shown as the source line before and after; and the equivalent mutants' file.

Pure: nothing here runs a test (tools/mutate.py does), so the pytest plugin can build a mutant's code from it.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import CodeType

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "reconciler" / "core"
EQUIVALENT = ROOT / "tools" / "equivalent-mutants.tsv"


def module_path(name: str) -> Path:
    """The source file of a module of this repository, found without importing it."""
    return ROOT.joinpath(*name.split(".")).with_suffix(".py")


# --- the changes --------------------------------------------------------------------------------------------

_COMPARE: dict[type[ast.cmpop], tuple[type[ast.cmpop], ...]] = {
    # One tick over the edge first, then the negation.
    ast.Lt: (ast.LtE, ast.GtE), ast.LtE: (ast.Lt, ast.Gt), ast.Gt: (ast.GtE, ast.LtE),
    ast.GtE: (ast.Gt, ast.Lt),
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


def _replacer(
    parent: ast.AST, name: str, index: int | None, new: ast.AST, old: ast.AST
) -> Callable[[], ast.AST]:
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
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        and isinstance(parent, bodies)
        and name == "body"
        and index == 0
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
# decorators, and `zip(strict=True)` (a length check the lists already satisfy: its mutant is always
# equivalent).
_SKIP_FIELDS = {"annotation", "returns", "decorator_list", "type_comment"}


def _decimal_tick(text: str) -> str | None:
    """A numeric string moved by one unit in its last place ("0.05" → "0.06"), or None when it is not a
    number."""
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
        yield (
            "boolean",
            swap(ast.BoolOp(ast.Or() if isinstance(node.op, ast.And) else ast.And(), node.values)),
            node,
        )
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        yield ("negation" if isinstance(node.op, ast.Not) else "arith"), swap(node.operand), node
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
        yield "constant", swap(ast.Constant(node.value + 1)), node
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield "constant", swap(ast.Constant(not node.value)), node
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        fn = node.func.id
        if fn in _SWAP_CALLS:
            yield (
                "call",
                swap(ast.Call(ast.Name(_SWAP_CALLS[fn], ast.Load()), node.args, node.keywords)),
                node,
            )
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
        yield (
            "negation",
            _replacer(node, "test", None, ast.UnaryOp(ast.Not(), node.test), node.test),
            node.test,
        )


def _walk(node: ast.AST, parent: ast.AST | None = None, name: str = "", index: int | None = None
          ) -> Iterator[tuple[str, Callable[[], ast.AST], ast.AST]]:
    if _is_docstring(node, parent, name, index) or isinstance(
        node, (ast.JoinedStr, ast.ImportFrom, ast.Import)
    ):
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


# --- equivalent mutants -------------------------------------------------------------------------------------

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
