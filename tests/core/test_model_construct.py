"""Every model_construct in the product gives each field that has a default_factory.

pydantic's model_construct fills a missing field with a default_factory through inspect.signature, which for a
builtin such as list compiles its text signature on every call: the planner once spent 40% of its time there (one
missing `blocked=[]`). The walk finds every `Model.model_construct(...)` call in reconciler/ so a new one cannot
reintroduce it.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from pydantic import BaseModel

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"


def _calls() -> list[tuple[str, str, ast.Call]]:
    """(module, class name, call) for every `Name.model_construct(...)` in the package."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "model_construct"):
                assert isinstance(node.func.value, ast.Name), f"{path}:{node.lineno}: call it on a model class by name"
                out.append((module, node.func.value.id, node))
    return out


def test_the_walk_finds_the_planners_model_construct() -> None:
    assert ("reconciler.core.planner", "PortfolioPlan") in {(m, c) for m, c, _ in _calls()}


def test_every_model_construct_gives_its_default_factory_fields() -> None:
    missing = []
    for module, name, call in _calls():
        model = getattr(importlib.import_module(module), name)
        assert issubclass(model, BaseModel)
        given = {k.arg for k in call.keywords}
        assert None not in given, f"{module}:{call.lineno}: no **kwargs, so the fields given can be checked"
        factories = {f for f, info in model.model_fields.items() if info.default_factory is not None}
        missing += [f"{module}:{call.lineno} {name}.{f}" for f in sorted(factories - given)]
    assert missing == []
