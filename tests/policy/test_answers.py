"""Every evaluator answer is read by one guard (policy/answers.py): the code is walked so a new query cannot
read its answer elsewhere, and malformed answers (not JSON, several results, an exception of another type)
either fall back from the bundle to the normal query, which then decides, or are refused naming the policy,
never a traceback."""

from __future__ import annotations

import ast
import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import PolicyFileError
from reconciler.policy import answers, engine
from reconciler.policy.answers import Answer, ask, documents
from reconciler.policy.engine import PolicySet, load_policies

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "reconciler"
GUARD = PACKAGE / "policy" / "answers.py"
QUERIES = {"query", "query_bundle"}  # regopy's calls that return an answer
# What reading an answer takes: outside the guard, none of these may appear where the evaluator is used.
READING = {"results", "ok", "node", "expressions", "JSONDecodeError", "loads"}
# Reads of something other than a query's answer, each with why (the source text of the read, per module).
NOT_ANSWERS = {
    ("capabilities.py", "json.loads"): "a line the capability probe's own subprocess printed",
    ("compiled.py", "self._bundle.ok"): "whether the bundle was built, not an evaluation's answer",
}
STRING_INDEX = 'deny contains "sliced" if { x := array.slice([1, 2], input.i, 2) }'


def modules() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text())) for p in sorted(PACKAGE.rglob("*.py"))]


def regopy_users() -> list[Path]:
    return [
        path for path, tree in modules() for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("regopy")
    ]


def _is_ask(call: ast.AST) -> bool:
    return isinstance(call, ast.Call) and (
        (isinstance(call.func, ast.Name) and call.func.id == "ask")
        or (isinstance(call.func, ast.Attribute) and call.func.attr == "ask")
    )


def unguarded_queries() -> list[str]:
    """Each call of query/query_bundle not made inside a callable handed to ask()."""
    found = []
    for path, tree in modules():
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        asked = {
            arg.id for node in ast.walk(tree) if _is_ask(node)
            for arg in node.args if isinstance(arg, ast.Name)
        }
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in QUERIES):
                continue
            scope: ast.AST | None = parents.get(node)
            while scope is not None and not isinstance(scope, (ast.Lambda, ast.FunctionDef)):
                scope = parents.get(scope)
            guarded = (
                (isinstance(scope, ast.Lambda) and _is_ask(parents.get(scope, scope)))
                or (isinstance(scope, ast.FunctionDef) and scope.name in asked)
            )
            if not guarded:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_module_using_the_evaluator_is_in_the_policy_package() -> None:
    assert {p.parent for p in regopy_users()} == {PACKAGE / "policy"}


def test_the_walk_finds_the_queries_it_guards() -> None:
    calls = [
        n for _, tree in modules() for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in QUERIES
    ]
    assert len(calls) >= 4  # the policy set's two, the bundle's, the capability probe's


def test_every_query_is_read_through_the_guard() -> None:
    assert unguarded_queries() == []


def test_no_module_of_the_evaluator_reads_an_answer_itself() -> None:
    reading = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in regopy_users() if path != GUARD
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr in READING
        and (path.name, ast.unparse(node)) not in NOT_ANSWERS
    ]
    assert reading == []


# Answers as regopy's Output presents them, for the shapes rego-cpp itself does not produce on demand.
class Result:
    def __init__(self, expressions: Any) -> None:
        self.expressions = expressions


class Output:
    def __init__(self, results: list[Result], ok: bool = True) -> None:
        self.results = results
        self._ok = ok

    def ok(self) -> bool:
        return self._ok

    def node(self) -> Any:
        raise RuntimeError("no error node")


def raising(exc: BaseException) -> Any:
    def call() -> Any:
        raise exc
    return call


MALFORMED = {
    "not JSON": raising(json.JSONDecodeError("Expecting value", "(error (errormsg 5:stoll))", 0)),
    "not JSON, empty": raising(json.JSONDecodeError("Expecting value", "", 0)),
    "another exception": raising(RuntimeError("rego-cpp said no")),
    "no result": lambda: Output([]),
    "two results": lambda: Output([Result([{}]), Result([{}])]),
    "expressions not a list": lambda: Output([Result({"deny": []})]),
    "error without a node": lambda: Output([], ok=False),
    "not an answer at all": lambda: "{}",
    "None": lambda: None,
}


