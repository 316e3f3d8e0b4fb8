"""Target changes between two versions of the YAML, and the rounding `import` writes weights with."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.changes import PolicyFileChange, diff_targets
from reconciler.core.models import Desired
from reconciler.core.rules import Bands, SymbolRule, Trading
from reconciler.core.weights import round_weights
from reconciler.gitops.proposal_changes import policy_file_changes
from tests.builders import desired


def named(
    name: str, targets: dict[str, str], cash: str = "0", *, trading: Trading | None = None,
    symbols: dict[str, SymbolRule] | None = None,
) -> Desired:
    """Portfolios are matched by name across the two versions: its account and file follow the name."""
    return desired(targets, cash, name=name, account=f"acct-{name}", source=f"{name}.yaml", trading=trading,
                   symbols=symbols)


def test_weights_before_and_after_per_portfolio() -> None:
    before = [named("a", {"VTI": "0.5", "BND": "0.5"}), named("b", {"VTI": "1"})]
    after = [named("a", {"VTI": "0.40", "BND": "0.5", "VNQ": "0.1"}), named("b", {"VTI": "1.0"})]
    (change,) = diff_targets(before, after)  # b only re-spelled 1 as 1.0: not a change
    assert change.portfolio == "a"
    assert change.change == "changed"
    assert [(w.symbol, w.before, w.after) for w in change.weights] == [
        ("VNQ", None, Decimal("0.1")), ("VTI", Decimal("0.5"), Decimal("0.40")),
    ]


def test_added_removed_and_settings() -> None:
    before = [named("a", {"VTI": "1"}), named("gone", {"BND": "1"})]
    after = [
        named("a", {"VTI": "1"}, trading=Trading(bands=Bands(absolute=Decimal("0.03")), buy_only=True),
              symbols={"VTI": SymbolRule(hold=True)}),
        named("new", {"GLD": "0.9"}, cash="0.1"),
    ]
    changes = {c.portfolio: c for c in diff_targets(before, after)}
    assert changes["new"].change == "added"
    assert changes["new"].cash_after == Decimal("0.1")
    assert changes["gone"].change == "removed"
    assert changes["gone"].weights[0].after is None
    assert changes["a"].weights == []
    assert "trading.bands.absolute: 0.05 → 0.03" in changes["a"].settings
    assert "trading.buy_only: false → true" in changes["a"].settings
    assert any(s.startswith("symbols.VTI: (unset) → ") for s in changes["a"].settings)
    assert diff_targets(after, after) == []


def test_round_weights_example() -> None:
    targets, cash = round_weights({"VTI": Decimal("6000"), "BND": Decimal("3333.33")}, Decimal("666.67"),
                                  Decimal("0.0001"))
    assert targets == {"BND": Decimal("0.3333"), "VTI": Decimal("0.6")}
    assert cash == Decimal("0.0667")


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["VTI", "VXUS", "BND", "BNDX", "VNQ", "GLD", "AAPL"]),
        st.integers(1, 10_000_000).map(lambda c: Decimal(c).scaleb(-2)), min_size=1, max_size=7,
    ),
    st.integers(0, 10_000_000).map(lambda c: Decimal(c).scaleb(-2)),
    st.sampled_from([Decimal("0.01"), Decimal("0.001"), Decimal("0.0001")]),
)
def test_rounded_weights_sum_to_exactly_one(values: dict[str, Decimal], cash: Decimal, step: Decimal) -> None:
    targets, cash_weight = round_weights(values, cash, step)
    assert sum(targets.values(), Decimal(0)) + cash_weight == 1  # what validate demands, in exact decimals
    assert set(targets) == set(values)
    assert all(w >= step for w in targets.values())  # a held symbol never gets target 0 ("sell it all")
    assert all((w / step) == (w / step).to_integral_value() for w in [*targets.values(), cash_weight])
    total = sum(values.values(), Decimal(0)) + cash
    # Each weight is within a step of the exact one, except where the one-step minimum had to be taken back.
    bumped = sum(1 for v in values.values() if v / total < step)
    for s, w in targets.items():
        assert abs(w - values[s] / total) <= step * (1 + bumped)


def test_a_portfolio_moved_to_another_account_says_so() -> None:
    before = [named("a", {"VTI": "1"})]
    after = [named("a", {"VTI": "1"}).model_copy(update={"account": "acct-b"})]
    (change,) = diff_targets(before, after)
    assert change.settings == ["account: acct-a → acct-b"]


def test_a_symbol_rule_added_shows_every_field_of_it() -> None:
    before = [named("a", {"VTI": "1"})]
    after = [named("a", {"VTI": "1"}, symbols={"VTI": SymbolRule(hold=True)})]
    (change,) = diff_targets(before, after)
    assert change.settings == ["symbols.VTI: (unset) → {do_not_trade: false, hold: true, min_price: (unset)}"]


def test_a_policy_file_added_counts_no_line_removed_and_one_removed_no_line_added(tmp_path: Path) -> None:
    (tmp_path / "before").mkdir()
    (tmp_path / "after").mkdir()
    (tmp_path / "before" / "old.rego").write_text("package old\n\ndeny contains msg if { false }\n")
    (tmp_path / "after" / "new.rego").write_text("package new\n\nwarn contains msg if { false }\n")
    found = policy_file_changes(tmp_path / "before", tmp_path / "after", "policies")
    assert found == [
        PolicyFileChange("policies/new.rego", "added", added=3, removed=0),
        PolicyFileChange("policies/old.rego", "removed", added=0, removed=3),
    ]
