"""The wash-sale guard judges a household's past sales by what they realised (the ledger's `lots.closed`
records), end to end: bob-taxable sells its 12 GLD (at $243.10) through a real paper apply, and alice's IRA in
the same household then wants GLD. Bought when bob's lots show the sale was at a gain; not bought for 30 days
when they show a loss, or when the ledger had no lots for the sale (it fails closed)."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

from tests.conftest import Workspace, edit_yaml

WITH_GLD = {"VTI": 0.36, "VXUS": 0.24, "BND": 0.18, "BNDX": 0.10, "GLD": 0.10}


def _alice_after_bob_sells_gld(ws: Workspace, gld_cost: str | None) -> dict[str, Any]:
    """alice-ira's plan after bob-taxable's apply sold its GLD, whose lot cost `gld_cost` (None: no lot)."""

    def bob(doc: Any) -> None:
        doc["spec"]["tax"] = {"household": "smith"}

    def alice(doc: Any) -> None:
        spec = doc["spec"]
        spec["tax"] = {"household": "smith"}
        spec.pop("model", None)
        spec["targets"] = WITH_GLD
        spec["cash"] = 0.02

    edit_yaml(ws.root / "portfolios" / "bob-taxable.yaml", bob)
    if gld_cost is not None:
        export = ws.root / "gld.csv"
        export.write_text(f"symbol,acquired,quantity,cost_basis\nGLD,2022-02-02,12,{gld_cost}\n")
        assert ws.run("lots", "import", "paper-taxable", str(export)).code == 0
    r = ws.run("apply", "--auto-approve", "--target", "bob-taxable")
    assert r.code == 0, r.err
    edit_yaml(ws.root / "portfolios" / "alice-ira.yaml", alice)
    r = ws.run("plan", "--target", "alice-ira", "--format", "json")
    assert r.code == 0, r.err
    return json.loads(r.out)["portfolios"][0]  # type: ignore[no-any-return]


def _bought(planned: dict[str, Any]) -> set[str]:
    return {a["symbol"] for a in planned["actions"] if a["side"] == "buy"}


def test_a_household_sale_at_a_gain_does_not_stop_the_buy(workspace: Workspace) -> None:
    assert "GLD" in _bought(_alice_after_bob_sells_gld(workspace, "1200"))


def test_a_household_sale_at_a_loss_stops_the_buy(workspace: Workspace) -> None:
    assert "GLD" not in _bought(_alice_after_bob_sells_gld(workspace, "6000"))


def test_the_note_names_the_loss_sale(workspace: Workspace) -> None:
    notes = _alice_after_bob_sells_gld(workspace, "6000")["notes"]
    assert any(n.startswith("GLD: not bought until ") and "sold at a loss in paper-taxable" in n
               for n in notes), notes


def test_a_household_sale_without_lots_still_stops_the_buy(workspace: Workspace) -> None:
    assert "GLD" not in _bought(_alice_after_bob_sells_gld(workspace, None))


def test_the_households_trades_carry_the_sales_result(workspace: Workspace) -> None:
    """The plan's household carries the sale's loss: the fill's proceeds after commission less the lot's
    cost."""
    trades = _alice_after_bob_sells_gld(workspace, "6000")["observation"]["household"]["trades"]
    ((quantity, price, commission),) = workspace.query(
        "SELECT f.quantity, f.price, f.commission FROM fills f JOIN intents i"
        " ON i.client_order_id = f.client_order_id WHERE i.symbol = 'GLD'"
    )
    loss = D(str(quantity)) * D(str(price)) - D(str(commission)) - 6000
    gld = [(t["account"], t["side"], D(t["gain"])) for t in trades if t["symbol"] == "GLD"]
    assert gld == [("paper-taxable", "sell", loss)]


def test_a_wash_sale_made_with_the_guard_off_is_noted_in_both_accounts(workspace: Workspace) -> None:
    """alice-ira opts out (`wash_sale: false`) and buys the GLD bob sold at a loss: each plan says so."""

    def alice_off(doc: Any) -> None:
        doc["spec"]["tax"] = {"household": "smith", "wash_sale": False}

    _alice_after_bob_sells_gld(workspace, "6000")
    edit_yaml(workspace.root / "portfolios" / "alice-ira.yaml", alice_off)
    r = workspace.run("apply", "--auto-approve", "--target", "alice-ira")
    assert r.code == 0, r.err
    r = workspace.run("plan", "--format", "json")
    assert r.code == 0, r.err
    noted = {p["name"] for p in json.loads(r.out)["portfolios"]
             if any(n.startswith("wash sale: GLD sold at a loss") for n in p["notes"])}
    assert noted == {"alice-ira", "bob-taxable"}
