"""Lots against positions at every plan (core.ledger.agreement, core.lot_agreement): the planner notes and
records each symbol whose lots do not account for what the broker holds, and says nothing for an account
without lots on its observation (a portfolio without a `tax:` block)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from reconciler.core.ledger import HeldLot, LotMismatch, agreement
from reconciler.core.lot_agreement import with_lot_agreement
from reconciler.core.models import CostModel, PortfolioPlan
from reconciler.core.plan import canonical_json, seal
from reconciler.core.planner import plan_portfolio
from tests.builders import NOW, desired, observation

PRICES = {"VTI": 100, "BND": 50}
HELD = {"VTI": 30, "BND": 40}


def _lot(symbol: str, quantity: int | str) -> HeldLot:
    return HeldLot(symbol, date(2021, 1, 4), D(quantity), D(quantity) * 80)


def _planned(lots: list[HeldLot] | None) -> PortfolioPlan:
    obs = observation(PRICES, HELD, settled=1000).model_copy(update={"lots": lots})
    return plan_portfolio(desired({"VTI": "0.5", "BND": "0.5"}), obs, CostModel())


def test_symbols_whose_lots_match_the_holding_agree() -> None:
    assert agreement([_lot("VTI", 10), _lot("VTI", 20), _lot("BND", 40)], HELD) == {"BND": True, "VTI": True}


def test_a_symbol_held_beyond_its_lots_disagrees() -> None:
    assert agreement([_lot("VTI", 10), _lot("BND", 40)], HELD)["VTI"] is False


def test_lots_of_a_symbol_the_broker_does_not_hold_disagree() -> None:
    assert agreement([_lot("GLD", 5)], {})["GLD"] is False


def test_without_a_ledger_nothing_agrees() -> None:
    assert agreement(None, HELD) == {"BND": False, "VTI": False}


def test_the_plan_records_each_symbol_whose_lots_disagree() -> None:
    assert _planned([_lot("VTI", 25), _lot("BND", 40)]).lot_mismatches == {
        "VTI": LotMismatch(ledger=D(25), broker=D(30))}


def test_the_plan_notes_the_disagreement_and_that_tax_aware_choices_are_off() -> None:
    notes = [n for n in _planned([_lot("BND", 40)]).notes if n.startswith("lots: ")]
    assert notes == [
        "lots: VTI — the ledger's lots hold 0, the broker 30 (a transfer, a corporate action or a trade made"
        " elsewhere?); tax-aware choices for VTI are off until the ledger is fixed (`reconciler lots import"
        " ACCOUNT FILE` with the broker's lots)"
    ]


def test_lots_that_agree_add_no_note() -> None:
    assert not any(n.startswith("lots: ") for n in _planned([_lot("VTI", 30), _lot("BND", 40)]).notes)


def test_an_observation_without_lots_adds_no_note() -> None:
    assert _planned(None).lot_mismatches == {}


def _canonical(pp: PortfolioPlan) -> dict[str, Any]:
    plan = seal([pp], created_at=NOW, targets_hash="t" * 64, accounts=["acct"], policy_results=[])
    return dict(json.loads(canonical_json(plan))["portfolios"][0])


def test_a_plan_without_lots_leaves_them_out_of_its_hash() -> None:
    assert "lots" not in _canonical(_planned(None))["observation"]


def test_a_plan_without_disagreement_leaves_it_out_of_its_hash() -> None:
    assert "lot_mismatches" not in _canonical(_planned([_lot("VTI", 30), _lot("BND", 40)]))


def test_a_plan_with_lots_hashes_them() -> None:
    assert _canonical(_planned([_lot("VTI", 30)]))["observation"]["lots"][0]["symbol"] == "VTI"


@given(st.lists(st.tuples(st.sampled_from(["VTI", "BND", "GLD"]), st.integers(1, 50)), max_size=8),
       st.dictionaries(st.sampled_from(["VTI", "BND", "GLD"]), st.integers(0, 200)))
def test_agreement_holds_exactly_where_the_lots_sum_to_the_position(
    lots: list[tuple[str, int]], positions: dict[str, int]
) -> None:
    held = {s: D(q) for s, q in positions.items()}
    sums: dict[str, D] = {}
    for s, q in lots:
        sums[s] = sums.get(s, D(0)) + q
    said = agreement([_lot(s, q) for s, q in lots], held)
    assert said == {s: sums.get(s, D(0)) == held.get(s, D(0)) for s in said}


def test_a_plan_on_an_observation_without_lots_is_returned_as_it_was() -> None:
    pp = _planned(None)
    assert with_lot_agreement(pp, pp.observation) is pp


def test_a_plan_whose_lots_agree_is_returned_as_it_was() -> None:
    """Nothing to say, nothing copied: a thousand agreeing accounts cost no copy of their plans."""
    pp = _planned([_lot("VTI", 30), _lot("BND", 40)])
    assert with_lot_agreement(pp, pp.observation) is pp


def test_a_recorded_mismatch_cannot_be_changed() -> None:
    mismatch = LotMismatch(ledger=D(25), broker=D(30))
    with pytest.raises(ValidationError):
        mismatch.ledger = D(30)  # type: ignore[misc]
