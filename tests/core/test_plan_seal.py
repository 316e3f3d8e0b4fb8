"""The plan's seal: its canonical JSON leaves out what is unset (so plans written before a field existed keep
their hash), keys sorted; the content hash covers it; the keyed seal holds only under its own key and hash."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from reconciler.core.models import MarketStatus, Plan
from reconciler.core.plan import canonical_json, compute_hash, reseal, seal, signature_valid, signed
from tests.builders import NOW, desired, observation, planned, quote

KEY = b"k" * 32


def a_plan(**changes: Any) -> Plan:
    return planned(
        [(desired({"VTI": "1"}, name="alpha"), observation({"VTI": "100"}, {"VTI": "10"}))], **changes
    )


def portfolio_json(plan: Plan) -> dict[str, Any]:
    (portfolio,) = json.loads(canonical_json(plan))["portfolios"]
    return dict(portfolio)


def with_portfolio(plan: Plan, **changes: Any) -> Plan:
    (pp,) = plan.portfolios
    return reseal(plan, portfolios=[pp.model_copy(update=changes)])


def with_observation(plan: Plan, **changes: Any) -> Plan:
    (pp,) = plan.portfolios
    return with_portfolio(plan, observation=pp.observation.model_copy(update=changes))


def test_an_unset_plan_field_is_left_out() -> None:
    assert "base_ref" not in json.loads(canonical_json(a_plan()))


def test_a_set_plan_field_is_hashed() -> None:
    assert json.loads(canonical_json(a_plan(base_ref="main")))["base_ref"] == "main"


@pytest.mark.parametrize("name", ["blocked", "references"])
def test_a_portfolios_empty_blocked_and_references_are_left_out(name: str) -> None:
    assert name not in portfolio_json(a_plan())


def test_a_portfolios_references_are_hashed() -> None:
    plan = with_portfolio(a_plan(), references={"VTI": Decimal(99)})
    assert portfolio_json(plan)["references"] == {"VTI": "99"}


def test_no_moved_holding_is_left_out() -> None:
    assert "moved" not in portfolio_json(a_plan())["observation"]


def test_a_moved_holding_is_hashed() -> None:
    plan = with_observation(a_plan(), moved={"VTI": "a split"})
    assert portfolio_json(plan)["observation"]["moved"] == {"VTI": "a split"}


def test_an_unset_observation_field_is_left_out() -> None:
    assert "market" not in portfolio_json(a_plan())["observation"]


def test_a_set_observation_field_is_hashed() -> None:
    plan = with_observation(a_plan(), market=MarketStatus(is_open=True, source="the broker's clock"))
    assert portfolio_json(plan)["observation"]["market"]["source"] == "the broker's clock"


def test_an_unset_quote_field_is_left_out() -> None:
    assert "bid" not in portfolio_json(a_plan())["observation"]["quotes"]["VTI"]


def test_a_set_quote_field_is_hashed() -> None:
    plan = with_observation(a_plan(), quotes={"VTI": quote("VTI", "100", daily_volume="5000")})
    assert portfolio_json(plan)["observation"]["quotes"]["VTI"]["daily_volume"] == "5000"


def test_the_canonical_json_has_its_keys_sorted_and_no_spaces() -> None:
    text = canonical_json(a_plan(base_ref="main"))
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


def test_a_sealed_plan_carries_the_hash_of_its_content() -> None:
    plan = a_plan()
    assert plan.content_hash == compute_hash(plan)


def test_a_resealed_plan_carries_the_hash_of_its_new_content() -> None:
    plan = reseal(a_plan(), base_ref="main")
    assert plan.content_hash == compute_hash(plan)


def test_a_changed_plan_has_another_hash() -> None:
    assert compute_hash(a_plan(base_ref="main")) != compute_hash(a_plan(base_ref="release"))


def test_the_keyed_seal_holds_under_its_key() -> None:
    assert signature_valid(signed(a_plan(), KEY), KEY) is True


def test_the_keyed_seal_fails_under_another_key() -> None:
    assert signature_valid(signed(a_plan(), KEY), b"x" * 32) is False


def test_an_unsigned_plan_has_no_valid_seal() -> None:
    assert signature_valid(a_plan(), KEY) is False


def test_resealing_drops_the_keyed_seal_of_the_old_hash() -> None:
    assert reseal(signed(a_plan(), KEY), base_ref="main").signature is None


def test_a_seal_keeps_the_portfolio_hashes_given() -> None:
    plan = seal([], created_at=NOW, targets_hash="t" * 64, accounts=[], policy_results=[],
                portfolio_hashes={"alpha": "h"})
    assert plan.portfolio_hashes == {"alpha": "h"}


def test_a_seal_without_portfolio_hashes_has_none() -> None:
    plan = seal([], created_at=NOW, targets_hash="t" * 64, accounts=[], policy_results=[])
    assert plan.portfolio_hashes == {}


def test_a_seal_sorts_the_accounts() -> None:
    plan = seal([], created_at=NOW, targets_hash="t" * 64, accounts=["b", "a"], policy_results=[])
    assert plan.config_accounts == ["a", "b"]
