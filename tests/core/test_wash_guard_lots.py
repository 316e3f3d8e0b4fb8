"""The wash-sale guard and harvesting read the account's lots from one field, the observation's `lots`
(core.wash_guard); a household written by an earlier version with its own copy (`household.lots`) is not
read. Played through the planner, with tests/core/test_wash_guard.py's examples."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal as D

from reconciler.core.household import Household
from reconciler.core.ledger import HeldLot
from reconciler.core.models import CostModel, Observation, PortfolioPlan
from reconciler.core.planner import plan_portfolio
from reconciler.core.wash_sale import TradeEvent
from tests.builders import observation
from tests.core.test_wash_guard import BLOCKS, HOME, _ago, _desired, _harvesting

GAINS = [HeldLot("X", date(2020, 3, 2), D(300), D(3000))]
BUY = TradeEvent("ira", "X", _ago(14), "buy")
VTI_LOT = [HeldLot("VTI", date(2023, 11, 1), D(100), D(25000))]  # $5,000 under water at $200


def _obs(prices: dict[str, int], positions: dict[str, int], lots: Sequence[HeldLot] | None,
         legacy: Sequence[HeldLot] | None, trades: Sequence[TradeEvent] = ()) -> Observation:
    home = Household(name="smith", accounts=HOME, trades=list(trades),
                     lots=None if legacy is None else list(legacy))
    obs = observation(prices, positions, settled=0, account="taxable")
    return obs.model_copy(update={"household": home, "lots": None if lots is None else list(lots)})


def _sold(pp: PortfolioPlan) -> set[str]:
    return {a.symbol for a in pp.actions if a.side == "sell"}


def test_the_sales_result_comes_from_the_observations_lots() -> None:
    """The observation's lots close only at a gain; the household's old copy would close one at a loss."""
    obs = _obs({"X": 125, "Y": 10}, {"X": 300}, GAINS, BLOCKS, [BUY])
    assert _sold(plan_portfolio(_desired({"Y": "1"}), obs, CostModel())) == {"X"}


def test_a_households_old_copy_of_the_lots_is_not_read() -> None:
    """Without the observation's lots the sale's result is unknown, whatever the household's copy says."""
    obs = _obs({"X": 125, "Y": 10}, {"X": 300}, None, GAINS, [BUY])
    assert _sold(plan_portfolio(_desired({"Y": "1"}), obs, CostModel())) == set()


def test_harvesting_reads_the_observations_lots() -> None:
    obs = _obs({"VTI": 200, "ITOT": 100, "BND": 50}, {"VTI": 100, "BND": 267}, VTI_LOT, None)
    assert _sold(plan_portfolio(_harvesting(), obs, CostModel())) == {"VTI"}


def test_harvesting_does_not_read_a_households_old_copy() -> None:
    obs = _obs({"VTI": 200, "ITOT": 100, "BND": 50}, {"VTI": 100, "BND": 267}, None, VTI_LOT)
    assert _sold(plan_portfolio(_harvesting(), obs, CostModel())) == set()
