"""A portfolio's `tax:` block: read into the portfolio, bad values refused at their file and line, and the
keys nothing acts on yet named by `validate`."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from reconciler.core.tax_rules import TaxSettings, not_acting
from reconciler.workspace.loader import load_workspace, portfolio_hash
from tests.conftest import Workspace, edit_yaml

TAX = {
    "lots": "hifo",
    "rates": {"short_term": 0.35, "long_term": 0.15},
    "max_realized_gain": 5000,
    "avoid_short_term_days": 30,
    "household": "smith",
}


def _set_tax(workspace: Workspace, tax: Any) -> None:
    edit_yaml(workspace.root / "portfolios" / "bob-taxable.yaml", lambda d: d["spec"].__setitem__("tax", tax))


def _bob(workspace: Workspace) -> Any:
    return next(p for p in load_workspace(workspace.config).portfolios if p.name == "bob-taxable")


def test_the_tax_block_is_read_into_the_portfolio(workspace: Workspace) -> None:
    _set_tax(workspace, TAX)
    tax = _bob(workspace).tax
    assert (tax.lots, tax.rates.rates().short_term, tax.max_realized_gain) == ("hifo", D("0.35"), D(5000))


def test_a_portfolio_without_tax_has_none(workspace: Workspace) -> None:
    assert _bob(workspace).tax is None


def test_setting_tax_changes_the_portfolios_hash(workspace: Workspace) -> None:
    before = portfolio_hash(_bob(workspace))
    _set_tax(workspace, TAX)
    assert portfolio_hash(_bob(workspace)) != before


@pytest.mark.parametrize(
    ("tax", "message"),
    [
        ({"lots": "average"}, "spec.tax.lots"),
        ({"rates": {"short_term": 1.5}}, "spec.tax.rates.short_term"),
        ({"rates": {"short": 0.3}}, "spec.tax.rates.short"),
        ({"max_realized_gain": -5}, "spec.tax.max_realized_gain"),
        ({"avoid_short_term_days": 400}, "spec.tax.avoid_short_term_days"),
        ({"household": "Smith Family"}, "spec.tax.household"),
        ({"substitutes": [["vti", "ITOT"]]}, "spec.tax.substitutes"),
        ({"substitutes": [["VTI", "VTI"]]}, "two or more different symbols"),
        ({"substitutes": [["VTI", "ITOT"], ["ITOT", "SCHB"]]}, "ITOT is in more than one group"),
        ({"harvest": {"min_loss": 0}}, "spec.tax.harvest.min_loss"),
        ({"wash_sale": "maybe"}, "spec.tax.wash_sale"),
    ],
)
def test_bad_tax_values_are_refused_at_their_file_and_line(
    workspace: Workspace, tax: Any, message: str
) -> None:
    _set_tax(workspace, tax)
    r = workspace.run("validate", "--no-policies")
    assert r.code != 0
    assert message in r.err
    assert f"{workspace.root / 'portfolios' / 'bob-taxable.yaml'}:" in r.err
    assert "Traceback" not in r.err


def test_validate_warns_of_no_tax_key_once_every_one_acts(workspace: Workspace) -> None:
    _set_tax(workspace, {**TAX, "harvest": {"min_loss": 1000}})
    r = workspace.run("validate", "--no-policies")
    assert r.code == 0, r.err
    assert "not acted on yet" not in r.out


def test_validate_leaves_the_wash_sale_keys_out_of_its_warning() -> None:
    """The guard, substitutes and harvesting act in `plan` (core.wash_guard)."""
    given = TaxSettings(household="smith", substitutes=[["VTI", "ITOT"]], harvest={"min_loss": 1000})
    assert {"household", "wash_sale", "substitutes", "harvest"} & set(not_acting(given)) == set()


def test_the_lot_method_is_acted_on_by_the_ledger() -> None:
    """Fills close lots by `tax.lots` (journal.lot_book): validate does not call it idle."""
    assert not_acting(TaxSettings(lots="hifo", wash_sale=False)) == []
