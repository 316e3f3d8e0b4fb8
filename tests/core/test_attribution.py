"""Orders the change to the targets causes, told from those old drift causes, by planning the base targets
again on the same observation."""

from __future__ import annotations

from decimal import Decimal

from reconciler.core.attribution import Cause, causes
from reconciler.core.changes import diff_targets
from reconciler.core.models import CostModel, Desired, Observation
from reconciler.core.rules import Trading
from tests.builders import desired, observation, planned

PRICES = {"VTI": "100", "BND": "50"}


def pair(name: str, targets: dict[str, str], positions: dict[str, str], cash: int = 0,
         model: str | None = None) -> tuple[Desired, Observation]:
    d = desired(targets, name=name, account=f"acct-{name}", source=f"portfolios/{name}.yaml")
    if model is not None:
        d = d.model_copy(update={"model": model})
    return d, observation(PRICES, positions, settled=cash, account=f"acct-{name}")


def attribute(base: list[Desired], now: list[tuple[Desired, Observation]]) -> dict[str, Cause]:
    plan = planned(now, base_ref="main", base_commit="b" * 40,
                   target_changes=diff_targets(base, [d for d, _ in now]))
    return causes(plan, base, [d for d, _ in now], CostModel())


def test_a_portfolio_whose_targets_did_not_change_trades_from_drift() -> None:
    drifted = pair("a", {"VTI": "0.5", "BND": "0.5"}, {"VTI": "80", "BND": "40"})  # 80/20 against 50/50
    found = attribute([drifted[0]], [drifted])
    assert found["a"].kind == "drift"


def test_a_portfolio_in_band_before_trades_from_the_change() -> None:
    before = pair("a", {"VTI": "0.5", "BND": "0.5"}, {"VTI": "50", "BND": "100"})  # exactly 50/50
    after = pair("a", {"VTI": "0.8", "BND": "0.2"}, {"VTI": "50", "BND": "100"})
    found = attribute([before[0]], [after])
    assert found["a"].kind == "change"


def test_a_drifted_portfolio_whose_targets_changed_trades_from_both() -> None:
    before = pair("a", {"VTI": "0.5", "BND": "0.5"}, {}, cash=10_000)  # all cash: the old targets buy too
    after = pair("a", {"VTI": "0.8", "BND": "0.2"}, {}, cash=10_000)
    cause = attribute([before[0]], [after])["a"]
    assert cause.kind == "mixed"
    assert dict(cause.drift) == {("VTI", "buy"): Decimal(50), ("BND", "buy"): Decimal(40)}


def test_a_change_through_a_model_file_names_it() -> None:
    model = "portfolios/models/m.yaml"
    before = pair("a", {"VTI": "0.5", "BND": "0.5"}, {"VTI": "50", "BND": "100"}, model=model)
    after = pair("a", {"VTI": "0.8", "BND": "0.2"}, {"VTI": "50", "BND": "100"}, model=model)
    assert attribute([before[0]], [after])["a"].model == model


def test_a_change_in_the_portfolio_file_names_that_file() -> None:
    before = pair("a", {"VTI": "0.5", "BND": "0.5"}, {"VTI": "50", "BND": "100"})
    after = pair("a", {"VTI": "0.8", "BND": "0.2"}, {"VTI": "50", "BND": "100"})
    assert attribute([before[0]], [after])["a"].source == "portfolios/a.yaml"


def test_without_a_base_commit_nothing_is_attributed() -> None:
    assert causes(planned([pair("a", {"VTI": "1"}, {}, cash=1000)]), None) == {}


def test_a_portfolio_with_no_orders_has_no_cause_and_the_next_one_still_has_its_own() -> None:
    # exactly 50/50: no order
    on_target = pair("a", {"VTI": "0.5", "BND": "0.5"}, {"VTI": "50", "BND": "100"})
    drifted = pair("b", {"VTI": "0.5", "BND": "0.5"}, {"VTI": "80", "BND": "40"})
    assert set(attribute([on_target[0], drifted[0]], [on_target, drifted])) == {"b"}


