"""Every model_construct in the product gives each field that has a default_factory.

pydantic's model_construct fills a missing field with a default_factory through inspect.signature, which for a
builtin such as list compiles its text signature on every call: the planner once spent 40% of its time there
(one missing `blocked=[]`). The walk finds every `Model.model_construct(...)` call in reconciler/ so a new one
cannot reintroduce it. The planner itself builds its PortfolioPlan with plan_table.portfolio_plan, which gives
every field and is held equal to model_construct here.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from pydantic import BaseModel

from reconciler.core.models import CostModel, PortfolioPlan
from reconciler.core.plan_table import portfolio_plan
from reconciler.core.planner import plan_portfolio
from tests.builders import desired, observation

PACKAGE = Path(__file__).resolve().parents[2] / "reconciler"


def _calls(sources: dict[str, str] | None = None) -> list[tuple[str, str, ast.Call]]:
    """(module, class name, call) for every `Name.model_construct(...)` in the package (or in `sources`, text
    by module name)."""
    if sources is None:
        sources = {".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts): path.read_text()
                   for path in sorted(PACKAGE.rglob("*.py"))}
    out = []
    for module, text in sources.items():
        for node in ast.walk(ast.parse(text)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "model_construct"):
                assert isinstance(node.func.value, ast.Name), (f"{module}:{node.lineno}: call it on a class"
                                                               " by name")
                out.append((module, node.func.value.id, node))
    return out


def test_the_walk_finds_a_model_construct() -> None:
    source = "def f(obs):\n    return PortfolioPlan.model_construct(name='a', observation=obs)\n"
    assert [(m, c) for m, c, _ in _calls({"reconciler.core.planner": source})] == [
        ("reconciler.core.planner", "PortfolioPlan")
    ]


def test_the_planners_plan_is_what_model_construct_builds() -> None:
    plan = plan_portfolio(desired({"A": "0.5", "B": "0.5"}),
                          observation({"A": "100", "B": "100"}, {"A": "70", "B": "20"}, settled="1000"),
                          CostModel())
    fields = dict(plan.__dict__)
    built = PortfolioPlan.model_construct(**fields)
    state = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")
    assert [getattr(plan, a) for a in state] == [getattr(built, a) for a in state]


def test_the_planners_plan_builder_refuses_a_missing_field() -> None:
    fields = {f: None for f in PortfolioPlan.model_fields if f != "references"}
    with pytest.raises(TypeError, match="references"):
        portfolio_plan(**fields)


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
