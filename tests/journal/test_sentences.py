"""Every sentence an apply report says of an order comes from the journal's final state of that order (issue
20 §5): each intent status, with nothing, part or all of the order filled, gives a sentence, and each claim a
sentence makes is checked against the row it was derived from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import pytest

from reconciler.journal.sentences import UNFILLED, order_sentence
from reconciler.journal.statuses import INTENT_STATUSES, INTENT_TRANSITIONS

QUANTITY = Decimal(12)
FILLS = {"none": None, "zero": Decimal(0), "part": Decimal("4.5"), "all": QUANTITY}
Row = Mapping[str, Any]


def _filled(row: Row) -> Decimal:
    return row["filled_quantity"] or Decimal(0)


NEVER_SENT = {"denied", "skipped"}
# A phrase a report may say, and what the journal row must hold for it to be true.
CLAIMS: dict[str, Callable[[Row], bool]] = {
    "nothing was sent": lambda r: r["status"] in NEVER_SENT,
    "nothing filled": lambda r: _filled(r) == 0,
    "nothing was bought or sold": lambda r: _filled(r) == 0,
    "the remainder cancelled": lambda r: r["status"] == "canceled" and 0 < _filled(r) < r["quantity"],
    "still open at the broker": lambda r: r["status"] in ("accepted", "partially_filled"),
    "open at the broker": lambda r: r["status"] in ("accepted", "partially_filled"),
    "filled in part": lambda r: 0 < _filled(r) < r["quantity"],
    "filled,": lambda r: r["status"] == "filled",
    "denied by policy": lambda r: r["status"] == "denied",
    "rejected by the broker": lambda r: r["status"] == "rejected",
    "cancelled before anything filled": lambda r: r["status"] == "canceled" and _filled(r) == 0,
    "holds no such order": lambda r: r["status"] == "failed",
    "without a definitive answer": lambda r: r["status"] == "unknown",
    "not journaled": lambda r: r["status"] == "submitting",
    ", yet ": lambda r: (
        _filled(r) > 0 and (r["status"] in UNFILLED or r["status"] in ("accepted", "partially_filled"))
    ),
    "before its cancel": lambda r: r["status"] == "canceled" and _filled(r) >= r["quantity"],
}
ROWS = [
    {"status": status, "quantity": QUANTITY, "filled_quantity": fill, "message": None}
    for status in INTENT_STATUSES for fill in FILLS.values()
]


def _ids(row: Row) -> str:
    return f"{row['status']}-{row['filled_quantity']}"


def test_the_rows_cover_every_status_an_intent_can_reach() -> None:
    reached = {after for after in INTENT_TRANSITIONS.values()}
    assert reached <= {r["status"] for r in ROWS}


@pytest.mark.parametrize("row", ROWS, ids=_ids)
def test_every_claim_of_a_sentence_holds_for_its_journal_row(row: Row) -> None:
    sentence = order_sentence(row)
    false = [phrase for phrase, holds in CLAIMS.items() if phrase in sentence and not holds(row)]
    assert false == [], sentence


@pytest.mark.parametrize("row", [r for r in ROWS if _filled(r) > 0], ids=_ids)
def test_a_sentence_says_how_much_of_the_order_filled(row: Row) -> None:
    assert f"{_filled(row).normalize():f} of 12" in order_sentence(row)


def test_a_sentence_keeps_the_journals_reason() -> None:
    row = {"status": "skipped", "quantity": QUANTITY, "filled_quantity": None, "message": "no sound quote for"
           " VTI"}
    assert order_sentence(row).endswith("(no sound quote for VTI)")


def test_an_order_missing_from_the_journal_is_said_to_be_not_known() -> None:
    assert "not known" in order_sentence(None)


def test_a_status_without_a_sentence_is_an_error_not_a_guess() -> None:
    with pytest.raises(ValueError, match="no report sentence"):
        order_sentence({"status": "expired", "quantity": QUANTITY, "filled_quantity": None})