@pytest.mark.parametrize("shape", sorted(MALFORMED))
def test_a_malformed_answer_is_an_error_never_a_result(shape: str) -> None:
    answer = ask(MALFORMED[shape])
    assert (answer.values, bool(answer.error)) == (None, True)


@pytest.mark.parametrize("shape", sorted(MALFORMED))
def test_a_malformed_answer_gives_no_documents(shape: str) -> None:
    assert documents(ask(MALFORMED[shape]), {"a"}) is None


@pytest.mark.parametrize(
    "value", [None, [], {"a": {}, "b": {}}, {}, "a", 1],
    ids=["null", "list", "extra", "missing", "text", "number"],
)
def test_a_result_of_another_shape_gives_no_documents(value: Any) -> None:
    assert documents(Answer([value]), {"a"}) is None


def test_a_plain_result_gives_every_package_document() -> None:
    assert documents(Answer([{"a": {"deny": ["x"]}}]), {"a"}) == {"a": {"deny": ["x"]}}


def test_the_evaluator_answers_a_failing_builtin_with_text_that_is_not_json(tmp_path: Path) -> None:
    """The real case (rego-cpp's single error node, module docstring of policy/answers.py): read as an error
    by the guard, its text being rego-cpp's error term."""
    from regopy import Interpreter

    interpreter = Interpreter()
    interpreter.add_module("p.rego", f"package p\nimport rego.v1\n{STRING_INDEX}\n")
    interpreter.set_input_term('{"i": "a"}')
    assert ask(lambda: interpreter.query("data.p")).error.startswith("(error")  # type: ignore[union-attr]


class Broken:
    """An interpreter whose every answer is malformed: what any query gets is `answer`."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def set_input_term(self, text: str) -> None:
        self.text = text

    def query(self, expression: str) -> Any:
        return self.answer()

    def query_bundle(self, bundle: Any) -> Any:
        return self.answer()


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    folder = tmp_path_factory.mktemp("sliced")
    (folder / "sliced.rego").write_text(f"package reconciler.sliced\nimport rego.v1\n\n{STRING_INDEX}\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine, "BUNDLE", True)
        return load_policies(folder, {}, "hard-mandatory")


def outcome(policies: PolicySet, document: dict[str, Any]) -> Any:
    try:
        return [(r.policy, r.message) for r in policies.evaluate(document, "p")]
    except PolicyFileError as exc:
        return ("refused", exc.where)


@pytest.mark.parametrize("index", [0, 1, "a", None], ids=["0", "1", "text", "null"])
def test_the_bundle_and_the_normal_query_agree(bundled: PolicySet, index: Any) -> None:
    """Where the bundle answers text that is not JSON, the normal query decides: the same as without it."""
    assert outcome(bundled, {"i": index}) == outcome(replace(bundled, compiled=None), {"i": index})


def test_a_failing_builtin_is_refused_naming_the_line_with_the_bundle_on(bundled: PolicySet) -> None:
    assert outcome(bundled, {"i": "a"})[1].endswith(f"sliced.rego:4:{STRING_INDEX.index('array.slice') + 1}")


@pytest.mark.parametrize("shape", sorted(MALFORMED))
def test_a_malformed_bundle_answer_falls_back_to_the_normal_query(bundled: PolicySet, shape: str) -> None:
    assert bundled.compiled is not None
    broken = copy.copy(bundled.compiled)
    broken._runner = Broken(MALFORMED[shape])  # the bundle's own runner, answering malformed
    assert outcome(replace(bundled, compiled=broken), {"i": 0}) == [("sliced", "sliced")]


@pytest.mark.parametrize("shape", sorted(MALFORMED))
def test_a_malformed_normal_answer_is_refused_naming_the_policy(bundled: PolicySet, shape: str) -> None:
    policies = replace(bundled, compiled=None, interpreter=Broken(MALFORMED[shape]))
    with pytest.raises(PolicyFileError, match="policy sliced failed to evaluate") as refusal:
        policies.evaluate({"i": 0}, "p")
    assert refusal.value.where.startswith(str(policies.files["sliced"]))


def test_the_guard_reads_the_unreadable_error_as_such() -> None:
    assert answers.UNREADABLE in ask(MALFORMED["error without a node"]).error  # type: ignore[operator]
