"""The paper broker's price CSV: read through the file gate (inside the workspace), and every doubtful table
is an error naming the row (FILE:LINE) and the fix, never a price guessed from it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.brokers.prices import load_prices
from reconciler.errors import ReconcilerError
from reconciler.workspace.models import PaperPrices

GOOD = "date,VTI,BND\n2026-11-23,280,70\n2026-11-24,281.5,71\n"


def _load(root: Path, text: str, as_of: str | None = None) -> None:
    (root / "closes.csv").write_text(text, encoding="utf-8")
    load_prices(PaperPrices(csv="closes.csv", as_of=as_of), root)


def _error(root: Path, text: str) -> ReconcilerError:
    with pytest.raises(ReconcilerError) as caught:
        _load(root, text)
    return caught.value


def test_the_last_row_is_the_price_and_the_one_before_the_previous_close(tmp_path: Path) -> None:
    (tmp_path / "closes.csv").write_text(GOOD, encoding="utf-8")
    prices = load_prices(PaperPrices(csv="closes.csv"), tmp_path)
    assert (prices["VTI"].price, prices["VTI"].previous_close) == (Decimal("281.5"), Decimal("280"))


@pytest.mark.parametrize(
    "text, where, says",
    [
        ("date,VTI,VTI\n2026-11-23,280,281\n", ":1", "column 'VTI' appears twice"),
        ("date,VTI,\n2026-11-23,280,281\n", ":1", "an empty column name"),
        ("date,VTI\n2026-11-24,281\n2026-11-23,280\n", ":3", "date 2026-11-23 comes after 2026-11-24"),
        ("date,VTI\n2026-11-23,281\n2026-11-23,280\n", ":3", "date 2026-11-23 appears twice"),
        ("date,VTI\n2026-11-23,abc\n2026-11-24,280\n", ":2", "not a number: 'abc' in column 'VTI'"),
        ("date,VTI\n2026-11-23,0\n2026-11-24,280\n", ":2", "invalid price '0' in column 'VTI'"),
        ("date,VTI\n2026-11-23,-5\n2026-11-24,280\n", ":2", "invalid price '-5' in column 'VTI'"),
        ("date,VTI\n2026-11-23,NaN\n2026-11-24,280\n", ":2", "invalid price 'NaN' in column 'VTI'"),
        ("date,VTI\n2026-11-23,Infinity\n2026-11-24,280\n", ":2", "invalid price 'Infinity'"),
        ("date,VTI\nyesterday,280\n", ":2", "not a date: 'yesterday'"),
        ("date,VTI\n2026-11-23,280,1\n", ":2", "3 cells in a row under a header of 2 columns"),
    ],
    ids=["dup-column", "empty-column", "unsorted", "dup-date", "not-number", "zero", "negative", "nan", "inf",
         "bad-date", "extra-cell"],
)
def test_a_doubtful_table_is_an_error_naming_the_row(
    tmp_path: Path, text: str, where: str, says: str
) -> None:
    err = _error(tmp_path, text)
    assert err.where == f"{tmp_path / 'closes.csv'}{where}"
    assert says in err.message


@pytest.mark.parametrize("text", ["date,VTI\n,\n ,\n", "date,VTI\n\n\n", "date,VTI\n"],
                         ids=["blank-cells", "blank-lines", "header-only"])
def test_a_table_without_a_row_is_an_error(tmp_path: Path, text: str) -> None:
    """Found by the proof's csv-prices axis ("blank rows only"): blank rows passed the row count, then the
    last row was looked up in an empty list (an internal error)."""
    assert "at least one row" in _error(tmp_path, text).message


def test_an_old_bad_row_is_refused_even_when_as_of_chooses_a_later_one(tmp_path: Path) -> None:
    text = "date,VTI\n2026-11-20,-1\n2026-11-23,280\n2026-11-24,281\n"
    with pytest.raises(ReconcilerError, match="invalid price '-1'"):
        _load(tmp_path, text, as_of="2026-11-24")


def test_a_csv_outside_the_workspace_is_refused(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "closes.csv").write_text(GOOD)
    with pytest.raises(ReconcilerError, match="outside the workspace"):
        load_prices(PaperPrices(csv="../closes.csv"), ws)
