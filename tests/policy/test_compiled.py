"""The policies' compiled bundle (policy/compiled.py) answers exactly as the normal query does, on a generated
corpus of inputs that deny, warn, pass and fail to evaluate; where it gives no plain result, the normal query
decides."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import PolicyFileError
from reconciler.policy import engine
from reconciler.policy.engine import PolicySet, load_policies

POLICIES = Path(__file__).resolve().parents[2] / "policies"
SEED = 23


def document(rng: random.Random) -> dict[str, Any]:
    """An input as plan or apply builds it, with values drawn to cross every shipped rule's threshold, and now
    and then a value of the wrong type (a strict comparison then fails to evaluate)."""

    def number() -> Any:
        return (
            rng.choice([0, 0.0, -1.0, 5.0, 10.0, 9.5, 1e6, "10", None])
            if rng.random() < 0.1
            else rng.uniform(0, 20)
        )

    actions = [
        {
            "leg": k, "symbol": rng.choice(["VTI", "BND", "GME"]), "side": rng.choice(["buy", "sell"]),
            "quantity": rng.uniform(1, 100), "price": number(), "notional": rng.uniform(0, 20_000),
            "quote": None if rng.random() < 0.1 else {
                "price": number(), "previous_close": number(), "as_of": "2026-03-02T15:00:00+00:00",
                "age_seconds": rng.uniform(0, 120),
            },
        }
        for k in range(rng.randint(0, 6))
    ]
    return {
        "phase": rng.choice(["plan", "apply"]),
        "now": "2026-03-02T15:00:00+00:00",
        "portfolio": "p",
        "account": "a",
        "equity": 10_000.0,
        "turnover": number(),
        "buy_notional": 0.0,
        "sell_notional": 0.0,
        "cash_before": 0.0,
        "cash_after": 0.0,
        "actions": actions,
        "params": {
            "max_order_fraction": 0.5,
            "max_turnover": 1.0,
            "deny_symbols": ["GME"],
            "kill_switch_drop": 0.2,
            "max_quote_age_seconds": 60,
        },
    }


def verdict(policies: PolicySet, doc: dict[str, Any]) -> Any:
    try:
        return sorted((r.policy, r.kind, r.message) for r in policies.evaluate(doc, "p"))
    except PolicyFileError as exc:
        return ("error", str(exc), exc.where)


@pytest.fixture(scope="module")
def shipped() -> PolicySet:
    """The shipped policies with the bundle built (engine.BUNDLE), whatever the default."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine, "BUNDLE", True)
        return load_policies(POLICIES, {}, "hard-mandatory")


def test_the_bundle_is_on_by_default() -> None:
    assert load_policies(POLICIES, {}, "hard-mandatory").compiled is not None


def test_the_shipped_policies_compile_into_a_bundle(shipped: PolicySet) -> None:
    assert shipped.compiled is not None


def test_the_bundle_answers_as_the_normal_query_does(shipped: PolicySet) -> None:
    rng = random.Random(SEED)
    normal = replace(shipped, compiled=None)
    corpus = [document(rng) for _ in range(400)]
    differing = [doc for doc in corpus if verdict(shipped, doc) != verdict(normal, doc)]
    assert differing == []


def test_the_corpus_denies_warns_passes_and_fails(shipped: PolicySet) -> None:
    rng = random.Random(SEED)
    outcomes = set()
    for _ in range(400):
        v = verdict(shipped, document(rng))
        outcomes.add("error" if isinstance(v, tuple) else "pass" if not v else "found")
    assert outcomes == {"error", "pass", "found"}
