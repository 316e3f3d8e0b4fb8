"""The account's own figures must value it (issue 20, section 2): a cash figure nobody trusts blocks the
portfolio, it is never valued as zero; positions times quotes plus cash must agree with the equity (and long
market value) the broker reports (pure planner)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from reconciler.core.models import CostModel, Desired, Observation
from reconciler.core.planner import plan_portfolio
from reconciler.core.valuation import QuoteLimits, account_doubts
from tests.builders import desired, observation, quote

NOW = datetime(2031, 5, 6, 15, 0, tzinfo=UTC)
LIMITS = QuoteLimits(max_age_seconds=60)
DISTRUST = "the account reports cash 0 but its activities imply 1000; trusting neither"


def _desired() -> Desired:
    return desired({"AAA": "0.4", "BBB": "0.4"}, "0.2", name="p", source="p.yaml")


def _obs(cash: int, untrusted: str | None = None) -> Observation:
    """AAA 2000 and BBB 2000 beside `cash`: with the true cash (1000) nothing is out of its band."""
    quotes = {
        "AAA": quote("AAA", 100, previous_close=100, as_of=NOW),
        "BBB": quote("BBB", 50, previous_close=50, as_of=NOW),
    }
    obs = observation(positions={"AAA": 20, "BBB": 40}, settled=cash, taken_at=NOW, quotes=quotes)
    return obs.model_copy(update={"cash_untrusted": untrusted, "cash_warning": untrusted})


def test_untrusted_cash_blocks_the_portfolio_instead_of_being_valued_as_zero() -> None:
    """Before, the cash was read as reported (0): the holdings were then all of a smaller account, and sold to
    raise the cash target."""
    pp = plan_portfolio(_desired(), _obs(0, DISTRUST), CostModel(), LIMITS)
    assert pp.actions == []
    assert pp.blocked == [f"cash: {DISTRUST}; the account's value is unknown (its cash is never taken as"
                          " zero)"]
    assert any(n.startswith("not traded: this account cannot be valued") for n in pp.notes), pp.notes


def test_the_same_figure_trusted_would_sell() -> None:
    """What the block prevents: the same observation, its cash believed, sells."""
    pp = plan_portfolio(_desired(), _obs(0), CostModel(), LIMITS)
    assert {a.side for a in pp.actions} == {"sell"}


def test_trusted_cash_still_plans() -> None:
    pp = plan_portfolio(_desired(), _obs(1000), CostModel(), LIMITS)
    assert pp.blocked == []
    assert pp.actions == []


def _reported(equity: str | None, long_value: str | None = None, aaa: int = 20) -> Observation:
    """The true account (AAA 2000, BBB 2000, cash 1000: equity 5000, long 4000) with AAA's quantity as
    reported."""
    obs = _obs(1000)
    return obs.model_copy(update={
        "positions": {**obs.positions, "AAA": Decimal(aaa)},
        "reported_equity": None if equity is None else Decimal(equity),
        "reported_long_value": None if long_value is None else Decimal(long_value),
    })


def test_a_position_reported_100_times_too_high_blocks_the_portfolio() -> None:
    """Before, AAA at 2000 shares made it 98% of a 204,000 account: the plan sold most of a holding that is
    not there, and sized buys from the inflated equity."""
    pp = plan_portfolio(_desired(), _reported("5000", "4000", aaa=2000), CostModel(), LIMITS)
    assert pp.actions == []
    assert [b.split(":")[0] for b in pp.blocked] == ["equity", "long market value"]


@pytest.mark.parametrize(
    ("equity", "long_value", "says"),
    [
        ("5000", "4000", []),
        ("5090", "4060", []),  # within 2% of the equity: the broker's prices are minutes from ours
        ("5200", None, ["equity"]),
        (None, "4000", []),  # no equity reported (an exchange): nothing to check against
        ("5000", "3000", ["long market value"]),
    ],
)
def test_the_account_figures_agree_within_the_tolerance(
    equity: str, long_value: str | None, says: list[str]
) -> None:
    assert [d.split(":")[0] for d in account_doubts(_reported(equity, long_value))] == says
