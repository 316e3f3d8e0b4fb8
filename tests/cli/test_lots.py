"""`reconciler lots import ACCOUNT FILE` and `reconciler lots ACCOUNT`: a broker export into the journal's lot
ledger, shown with terms and unrealized gains at the paper broker's prices, and checked against its
positions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import time_machine

from tests.conftest import Workspace

TODAY = datetime(2025, 6, 3, 15, 0, tzinfo=UTC)
HEADER = "symbol,acquired,quantity,cost_basis\n"
# paper-taxable holds VTI 210, VXUS 120, BND 95, AAPL 40, GLD 12 (reconciler.yaml); VTI is quoted at 289.41.
GOOD = HEADER + "VTI,2020-01-02,200,32000.00\nVTI,2025-01-02,10,2950.10\nVXUS,2021-05-04,100,5500\n"


@pytest.fixture(autouse=True)
def _pinned_clock() -> Any:
    with time_machine.travel(TODAY, tick=False):
        yield


def _file(workspace: Workspace, text: str) -> Path:
    path = workspace.root / "lots.csv"
    path.write_text(text)
    return path


def _shown(workspace: Workspace) -> dict[str, Any]:
    r = workspace.run("lots", "paper-taxable", "--format", "json")
    assert r.code == 0, r.err
    return dict(json.loads(r.out))


def test_imported_lots_show_their_term_and_unrealized_gain(workspace: Workspace) -> None:
    assert workspace.run("lots", "import", "paper-taxable", str(_file(workspace, GOOD))).code == 0
    vti = [lot for lot in _shown(workspace)["lots"] if lot["symbol"] == "VTI"]
    assert [(lot["term"], D(lot["unrealized"])) for lot in vti] == [
        ("long", 200 * D("289.41") - 32000), ("short", 10 * D("289.41") - D("2950.10"))]


def test_the_unrealized_totals_split_short_and_long_term(workspace: Workspace) -> None:
    workspace.run("lots", "import", "paper-taxable", str(_file(workspace, GOOD)))
    totals = _shown(workspace)["unrealized"]
    assert D(totals["short_term"]) == 10 * D("289.41") - D("2950.10")


def test_lots_that_disagree_with_the_broker_are_named(workspace: Workspace) -> None:
    workspace.run("lots", "import", "paper-taxable", str(_file(workspace, GOOD)))
    found = {m["symbol"]: (D(m["ledger"]), D(m["broker"])) for m in _shown(workspace)["mismatches"]}
    assert found == {
        "VXUS": (D(100), D(120)),
        "BND": (D(0), D(95)),
        "AAPL": (D(0), D(40)),
        "GLD": (D(0), D(12)),
    }


def test_the_text_view_says_tax_aware_choices_are_off_for_a_mismatch(workspace: Workspace) -> None:
    workspace.run("lots", "import", "paper-taxable", str(_file(workspace, GOOD)))
    r = workspace.run("lots", "paper-taxable")
    assert "VXUS: lots hold 100, the broker 120: tax-aware choices for VXUS are off" in r.out


def test_a_new_import_replaces_the_lots_of_the_symbols_it_lists_only(workspace: Workspace) -> None:
    workspace.run("lots", "import", "paper-taxable", str(_file(workspace, GOOD)))
    workspace.run(
        "lots", "import", "paper-taxable", str(_file(workspace, HEADER + "VXUS,2021-05-04,120,6600\n"))
    )
    held = {(lot["symbol"], lot["quantity"]) for lot in _shown(workspace)["lots"]}
    assert held == {("VTI", "200"), ("VTI", "10"), ("VXUS", "120")}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("vti,2020-01-02,1,100", "symbol 'vti' is not a symbol"),
        ("VTI,02/01/2020,1,100", "acquired '02/01/2020' is not a date"),
        ("VTI,2020-02-30,1,100", "acquired '2020-02-30' is not a date"),
        ("VTI,2025-06-04,1,100", "acquired 2025-06-04 is after today (2025-06-03)"),
        ("VTI,2020-01-02,0,100", "quantity '0' is not a number above 0"),
        ("VTI,2020-01-02,1,-5", "cost_basis '-5' is not a number 0 or more"),
        ("VTI,2020-01-02,1,NaN", "cost_basis 'NaN' is not a number 0 or more"),
        ("VTI,2020-01-02,1", "3 values, not 4"),
    ],
)
def test_a_bad_line_is_refused_at_its_file_and_line_and_nothing_is_imported(
    workspace: Workspace, line: str, message: str
) -> None:
    path = _file(workspace, GOOD + line + "\n")
    r = workspace.run("lots", "import", "paper-taxable", str(path))
    assert r.code == 1
    assert f"{path}:5" in r.err
    assert message in r.err
    assert workspace.journal_rows("lots") == 0


def test_a_wrong_header_is_refused_at_line_one(workspace: Workspace) -> None:
    path = _file(workspace, "ticker,date,qty,cost\nVTI,2020-01-02,1,100\n")
    r = workspace.run("lots", "import", "paper-taxable", str(path))
    assert f"{path}:1" in r.err


def test_an_unknown_account_is_refused(workspace: Workspace) -> None:
    r = workspace.run("lots", "import", "nobody", str(_file(workspace, GOOD)))
    assert "unknown account 'nobody'" in r.err


def test_import_without_a_file_says_how_to_call_it(workspace: Workspace) -> None:
    r = workspace.run("lots", "import", "paper-taxable")
    assert "reconciler lots import ACCOUNT FILE" in r.err


def test_an_account_without_lots_says_how_to_import_them(workspace: Workspace) -> None:
    r = workspace.run("lots", "paper-college")
    assert "no lots in the journal (reconciler lots import paper-college FILE)" in r.out
