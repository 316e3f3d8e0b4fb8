"""Every parameter the built-in checks' registry declares reaches its check in plan and apply: set in
reconciler.yaml to a value of its own, it is the value of its field in the limits the services hand plan
(execution.planning) and apply (execution.executor, execution.gate), found by enumerating the registry, so a
new check's parameter needs no wiring beyond its registry entry."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.checks import BUILTIN_CHECKS, BuiltinCheck
from reconciler.core.order_size import SizeLimits
from reconciler.core.valuation import QuoteLimits
from reconciler.runtime import Runtime
from reconciler.workspace.models import PolicyParams
from tests.conftest import copy_examples, edit_yaml

CHECKED = [c for c in BUILTIN_CHECKS if c.limits is not None]
PARAMETERS = [(c, name) for c in CHECKED for name in c.parameters]
# The services' attribute plan and apply read each check's limits from.
SERVICE = {QuoteLimits: "quote_limits", SizeLimits: "size_limits"}


def _own_value(name: str) -> Any:
    """A valid value of the parameter that is not its default, so only the parameter itself can explain it."""
    default = PolicyParams.model_fields[name].default
    return default + 1 if isinstance(default, int) else default + Decimal("0.01")


def test_every_check_with_parameters_builds_limits_the_services_carry() -> None:
    assert {c.limits for c in CHECKED} == set(SERVICE)


@pytest.mark.parametrize("check", CHECKED, ids=lambda c: c.name)
def test_every_field_of_a_check_s_limits_comes_from_one_parameter(check: BuiltinCheck) -> None:
    assert check.limits is not None
    fields = {f.name for f in dataclasses.fields(check.limits)}  # type: ignore[arg-type]
    assert sorted(check.parameters.values()) == sorted(fields)


@pytest.mark.parametrize(("check", "name"), PARAMETERS, ids=lambda x: x if isinstance(x, str) else x.name)
def test_each_parameter_reaches_its_check_in_plan_and_apply(check: BuiltinCheck, name: str,
                                                           tmp_path: Path) -> None:
    root = copy_examples(tmp_path)
    value = _own_value(name)
    written = value if isinstance(value, int) else float(value)  # YAML reads 0.21 back as Decimal("0.21")
    edit_yaml(root / "reconciler.yaml", lambda doc: doc["policies"]["params"].__setitem__(name, written))
    rt = Runtime(root / "reconciler.yaml")
    assert check.limits is not None
    limits = getattr(rt, SERVICE[check.limits])
    assert getattr(limits, check.parameters[name]) == value
