"""Every built-in the evaluator offers, called with every type of argument in every position, either answers
or is a refusal naming the policy file and line: never undefined, which would make a deny rule silently never
fire. The cases are generated from the capability table, and the table is re-derived from regopy as installed,
so a built-in a new regopy adds, or one whose failure mode changes, is tested (or fails the table check)
without a hand list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import PolicyFileError
from reconciler.policy import capabilities
from reconciler.policy.builtins_table import TABLE
from reconciler.policy.engine import PolicySet, load_policies

# JSON types reach the call through the input (one policy per built-in); a set, which JSON has no word for, is
# written into the policy. A list mixing types is the case rego-cpp leaves undefined for some built-ins.
TYPES: dict[str, Any] = {
    "null": None, "boolean": True, "number": 1, "string": "a", "array": [1], "object": {"a": 1},
    "mixed list": [1, "a", True, None],
}
CASES = [(name, position, kind) for name in sorted(TABLE) for position in range(TABLE[name]["arity"])
         for kind in [*TYPES, "set"]]
NOT_OFFERED = sorted(set(capabilities.OPA_BUILTINS) - set(TABLE))
CALL_LINE = 4


def policy(folder: Path, name: str, args: list[str]) -> Path:
    path = folder / "probe.rego"
    path.write_text(
        "package reconciler.probe\nimport rego.v1\n\n"
        f'deny contains json.marshal(x) if {{ x := [{name}({", ".join(args)})] }}\n'
    )
    return folder


_loaded: dict[tuple[str, int], PolicySet] = {}


def loaded(name: str, set_at: int, tmp: Path) -> PolicySet:
    """One policy set per built-in (and per position a set is written at), its arguments from the input."""
    key = (name, set_at)
    if key not in _loaded:
        args = [f"input.a{i}" if i != set_at else "{1}" for i in range(TABLE[name]["arity"])]
        folder = tmp / f"{name}-{set_at}"
        folder.mkdir()
        _loaded[key] = load_policies(policy(folder, name, args), {}, "hard-mandatory")
    return _loaded[key]


@pytest.mark.parametrize(("name", "position", "kind"), CASES, ids=[f"{n}-{p}-{k}" for n, p, k in CASES])
def test_a_builtin_answers_or_refuses_for_every_argument_type(
    name: str, position: int, kind: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    document = {f"a{i}": None for i in range(TABLE[name]["arity"])}
    if kind != "set":
        document[f"a{position}"] = TYPES[kind]
    try:  # a call with a set in it is evaluated when the policy loads
        policies = loaded(name, position if kind == "set" else -1, tmp_path_factory.mktemp("builtins"))
        results = policies.evaluate(document, "p")
    except PolicyFileError as refusal:
        assert f"probe.rego:{CALL_LINE}:" in refusal.where, refusal.render()
        return
    assert len(results) == 1, f"{name}({document}) was undefined: a deny rule using it would never fire"


@pytest.mark.parametrize(
    "name", [n for n in sorted(TABLE) if TABLE[n]["arity"] > 0 and not n.startswith("opa.")]
)
def test_too_few_arguments_are_refused_when_the_policy_loads(name: str, tmp_path: Path) -> None:
    """rego-cpp crashes the process (a segmentation fault) on such a call; the load refuses it first."""
    args = ["null"] * (TABLE[name]["arity"] - 1)
    with pytest.raises(PolicyFileError, match=f"takes {TABLE[name]['arity']}"):
        load_policies(policy(tmp_path, name, args), {}, "hard-mandatory")


@pytest.mark.parametrize("name", [n for n in sorted(TABLE) if not n.startswith("opa.")])  # opa.*: all refused
def test_too_many_arguments_are_refused_when_the_policy_loads(name: str, tmp_path: Path) -> None:
    args = ["null"] * (TABLE[name]["arity"] + 2)
    with pytest.raises(PolicyFileError, match=f"takes {TABLE[name]['arity']}"):
        load_policies(policy(tmp_path, name, args), {}, "hard-mandatory")


@pytest.mark.parametrize("name", NOT_OFFERED)
def test_an_opa_builtin_the_evaluator_lacks_is_refused_when_the_policy_loads(
    name: str, tmp_path: Path
) -> None:
    with pytest.raises(PolicyFileError, match="not a built-in this evaluator"):
        load_policies(policy(tmp_path, name, ['"a"']), {}, "hard-mandatory")


@pytest.mark.parametrize("name", ["uuid.nothing", "crypto.nothing", "io.nothing"])
def test_a_name_that_would_crash_is_builtin_is_refused_without_asking(name: str, tmp_path: Path) -> None:
    """regopy's is_builtin aborts the process on these; the load reads the table instead."""
    with pytest.raises(PolicyFileError, match="not a built-in this evaluator"):
        load_policies(policy(tmp_path, name, ['"a"']), {}, "hard-mandatory")


def test_the_table_is_what_the_installed_evaluator_offers() -> None:
    derived = capabilities.derive()
    assert json.dumps(derived, sort_keys=True) == json.dumps(TABLE, sort_keys=True)


OPERATORS = ["<", "<=", ">", ">="]
PAIRS = [
    (op, a, b) for op in OPERATORS for a in TYPES if a != "mixed list" for b in TYPES if b != "mixed list"
]


@pytest.mark.parametrize(("op", "left", "right"), PAIRS, ids=[f"{a}{op}{b}" for op, a, b in PAIRS])
def test_a_comparison_across_types_is_refused(op: str, left: str, right: str, tmp_path: Path) -> None:
    rule = f'deny contains "compared" if {{ input.a {op} input.b }}'
    (tmp_path / "cmp.rego").write_text(f"package reconciler.cmp\nimport rego.v1\n\n{rule}\n")
    policies = load_policies(tmp_path, {}, "hard-mandatory")
    document = {"a": TYPES[left], "b": TYPES[right]}
    if left == right:
        assert isinstance(policies.evaluate(document, "p"), list)
        return
    with pytest.raises(PolicyFileError) as refusal:
        policies.evaluate(document, "p")
    assert refusal.value.where == f"{tmp_path / 'cmp.rego'}:{CALL_LINE}:{rule.index(op) + 1}"
