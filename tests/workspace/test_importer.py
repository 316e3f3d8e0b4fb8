"""`reconciler import`'s core: an account's holdings become a Portfolio file whose targets are today's
weights, which reads back through the spec loader, and plans no orders until someone edits it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.clock import FixedClock
from reconciler.core.models import CostModel, Desired, Observation
from reconciler.core.planner import plan_portfolio
from reconciler.errors import ReconcilerError
from reconciler.workspace.importer import portfolio_yaml
from reconciler.workspace.models import PortfolioDoc
from reconciler.workspace.yamlpos import parse_documents
from tests.builders import observation

CLOCK = FixedClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
STEP = Decimal("0.0001")
# The example repository's paper-taxable account (reconciler.yaml), at the emulator's prices.
TAXABLE = {"VTI": "210", "VXUS": "120", "BND": "95", "AAPL": "40", "GLD": "12"}
PRICES = {"VTI": "289.41", "VXUS": "64.12", "BND": "72.85", "AAPL": "229.87", "GLD": "243.10"}


def account(
    positions: dict[str, str], prices: dict[str, str] | None = None, *, cash: str = "0", unsettled: str = "0"
) -> Observation:
    """The example's paper-taxable account holding these positions, at the emulator's prices unless given."""
    return observation(PRICES if prices is None else prices, positions, settled=cash, unsettled=unsettled,
                       account="paper-taxable", taken_at=CLOCK.now())


def read_back(text: str) -> PortfolioDoc:
    """The file as `reconciler plan` reads it."""
    (raw,) = parse_documents(text, Path("portfolios/imported.yaml"))
    return PortfolioDoc.model_validate(raw.data)


def refusal(obs: Observation, step: Decimal = STEP) -> ReconcilerError:
    with pytest.raises(ReconcilerError) as caught:
        portfolio_yaml("x", "acct", obs, step=step)
    return caught.value


def test_the_file_holds_todays_weights_rounded_to_the_step() -> None:
    text = portfolio_yaml("taxable", "paper-taxable", account(TAXABLE, cash="1250.40"), step=STEP)
    assert text == (
        "# Imported from account paper-taxable (2026-03-02 15:00 UTC): today's holdings as targets.\n"
        "# Edit the weights to plan a change; `reconciler plan` shows no orders until you do.\n"
        "apiVersion: reconciler.dev/v1\n"
        "kind: Portfolio\n"
        "metadata:\n"
        "  name: taxable\n"
        "spec:\n"
        "  account: paper-taxable\n"
        "  targets:\n"
        "    AAPL: 0.1036\n"
        "    BND: 0.078\n"
        "    GLD: 0.0328\n"
        "    VTI: 0.6848\n"
        "    VXUS: 0.0867\n"
        "  cash: 0.0141\n"
    )


@pytest.mark.parametrize("step", ["0.01", "0.001", "0.0001"])
def test_weights_are_multiples_of_the_step_and_sum_to_exactly_one(step: str) -> None:
    doc = read_back(
        portfolio_yaml("taxable", "paper-taxable", account(TAXABLE, cash="1250.40"), step=Decimal(step))
    )
    targets = doc.spec.targets or {}
    cash = doc.spec.cash or Decimal(0)
    assert sum(targets.values(), cash) == 1
    assert all(w % Decimal(step) == 0 for w in [*targets.values(), cash])
    assert set(targets) == set(TAXABLE)


def test_the_imported_portfolio_plans_no_orders_against_the_same_account() -> None:
    obs = account(TAXABLE, cash="1250.40")
    doc = read_back(portfolio_yaml("taxable", "paper-taxable", obs, step=STEP))
    desired = Desired(
        name=doc.metadata.name, account=doc.spec.account, source="imported.yaml",
        targets=dict(doc.spec.targets or {}),
        cash=doc.spec.cash or Decimal(0), trading=doc.spec.trading, symbols=dict(doc.spec.symbols),
    )
    assert plan_portfolio(desired, obs, CostModel()).actions == []


def test_unsettled_cash_counts_as_cash() -> None:
    settled = read_back(
        portfolio_yaml("p", "a", account({"VTI": "10"}, cash="2894.10"), step=Decimal("0.01"))
    )
    split = read_back(portfolio_yaml("p", "a", account({"VTI": "10"}, cash="894.10", unsettled="2000"),
                                     step=Decimal("0.01")))
    assert settled.spec.cash == Decimal("0.5")
    assert split.spec.cash == Decimal("0.5")


def test_a_tiny_holding_keeps_one_step_rather_than_a_target_of_zero() -> None:
    """A target of 0 would mean "sell it all"."""
    doc = read_back(portfolio_yaml("p", "a", account({"VTI": "100", "GLD": "0.001"}), step=Decimal("0.01")))
    assert doc.spec.targets == {"GLD": Decimal("0.01"), "VTI": Decimal("0.99")}


def test_a_position_of_zero_is_left_out() -> None:
    doc = read_back(portfolio_yaml("p", "a", account({"VTI": "10", "BND": "0"}, cash="100"), step=STEP))
    assert set(doc.spec.targets or {}) == {"VTI"}


def test_fractional_holdings_turn_on_fractional_trading() -> None:
    whole = read_back(portfolio_yaml("p", "a", account({"VTI": "10"}), step=STEP))
    fractional = read_back(portfolio_yaml("p", "a", account({"VTI": "10.5"}), step=STEP))
    assert not whole.spec.trading.fractional
    assert fractional.spec.trading.fractional


@pytest.mark.parametrize("symbol", ["1E5", "TRUE", "NULL", "NO", "0700"])
def test_a_symbol_yaml_would_read_as_something_else_reads_back_as_written(symbol: str) -> None:
    text = portfolio_yaml("p", "a", account({symbol: "3"}, {symbol: "10"}, cash="70"), step=STEP)
    assert f'    "{symbol}": 0.3\n' in text
    assert read_back(text).spec.targets == {symbol: Decimal("0.3")}


def test_the_schema_comment_is_relative_to_the_file_written() -> None:
    text = portfolio_yaml(
        "p",
        "a",
        account({"VTI": "10"}),
        step=STEP,
        schema=Path("/repo/schema/portfolio.json"),
        out=Path("/repo/portfolios/team/p.yaml"),
    )
    assert text.splitlines()[0] == "# yaml-language-server: $schema=../../schema/portfolio.json"


def test_without_an_output_file_there_is_no_schema_comment() -> None:
    text = portfolio_yaml(
        "p", "a", account({"VTI": "10"}), step=STEP, schema=Path("/repo/schema/portfolio.json")
    )
    assert "yaml-language-server" not in text


def test_an_account_holding_only_cash_is_refused() -> None:
    err = refusal(account({}, {}, cash="100"))
    assert err.message == "account 'acct' holds only cash"
    assert err.where == "account acct"
    assert err.fix is not None
    assert "write it by hand" in err.fix


def test_an_empty_account_is_refused() -> None:
    err = refusal(account({}, {}))
    assert err.message == "cannot import account 'acct': nothing to weigh: no holdings and no cash"
    assert err.fix == "fund the account first, or pass a finer --step"


@pytest.mark.parametrize(
    ("step", "says"),
    [("0.03", "step must divide 1 (0.01, 0.001, 0.0001 ...)"), ("0.5", "3 holdings do not fit in steps of"
                                                                " 0.5")],
    ids=["step-not-dividing-one", "step-too-coarse"],
)
def test_a_step_that_cannot_hold_the_weights_is_refused(step: str, says: str) -> None:
    err = refusal(account({"VTI": "1", "BND": "1", "GLD": "1"}), Decimal(step))
    assert err.message.startswith(f"cannot import account 'acct': {says}")


def test_a_holding_without_a_quote_is_refused_by_name() -> None:
    err = refusal(account({"VTI": "10", "ZZZ": "5"}))
    assert err.message == "no quote for ZZZ"
    assert err.where == "account paper-taxable"
