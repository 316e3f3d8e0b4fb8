"""The lot ledger end to end on the paper broker over several simulated days (issue 26, Ledger): lots
imported from a broker export, plans and applies whose fills open and close lots under HIFO, the clock moved a
day at a time (proceeds settle, the next day's plan buys with them), then a trade made outside reconciler:
the plan says the lots of that symbol disagree. Whenever the ledger agrees, its lots sum to the positions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
import time_machine

from reconciler.brokers.base import OrderRequest
from reconciler.core.ledger import agreement
from reconciler.journal.lots import account_lots
from reconciler.runtime import Runtime
from tests.conftest import Workspace, edit_yaml

ACCOUNT, PORTFOLIO = "paper-taxable", "bob-taxable"
MONDAY = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)
# What paper-taxable holds (reconciler.yaml), as its broker would export it: VTI in a cheap old lot and a dear
# new one.
EXPORT = (
    "symbol,acquired,quantity,cost_basis\n"
    "VTI,2020-01-02,200,32000.00\nVTI,2025-01-02,10,2950.10\nVXUS,2021-05-04,120,6600\n"
    "BND,2019-03-01,95,7600\nAAPL,2015-07-01,40,4000\nGLD,2022-02-02,12,2100\n"
)


class Days:
    """The workspace with the clock pinned to a day that tests move forward."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.day = 0
        self._travel = time_machine.travel(MONDAY, tick=False)
        self._traveller = self._travel.start()

    def next(self) -> None:
        self.day += 1
        self._traveller.move_to(MONDAY + timedelta(days=self.day))

    def stop(self) -> None:
        self._travel.stop()

    def run(self, *argv: str) -> Any:
        r = self.ws.run(*argv)
        assert r.code == 0, r.out + r.err
        return r

    def plan(self) -> dict[str, Any]:
        out = json.loads(self.run("plan", "--target", PORTFOLIO, "--format", "json").out)
        return dict(out["portfolios"][0])

    def apply(self) -> None:
        self.run("apply", "--auto-approve", "--target", PORTFOLIO)

    def positions(self) -> dict[str, D]:
        return dict(Runtime(config_path=self.ws.config).broker.observe(ACCOUNT, []).positions)

    def lots(self) -> list[Any]:
        return account_lots(Runtime(self.ws.config, self.ws.journal_url).journal, ACCOUNT)

    def agreement(self) -> dict[str, bool]:
        return agreement(self.lots(), self.positions())


def _targets(ws: Workspace, **weights: float) -> None:
    edit_yaml(ws.root / "portfolios" / f"{PORTFOLIO}.yaml", lambda d: d["spec"]["targets"].update(weights))


@pytest.fixture
def days(workspace: Workspace) -> Iterator[Days]:
    def taxed(doc: Any) -> None:
        # The wash-sale guard would hold back day 3's sales (the lots bought on day 2 cost their commission
        # too, so selling them at the same price is a loss inside the window): this test is about the ledger.
        doc["spec"]["tax"] = {
            "lots": "hifo", "rates": {"short_term": 0.35, "long_term": 0.15}, "wash_sale": False,
        }

    edit_yaml(workspace.root / "portfolios" / f"{PORTFOLIO}.yaml", taxed)
    d = Days(workspace)
    export = workspace.root / "lots.csv"
    export.write_text(EXPORT)
    d.run("lots", "import", ACCOUNT, str(export))
    yield d
    d.stop()


def test_imported_lots_agree_with_the_broker(days: Days) -> None:
    assert days.plan()["lot_mismatches"] == {}


def test_the_plan_carries_the_lots_it_was_made_with(days: Days) -> None:
    assert sum(D(lot["quantity"]) for lot in days.plan()["observation"]["lots"]) == sum(
        days.positions().values())


def test_after_the_first_days_apply_every_symbol_still_agrees(days: Days) -> None:
    days.apply()
    assert set(days.agreement().values()) == {True}


def test_the_first_days_sells_close_the_dearest_vti_lot_first(days: Days) -> None:
    days.apply()
    assert [lot.acquired for lot in days.lots() if lot.symbol == "VTI"] == [date(2020, 1, 2)]


def test_a_lot_opened_by_a_fill_costs_its_notional_and_commission(days: Days) -> None:
    days.apply()
    vnq = [lot for lot in days.lots() if lot.symbol == "VNQ"]
    fills = days.ws.query(
        "SELECT f.quantity, f.price, f.commission FROM fills f JOIN intents i"
        " ON i.client_order_id = f.client_order_id WHERE i.symbol = 'VNQ'"
    )
    assert [(lot.acquired, lot.quantity, lot.cost_basis) for lot in vnq] == [
        (MONDAY.date(), D(q), D(q) * D(p) + D(c)) for q, p, c in fills]


def test_over_several_days_the_lots_always_sum_to_the_positions(days: Days) -> None:
    seen = []
    for weights in ({}, {"VTI": 0.45, "VXUS": 0.25}, {"VTI": 0.55, "VXUS": 0.15}, {"BND": 0.15, "VNQ": 0.14}):
        _targets(days.ws, **weights)
        fills = len(days.ws.query("SELECT id FROM fills"))
        days.apply()
        # each day trades (new fills), and every symbol's lots still agree with its position
        seen.append((len(days.ws.query("SELECT id FROM fills")) > fills, set(days.agreement().values())))
        days.next()
    assert seen == [(True, {True})] * 4


def test_a_trade_made_elsewhere_makes_the_plan_say_the_lots_disagree(days: Days) -> None:
    days.apply()
    days.next()
    Runtime(config_path=days.ws.config).broker.submit(
        ACCOUNT, OrderRequest(client_order_id="manual-1", symbol="VXUS", side="sell", quantity=D(5))
    )
    held = days.positions()["VXUS"]
    assert days.plan()["lot_mismatches"] == {"VXUS": {"ledger": str(held + 5), "broker": str(held)}}


def test_the_plan_note_names_the_symbol_whose_lots_disagree(days: Days) -> None:
    days.next()
    Runtime(config_path=days.ws.config).broker.submit(
        ACCOUNT, OrderRequest(client_order_id="manual-1", symbol="BND", side="buy", quantity=D(3))
    )
    notes = [n for n in days.plan()["notes"] if n.startswith("lots: ")]
    assert [n.split(" — ")[0] for n in notes] == ["lots: BND"]


def test_importing_the_brokers_lots_again_restores_agreement(days: Days) -> None:
    Runtime(config_path=days.ws.config).broker.submit(
        ACCOUNT, OrderRequest(client_order_id="manual-1", symbol="GLD", side="buy", quantity=D(3))
    )
    export = days.ws.root / "gld.csv"
    export.write_text("symbol,acquired,quantity,cost_basis\nGLD,2022-02-02,12,2100\nGLD,2025-06-02,3,729.30\n")
    days.run("lots", "import", ACCOUNT, str(export))
    assert days.plan()["lot_mismatches"] == {}