def test_every_drifted_portfolio_has_its_cause() -> None:
    first = pair("a", {"VTI": "0.5", "BND": "0.5"}, {"VTI": "80", "BND": "40"})
    second = pair("b", {"VTI": "0.5", "BND": "0.5"}, {"VTI": "80", "BND": "40"})
    assert set(attribute([first[0], second[0]], [first, second])) == {"a", "b"}


def test_a_move_to_another_model_file_names_no_model() -> None:
    before = pair(
        "a", {"VTI": "0.5", "BND": "0.5"}, {"VTI": "50", "BND": "100"}, model="portfolios/models/m.yaml"
    )
    after = pair(
        "a", {"VTI": "0.8", "BND": "0.2"}, {"VTI": "50", "BND": "100"}, model="portfolios/models/n.yaml"
    )
    cause = attribute([before[0]], [after])["a"]
    assert cause.model is None
    assert cause.source == "portfolios/a.yaml"  # the portfolio file, which switched models


def test_a_change_through_a_model_file_names_no_portfolio_file() -> None:
    model = "portfolios/models/m.yaml"
    before = pair("a", {"VTI": "0.5", "BND": "0.5"}, {"VTI": "50", "BND": "100"}, model=model)
    after = pair("a", {"VTI": "0.8", "BND": "0.2"}, {"VTI": "50", "BND": "100"}, model=model)
    assert attribute([before[0]], [after])["a"].source is None


def test_a_settings_change_beside_an_unchanged_model_file_names_no_model() -> None:
    model = "portfolios/models/m.yaml"
    before = pair("a", {"VTI": "0.5", "BND": "0.5"}, {"VTI": "80", "BND": "40"}, model=model)
    after_d, after_o = pair("a", {"VTI": "0.5", "BND": "0.5"}, {"VTI": "80", "BND": "40"}, model=model)
    after_d = after_d.model_copy(update={"trading": Trading(min_trade_notional=Decimal(1))})
    assert attribute([before[0]], [(after_d, after_o)])["a"].model is None


def _without_costs(base: list[Desired], now: list[tuple[Desired, Observation]]) -> dict[str, Cause]:
    plan = planned(now, base_ref="main", base_commit="b" * 40,
                   target_changes=diff_targets(base, [d for d, _ in now]))
    return causes(plan, base, [d for d, _ in now], None)


def test_without_costs_a_changed_portfolio_is_not_planned_again() -> None:
    before = pair("a", {"VTI": "0.5", "BND": "0.5"}, {}, cash=10_000)  # planned again, it would be mixed
    after = pair("a", {"VTI": "0.8", "BND": "0.2"}, {}, cash=10_000)
    cause = _without_costs([before[0]], [after])["a"]
    assert cause.kind == "change"
    assert cause.replanned is False


def test_without_costs_every_changed_portfolio_has_its_cause() -> None:
    before = [pair(n, {"VTI": "0.5", "BND": "0.5"}, {}, cash=10_000)[0] for n in ("a", "b")]
    after = [pair(n, {"VTI": "0.8", "BND": "0.2"}, {}, cash=10_000) for n in ("a", "b")]
    assert set(_without_costs(before, after)) == {"a", "b"}


def test_one_share_the_base_targets_would_buy_as_well_is_drift() -> None:
    # All cash, $10,000: the base targets buy 1 VTI ($100) and 198 BND; the new ones 80 VTI and 40 BND.
    before = pair("a", {"VTI": "0.01", "BND": "0.99"}, {}, cash=10_000)
    after = pair("a", {"VTI": "0.8", "BND": "0.2"}, {}, cash=10_000)
    cause = attribute([before[0]], [after])["a"]
    assert dict(cause.drift) == {("VTI", "buy"): Decimal(1), ("BND", "buy"): Decimal(40)}
