"""A portfolio plan's before/after table: its Holding rows, kept as the planner's parallel columns until read.

The planner has every column as a list already (symbols, prices, quantities, weights, targets, bands, rules);
building 50 row objects per portfolio was half the cost of planning 10,000 portfolios, and most plans are only
sealed and saved. `HoldingRows` keeps the columns and makes the rows on first read (`rows`, the one place that
does), and writes the plan's JSON rows straight from the columns: the same dicts, keys and strings the rows
would give (a test holds the two forms equal). Rows read from a plan file are kept as rows. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from json.encoder import encode_basestring_ascii
from operator import attrgetter
from typing import Any, Literal, overload

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

Rule = Literal["", "hold", "do_not_trade"]


@dataclass(slots=True)
class Holding:
    """One row of the before/after table."""

    symbol: str
    price: Decimal
    quantity_before: Decimal
    quantity_after: Decimal
    weight_before: Decimal
    weight_target: Decimal
    weight_after: Decimal
    band: Decimal
    rule: Rule = ""

    @property
    def outside_band(self) -> bool:
        """Outside its band now: a held symbol without a target always is."""
        if self.weight_target == 0:
            return self.quantity_before != 0
        return abs(self.weight_before - self.weight_target) > self.band


FIELDS = tuple(f.name for f in fields(Holding))
_columns_of = attrgetter(*FIELDS)
# One row as sorted-key compact JSON; the arguments in field order, the symbol and rule already quoted.
_ROW = (
    '{{"band":"{7}","price":"{1}","quantity_after":"{3}","quantity_before":"{2}","rule":{8},"symbol":{0},'
    '"weight_after":"{6}","weight_before":"{4}","weight_target":"{5}"}}'
)
_quote = encode_basestring_ascii  # what json.dumps (ensure_ascii, the default) writes for a str


class HoldingRows(Sequence[Holding]):
    """The rows of one plan's table, as columns (from the planner) or as rows (from a file); equal to the list
    of the same rows."""

    __slots__ = ("_columns", "_rows")

    def __init__(
        self,
        symbols: list[str],
        prices: list[Decimal],
        before: list[Decimal],
        after: list[Decimal],
        weights: list[Decimal],
        targets: list[Decimal],
        weights_after: list[Decimal],
        bands: list[Decimal],
        rules: list[Rule] | None = None,
    ) -> None:
        self._columns: tuple[list[Any], ...] | None = (
            symbols, prices, before, after, weights, targets, weights_after, bands,
            rules if rules is not None else [""] * len(symbols),
        )
        self._rows: tuple[Holding, ...] | None = None

    @classmethod
    def of(cls, rows: Iterable[Holding]) -> HoldingRows:
        """Rows already made (a plan file's, a test's): kept as they are."""
        made = cls.__new__(cls)
        made._columns = None
        made._rows = tuple(rows)
        return made

    @property
    def rows(self) -> tuple[Holding, ...]:
        """The Holding rows, made from the columns once: the one conversion from columns to rows (a tuple:
        what the seal covers cannot grow or shrink behind it)."""
        if self._rows is None:
            assert self._columns is not None  # one of the two is always set
            self._rows = tuple(map(Holding, *self._columns))
        return self._rows

    def columns(self) -> tuple[list[Any], ...]:
        """The nine columns in field order: the planner's until a row is read, then the rows' own, so the seal
        and the file hold what a reader saw (a row is a mutable object, and a frozen one costs four times as
        much to build)."""
        if self._rows is None:
            assert self._columns is not None  # one of the two is always set
            return self._columns
        rows = self._rows
        if not rows:
            return tuple([] for _ in FIELDS)
        return tuple(map(list, zip(*map(_columns_of, rows), strict=True)))

    def dumped(self, json: bool) -> list[dict[str, Any]]:
        """The rows as pydantic dumps a Holding dataclass: field order, Decimals as str() in JSON mode."""
        symbols, *numbers, rules = self.columns()
        if json:
            numbers = [list(map(str, column)) for column in numbers]
        # A dict display per row, keys in field order (the plan file's order): 40% faster than dict(zip()).
        return [
            {"symbol": s, "price": p, "quantity_before": qb, "quantity_after": qa, "weight_before": wb,
             "weight_target": wt, "weight_after": wa, "band": b, "rule": r}
            for s, p, qb, qa, wb, wt, wa, b, r in zip(symbols, *numbers, rules, strict=True)
        ]

    def sorted_json(self) -> str:
        """The rows as `json.dumps(rows_dumped, sort_keys=True, separators=(",", ":"))` writes them, from the
        columns: a Decimal's str() needs no escaping, the symbol and rule are escaped as json.dumps does."""
        symbols, prices, before, after, weights, targets, weights_after, bands, rules = self.columns()
        numbers = (prices, before, after, weights, targets, weights_after, bands)
        text = map(_ROW.format, map(_quote, symbols), *(map(str, c) for c in numbers), map(_quote, rules))
        return "[" + ",".join(text) + "]"

    def __len__(self) -> int:
        return len(self._columns[0]) if self._rows is None and self._columns is not None else len(self.rows)

    @overload
    def __getitem__(self, index: int) -> Holding: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Holding, ...]: ...

    def __getitem__(self, index: int | slice) -> Holding | tuple[Holding, ...]:
        return self.rows[index]

    def __iter__(self) -> Iterator[Holding]:
        return iter(self.rows)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HoldingRows):
            return self.rows == other.rows
        if isinstance(other, list):
            return list(self.rows) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to a list, which has no hash

    def __repr__(self) -> str:
        return repr(list(self.rows))

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """Validated as a list of Holding rows (or taken as it is), dumped as the rows' dicts."""
        as_list = core_schema.no_info_after_validator_function(cls.of, handler.generate_schema(list[Holding]))
        return core_schema.json_or_python_schema(
            json_schema=as_list,
            python_schema=core_schema.union_schema([core_schema.is_instance_schema(cls), as_list]),
            serialization=core_schema.plain_serializer_function_ser_schema(_dump, info_arg=True),
        )


def _dump(value: Sequence[Holding], info: core_schema.SerializationInfo) -> list[dict[str, Any]]:
    rows = value if isinstance(value, HoldingRows) else HoldingRows.of(value)
    return rows.dumped(info.mode_is_json())
