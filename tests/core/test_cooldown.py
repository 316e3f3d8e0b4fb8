"""core.cooldown: inside `trading.cooldown_days` of the last apply, only a weight past the hard band
trades."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from reconciler.core.cooldown import cooled
from reconciler.core.models import CostModel, Observation
from reconciler.core.planner import plan_portfolio
from reconciler.core.rules import Bands, Trading
from tests.builders import NOW, desired, observation

# 100 VTI and 100 BND at 100 each, no cash: 50/50 held. Targets 57/43 drift 7 points (past the 5% band, inside
# the default 10% hard band); 65/35 drift 15 points (past both).
HELD = {"VTI": 100, "BND": 100}
PRICES = {"VTI": 100, "BND": 100}


def _trading(days: int | None = 30, **more: object) -> Trading:
    return Trading(cooldown_days=days, **more)  # type: ignore[arg-type]


def _obs(applied_days_ago: float | None) -> Observation:
    last = None if applied_days_ago is None else NOW - timedelta(days=applied_days_ago)
    return observation(PRICES, HELD).model_copy(update={"last_applied": last})


def test_no_cooldown_setting_leaves_the_targets_alone() -> None:
    d = desired({"VTI": "0.57", "BND": "0.43"}, trading=_trading(None))
    assert cooled(d, _obs(1)) == (d, [])


def test_a_portfolio_never_applied_is_not_cooling() -> None:
    d = desired({"VTI": "0.57", "BND": "0.43"}, trading=_trading())
    assert cooled(d, _obs(None)) == (d, [])


def test_the_cooldown_ends_exactly_n_days_after_the_last_apply() -> None:
    d = desired({"VTI": "0.57", "BND": "0.43"}, trading=_trading(30))
    assert cooled(d, _obs(30)) == (d, [])


def test_one_second_before_the_end_it_still_cools() -> None:
    d = desired({"VTI": "0.57", "BND": "0.43"}, trading=_trading(30))
    got, _ = cooled(d, _obs(30 - 1 / 86400))
    assert got.trading.bands == Bands(absolute=Decimal("0.10"), relative=None)


def test_the_note_states_the_window_and_the_hard_band() -> None:
    d = desired({"VTI": "0.57", "BND": "0.43"}, trading=_trading(30))
    _, notes = cooled(d, _obs(2))
    assert notes == [
        "cooldown: applied 2023-12-31, 30 day cooldown until 2024-01-30; only a weight drifting more than 10%"
        " (the hard band) trades until then"
    ]


def test_the_hard_band_is_never_tighter_than_the_portfolios_own_absolute_band() -> None:
    trading = _trading(30, bands=Bands(absolute=Decimal("0.15")), cooldown_hard_band=Decimal("0.08"))
    got, _ = cooled(desired({"VTI": "0.57", "BND": "0.43"}, trading=trading), _obs(1))
    assert got.trading.bands.absolute == Decimal("0.15")


def test_without_an_absolute_band_the_hard_band_is_used() -> None:
    trading = _trading(30, bands=Bands(absolute=None), cooldown_hard_band=Decimal("0.08"))
    got, _ = cooled(desired({"VTI": "0.57", "BND": "0.43"}, trading=trading), _obs(1))
    assert got.trading.bands.absolute == Decimal("0.08")


def test_the_inner_band_is_kept() -> None:
    trading = _trading(30, bands=Bands(inner=Decimal("0.5")))
    got, _ = cooled(desired({"VTI": "0.57", "BND": "0.43"}, trading=trading), _obs(1))
    assert got.trading.bands.inner == Decimal("0.5")


def test_drift_inside_the_hard_band_is_not_traded_during_a_cooldown() -> None:
    pp = plan_portfolio(desired({"VTI": "0.57", "BND": "0.43"}, trading=_trading()), _obs(1), CostModel())
    assert pp.actions == []


def test_the_plan_note_says_why_nothing_traded() -> None:
    pp = plan_portfolio(desired({"VTI": "0.57", "BND": "0.43"}, trading=_trading()), _obs(1), CostModel())
    assert pp.notes[0].startswith("cooldown: applied 2024-01-01, 30 day cooldown until 2024-01-31")


def test_the_same_drift_trades_once_the_cooldown_is_over() -> None:
    pp = plan_portfolio(desired({"VTI": "0.57", "BND": "0.43"}, trading=_trading()), _obs(31), CostModel())
    assert {(a.symbol, a.side) for a in pp.actions} == {("VTI", "buy"), ("BND", "sell")}


def test_drift_past_the_hard_band_trades_during_a_cooldown() -> None:
    pp = plan_portfolio(desired({"VTI": "0.65", "BND": "0.35"}, trading=_trading()), _obs(1), CostModel())
    assert {(a.symbol, a.side) for a in pp.actions} == {("VTI", "buy"), ("BND", "sell")}
