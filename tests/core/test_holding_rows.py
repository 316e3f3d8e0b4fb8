"""The plan's rows kept as columns (core.holding_rows) read, dump, hash and save exactly as the Holding rows
they stand for: held equal to the eager form on generated tables, and on plans planned, sealed, read back."""

from __future__ import annotations

import json
import pickle
from decimal import Decimal
from typing import Any, get_args

from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from reconciler.core.holding_rows import Holding, HoldingRows, Rule
from reconciler.core.models import Plan
from reconciler.core.plan import canonical_json, compute_hash
from reconciler.core.rules import SymbolRule
from tests.builders import desired, observation, planned

EAGER = TypeAdapter(list[Holding])  # how pydantic dumps the rows when they are a plain list of Holding
numbers = st.decimals(allow_nan=True, allow_infinity=True)
row = st.builds(
    Holding, st.text(), numbers, numbers, numbers, numbers, numbers, numbers, numbers,
    st.sampled_from(get_args(Rule)),
)


def columns_of(rows: list[Holding]) -> HoldingRows:
    """The rows as the planner hands them over: one list per field."""
    return HoldingRows(*([getattr(h, f.name) for h in rows] for f in Holding.__dataclass_fields__.values()))


def compact(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


@given(st.lists(row, max_size=8))
def test_columns_make_the_same_rows(rows: list[Holding]) -> None:
    assert list(columns_of(rows).rows) == rows


@given(st.lists(row, max_size=8))
def test_columns_dump_as_the_rows_dump_in_json(rows: list[Holding]) -> None:
    # Compared as unsorted JSON: the plan file keeps the keys in the order dumped.
    assert json.dumps(columns_of(rows).dumped(json=True)) == json.dumps(EAGER.dump_python(rows, mode="json"))


@given(st.lists(row, max_size=8))
def test_columns_dump_as_the_rows_dump_in_python(rows: list[Holding]) -> None:
    assert columns_of(rows).dumped(json=False) == EAGER.dump_python(rows)


@given(st.lists(row, max_size=8))
def test_columns_write_the_rows_sorted_json(rows: list[Holding]) -> None:
    assert columns_of(rows).sorted_json() == compact(EAGER.dump_python(rows, mode="json"))


@given(st.lists(row, max_size=8))
def test_rows_read_from_a_file_write_the_same_sorted_json(rows: list[Holding]) -> None:
    assert HoldingRows.of(rows).sorted_json() == compact(EAGER.dump_python(rows, mode="json"))


@given(st.lists(row, max_size=8))
def test_the_two_forms_are_equal(rows: list[Holding]) -> None:
    assert columns_of(rows) == HoldingRows.of(rows)


def test_the_rows_equal_the_list_of_them() -> None:
    rows = [Holding("VTI", Decimal(1), Decimal(2), Decimal(3), Decimal("0.5"), Decimal("0.5"), Decimal("0.6"),
                    Decimal("0.02"), "hold")]
    assert columns_of(rows) == rows


def test_the_rows_are_made_once() -> None:
    rows = columns_of([Holding("VTI", *[Decimal(1)] * 7)])
    assert rows.rows is rows.rows


def a_plan() -> Plan:
    """Accounts with a symbol outside the targets, a held rule, a symbol needing escapes, a blocked one."""
    return planned([
        (desired({"VTI": "0.6", "BND": "0.3"}, name="alpha", account="a"),
         observation({"VTI": "10", "BND": "20", "OLD\"é": "5"}, {"VTI": "100", "OLD\"é": "3"}, settled=500,
                     account="a")),
        (desired({"VTI": "0.5", "GLD": "0.4"}, name="beta", account="b",
                 symbols={"GLD": SymbolRule(hold=True)}),
         observation({"VTI": "11", "GLD": "150"}, {"GLD": "7"}, settled=900, account="b")),
        (desired({"VTI": "1"}, name="gamma", account="c"), observation({}, {"VTI": "1"}, account="c")),
    ])


def test_a_planned_plan_keeps_its_rows_as_columns() -> None:
    assert all(p.holdings._rows is None for p in a_plan().portfolios)


def test_the_canonical_json_is_the_canonical_encoding_of_itself() -> None:
    text = canonical_json(a_plan())
    assert compact(json.loads(text)) == text


def test_the_canonical_json_carries_the_rows() -> None:
    plan = a_plan()
    hashed = [p["holdings"] for p in json.loads(canonical_json(plan))["portfolios"]]
    assert hashed == [EAGER.dump_python(list(p.holdings), mode="json") for p in plan.portfolios]


def test_a_plan_read_back_from_its_file_has_the_same_hash() -> None:
    plan = a_plan()
    again = Plan.model_validate_json(plan.model_dump_json(indent=2))
    assert compute_hash(again) == plan.content_hash


def test_a_plan_read_back_from_its_file_writes_the_same_file() -> None:
    plan = a_plan()
    text = plan.model_dump_json(indent=2)
    assert Plan.model_validate_json(text).model_dump_json(indent=2) == text


def test_a_plan_file_has_the_rows_as_the_eager_form_writes_them() -> None:
    plan = a_plan()
    saved = [p["holdings"] for p in json.loads(plan.model_dump_json())["portfolios"]]
    assert saved == [EAGER.dump_python(list(p.holdings), mode="json") for p in plan.portfolios]


def test_a_plan_with_a_list_of_rows_hashes_as_with_columns() -> None:
    plan = a_plan()
    eager = plan.model_copy(update={"portfolios": [
        p.model_copy(update={"holdings": list(p.holdings)}) for p in plan.portfolios
    ]})
    assert compute_hash(eager) == plan.content_hash


def test_a_plan_pickled_for_a_worker_has_the_same_hash() -> None:
    plan = a_plan()
    assert compute_hash(pickle.loads(pickle.dumps(plan))) == plan.content_hash


def test_a_plan_validated_from_its_python_dump_is_equal() -> None:
    plan = a_plan()
    assert Plan.model_validate(plan.model_dump()) == plan


def test_a_row_changed_after_it_was_read_is_what_the_seal_writes() -> None:
    # The seal writes the columns: they follow the rows once a row was read, so the hash covers what is shown.
    rows = columns_of([Holding("VTI", *[Decimal(1)] * 7)])
    rows[0].quantity_after = Decimal(99)
    assert '"quantity_after":"99"' in rows.sorted_json()


def test_the_rows_read_cannot_grow_behind_the_seal() -> None:
    rows = columns_of([Holding("VTI", *[Decimal(1)] * 7)])
    assert isinstance(rows.rows, tuple)
