"""A plan nobody touched derives to itself after its file's round trip: apply compares every field of each
portfolio's plan with the one derived again from the parsed observation (execution.judge), so nothing the
planner writes may depend on how a value was spelled before it was saved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from reconciler.core.models import CostModel, MarketStatus, PortfolioPlan
from reconciler.core.planner import plan_portfolio
from tests.builders import desired, observation, quote

NOW = datetime(2031, 5, 6, 15, 0, tzinfo=UTC)


@given(st.integers(min_value=-12 * 60, max_value=14 * 60), st.booleans())
def test_a_closed_market_note_survives_the_round_trip(offset_minutes: int, closed: bool) -> None:
    zone = timezone(timedelta(minutes=offset_minutes))  # as a broker's clock gives it: "…T09:30:00-05:00"
    market = MarketStatus(
        is_open=not closed, next_open=(NOW + timedelta(hours=18)).astimezone(zone), source="clock"
    )
    target = desired({"AAA": "0.5", "BBB": "0.5"})
    quotes = {"AAA": quote("AAA", 100, previous_close=100, as_of=NOW), "BBB": quote("BBB", 50, as_of=NOW)}
    obs = observation(settled=10000, taken_at=NOW, quotes=quotes).model_copy(update={"market": market})
    pp = plan_portfolio(target, obs, CostModel(), references={"BBB": Decimal(50)})
    parsed = PortfolioPlan.model_validate_json(pp.model_dump_json())
    again = plan_portfolio(target, parsed.observation, CostModel(), references=parsed.references)
    assert again == parsed


def test_an_action_reason_outside_the_vocabulary_is_refused() -> None:
    """Why an order is planned is a closed set (core.models.ActionReason): a plan file saying otherwise was
    written by something else than the planner, and does not parse."""
    target = desired({"AAA": "1"})
    obs = observation(
        settled=10000, taken_at=NOW, quotes={"AAA": quote("AAA", 100, previous_close=100, as_of=NOW)}
    )
    written = plan_portfolio(target, obs, CostModel(), references={}).model_dump(mode="json")
    assert written["actions"][0]["reason"] == "underweight"
    written["actions"][0]["reason"] = "because I said so"
    with pytest.raises(ValidationError, match="reason"):
        PortfolioPlan.model_validate(written)
