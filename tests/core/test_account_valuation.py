"""The account's own figures must value it (issue 20, section 2): a cash figure nobody trusts blocks the portfolio,
it is never valued as zero (pure planner)."""

from __future__ import annotations

from datetime import UTC, datetime

from reconciler.core.models import CostModel, Desired, Observation
from reconciler.core.planner import plan_portfolio
from reconciler.core.valuation import QuoteLimits
from tests.builders import desired, observation, quote

NOW = datetime(2031, 5, 6, 15, 0, tzinfo=UTC)
LIMITS = QuoteLimits(max_age_seconds=60)
DISTRUST = "the account reports cash 0 but its activities imply 1000; trusting neither"


def _desired() -> Desired:
    return desired({"AAA": "0.4", "BBB": "0.4"}, "0.2", name="p", source="p.yaml")


def _obs(cash: int, untrusted: str | None = None) -> Observation:
    """AAA 2000 and BBB 2000 beside `cash`: with the true cash (1000) nothing is out of its band."""
    quotes = {"AAA": quote("AAA", 100, previous_close=100, as_of=NOW), "BBB": quote("BBB", 50, previous_close=50,
                                                                                    as_of=NOW)}
    obs = observation(positions={"AAA": 20, "BBB": 40}, settled=cash, taken_at=NOW, quotes=quotes)
    return obs.model_copy(update={"cash_untrusted": untrusted, "cash_warning": untrusted})


def test_untrusted_cash_blocks_the_portfolio_instead_of_being_valued_as_zero() -> None:
    """Before, the cash was read as reported (0): the holdings were then all of a smaller account, and sold to
    raise the cash target."""
    pp = plan_portfolio(_desired(), _obs(0, DISTRUST), CostModel(), LIMITS)
    assert pp.actions == []
    assert pp.blocked == [f"cash: {DISTRUST}; the account's value is unknown (its cash is never taken as zero)"]
    assert any(n.startswith("not traded: this account cannot be valued") for n in pp.notes), pp.notes


def test_the_same_figure_trusted_would_sell() -> None:
    """What the block prevents: the same observation, its cash believed, sells."""
    pp = plan_portfolio(_desired(), _obs(0), CostModel(), LIMITS)
    assert {a.side for a in pp.actions} == {"sell"}


def test_trusted_cash_still_plans() -> None:
    pp = plan_portfolio(_desired(), _obs(1000), CostModel(), LIMITS)
    assert pp.blocked == []
    assert pp.actions == []
