"""Plan files are strict JSON: a key written twice anywhere is refused (whichever copy would win), a boolean
is not a number, and a number is not a string where the format writes one. Each check is run on every value of
a real plan, one edit at a time; the edits keep the seal intact (the model they validate to is the same), so
only the strictness refuses them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import PlanFileError
from reconciler.execution.planfile import read_plan
from tests.conftest import Workspace

Loc = tuple[str | int, ...]


@pytest.fixture
def plan_file(workspace: Workspace, tmp_path: Path) -> Path:
    out = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(out)).code == 0
    return out


def _leaves(data: Any, loc: Loc = ()) -> Iterator[tuple[Loc, Any]]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _leaves(v, (*loc, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _leaves(v, (*loc, i))
    else:
        yield loc, data


def _set(data: Any, loc: Loc, value: Any) -> Any:
    copy = json.loads(json.dumps(data))
    node = copy
    for part in loc[:-1]:
        node = node[part]
    node[loc[-1]] = value
    return copy


def _numeric(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def _refused(path: Path, data: Any) -> PlanFileError:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    with pytest.raises(PlanFileError) as caught:
        read_plan(path)
    return caught.value


def test_the_unedited_plan_reads(plan_file: Path) -> None:
    assert read_plan(plan_file).content_hash


def test_every_number_written_as_a_string_is_refused_as_a_bare_number(
    plan_file: Path, tmp_path: Path
) -> None:
    data = json.loads(plan_file.read_text())
    numeric = [
        (loc, v) for loc, v in _leaves(data) if isinstance(v, str) and _numeric(v) and loc[-1] != "version"
    ]
    assert len(numeric) >= 10  # quantities, prices, weights, cash: the plan is full of them
    for loc, value in numeric:
        err = _refused(tmp_path / "edited.json", _set(data, loc, json.loads(str(Decimal(value)))))
        assert err.message.startswith(f"field {'.'.join(map(str, loc))}: a number where the format writes a"
                                      " string")


def test_every_integer_written_as_a_boolean_is_refused(plan_file: Path, tmp_path: Path) -> None:
    data = json.loads(plan_file.read_text())
    integers = [(loc, v) for loc, v in _leaves(data) if type(v) is int and v in (0, 1)]
    assert integers  # format_version at least
    for loc, value in integers:
        err = _refused(tmp_path / "edited.json", _set(data, loc, bool(value)))
        assert ".".join(map(str, loc)) in err.message


def test_format_version_true_is_not_version_1(plan_file: Path, tmp_path: Path) -> None:
    data = json.loads(plan_file.read_text())
    err = _refused(tmp_path / "v.json", {**data, "format_version": True})
    assert err.message.startswith("field format_version: unsupported plan format True")


@pytest.mark.parametrize("copy", ["same", "different"])
def test_a_key_written_twice_is_refused_whichever_copy_would_win(
    plan_file: Path, tmp_path: Path, copy: str
) -> None:
    text = plan_file.read_text()
    value = '"0"' if copy == "different" else json.dumps(json.loads(text)["content_hash"])
    doubled = text.replace('"content_hash":', f'"content_hash": {value},\n  "content_hash":', 1)
    out = tmp_path / "twice.json"
    out.write_text(doubled)
    with pytest.raises(PlanFileError, match="key 'content_hash' appears twice"):
        read_plan(out)


def test_a_key_written_twice_deep_inside_is_refused(plan_file: Path, tmp_path: Path) -> None:
    text = plan_file.read_text()
    first = text.index('"symbol":')
    line_end = text.index("\n", first)
    doubled = text[:line_end] + "\n" + text[first:line_end] + text[line_end:]
    out = tmp_path / "deep-twice.json"
    out.write_text(doubled)
    with pytest.raises(PlanFileError, match="key 'symbol' appears twice"):
        read_plan(out)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(plan_file: Path, tmp_path: Path, constant: str) -> None:
    text = plan_file.read_text().replace('"format_version": 1', f'"format_version": {constant}', 1)
    out = tmp_path / "nan.json"
    out.write_text(text)
    with pytest.raises(PlanFileError, match=f"{constant} is not a JSON number"):
        read_plan(out)
