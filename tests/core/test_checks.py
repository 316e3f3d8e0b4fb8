"""The built-in checks' registry (core.checks) is what plan runs, what docs/policies.md lists and what
preflight treats as market checks: each check, found by enumerating the registry, denies a scenario built to
trip it when plan's verdicts are asked for, and a new check without such a scenario fails here."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import cast

import pytest

from reconciler.core.checks import (
    BUILTIN_CHECKS,
    MARKET_CHECKS,
    BuiltinCheck,
    CheckInput,
    ObservedInput,
    OrderInput,
    builtin_verdicts,
    observation_denials,
    order_denials,
)
from reconciler.core.models import Action, CostModel, PortfolioPlan, Side
from reconciler.core.order_size import SizeLimits
from reconciler.core.planner import plan_portfolio
from reconciler.core.valuation import QuoteLimits
from reconciler.workspace.models import PolicyParams
from tests.builders import NOW, desired, observation, quote

DOCS = Path(__file__).resolve().parents[2] / "docs" / "policies.md"


def _doubtful_quote() -> tuple[PortfolioPlan, CheckInput]:
    """A quote an hour old: the planner blocks the portfolio."""
    obs = observation(settled=10000, taken_at=NOW, quotes={"AAA": quote("AAA", 100, previous_close=100,
                                                                         as_of=NOW - timedelta(hours=1))})
    pp = plan_portfolio(desired({"AAA": "1"}), obs, CostModel(), QuoteLimits(max_age_seconds=60), {})
    return pp, CheckInput()


def _absurd_size() -> tuple[PortfolioPlan, CheckInput]:
    """A buy of far more than the symbol trades in a day."""
    obs = observation(settled=10000, taken_at=NOW, quotes={"AAA": quote("AAA", 1, previous_close=1,
                                                                         daily_volume=100)})
    pp = plan_portfolio(desired({"AAA": "1"}), obs, CostModel(), references={})
    return pp, CheckInput(size_limits=SizeLimits(max_volume_fraction=Decimal("0.05")))


TRIPS: dict[str, Callable[[], tuple[PortfolioPlan, CheckInput]]] = {
    "valuation": _doubtful_quote,
    "order_size": _absurd_size,
}


def test_every_check_has_a_scenario_that_trips_it() -> None:
    assert sorted(TRIPS) == sorted(c.name for c in BUILTIN_CHECKS)


@pytest.mark.parametrize("check", BUILTIN_CHECKS, ids=lambda c: c.name)
def test_plan_runs_each_check_declaring_the_plan_phase(check: BuiltinCheck) -> None:
    pp, given = TRIPS[check.name]()
    denied = {r.policy for r in builtin_verdicts(pp, given) if r.kind == "deny"}
    assert (check.name in denied) == ("plan" in check.phases)


def test_a_sound_plan_trips_nothing() -> None:
    obs = observation(settled=10000, taken_at=NOW, quotes={"AAA": quote("AAA", 100, previous_close=100)})
    pp = plan_portfolio(desired({"AAA": "1"}), obs, CostModel(), references={})
    assert builtin_verdicts(pp, CheckInput(SizeLimits(Decimal("0.05"), Decimal(2)))) == []


def test_each_check_reads_only_real_parameters() -> None:
    params = set(PolicyParams.model_fields)
    assert sorted({p for c in BUILTIN_CHECKS for p in c.parameters} - params) == []


def test_market_checks_are_the_registry_s() -> None:
    assert sorted(MARKET_CHECKS) == sorted(c.name for c in BUILTIN_CHECKS if c.market)


def test_the_policies_doc_lists_every_check() -> None:
    rows = re.findall(
        r"^\| `([a-z_]+)` \| ([a-z, ]+) \| ([a-z-]+) \| (.*) \|$", DOCS.read_text(encoding="utf-8"), re.M
    )
    listed = {
        name: (phases, level, re.findall(r"`([a-z_]+)`", params)) for name, phases, level, params in rows
    }
    assert listed == {
        c.name: (", ".join(c.phases), c.level, list(c.parameters)) for c in BUILTIN_CHECKS
    }


def test_the_valuation_and_order_size_checks_are_about_the_market() -> None:
    """Their denials (a doubtful quote, a size only a wrong quote explains) stop their own portfolio only, so
    the other portfolios of a plan go on (execution.preflight.admitted reads MARKET_CHECKS)."""
    assert sorted(MARKET_CHECKS) == ["order_size", "valuation"]


@pytest.mark.parametrize("check", [c for c in BUILTIN_CHECKS if "send" in c.phases], ids=lambda c: c.name)
def test_each_send_phase_check_has_a_hook_apply_calls(check: BuiltinCheck) -> None:
    assert check.on_observation is not None or check.on_order is not None


def test_a_doubtful_fresh_observation_is_denied_through_the_registry() -> None:
    obs = observation(settled=100, quotes={"AAA": quote("AAA", 100, previous_close=10)})
    given = ObservedInput("p", obs, frozenset({"AAA"}), QuoteLimits(max_move=Decimal("0.2")), {}, {})
    assert [r.policy for r in observation_denials(given)] == ["valuation"]


def test_a_sound_fresh_observation_is_denied_nothing() -> None:
    obs = observation(settled=100, quotes={"AAA": quote("AAA", 100, previous_close=100)})
    limits = QuoteLimits(max_move=Decimal("0.2"))
    assert observation_denials(ObservedInput("p", obs, frozenset({"AAA"}), limits, {}, {})) == []


def _order(side: str, quantity: str, held: str) -> OrderInput:
    q = Decimal(quantity)
    side_ = cast(Side, side)
    action = Action(1, "AAA", side_, q, Decimal(100), q * 100, Decimal(0), "underweight")
    return OrderInput("p", action, quote("AAA", 100), Decimal(held), Decimal(10000), SizeLimits(), None, None)


def test_a_sell_above_the_position_is_denied_through_the_registry() -> None:
    assert [r.policy for r in order_denials(_order("sell", "11", "10"))] == ["order_size"]


def test_a_sell_of_the_whole_position_is_denied_nothing() -> None:
    assert order_denials(_order("sell", "10", "10")) == []
