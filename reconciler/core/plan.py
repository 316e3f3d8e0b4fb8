"""Sealing a plan: canonical JSON, its content hash, and the client order ids derived from it."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from reconciler import __version__
from reconciler.core.models import FORMAT_VERSION, Action, Plan, PolicyResult, PortfolioPlan


def canonical_json(plan: Plan) -> str:
    """The bytes the content hash covers: everything but the hash itself, keys sorted."""
    data: dict[str, Any] = plan.model_dump(mode="json", exclude={"content_hash"})
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def compute_hash(plan: Plan) -> str:
    return hashlib.sha256(canonical_json(plan).encode()).hexdigest()


def seal(
    portfolios: list[PortfolioPlan],
    *,
    created_at: datetime,
    targets_hash: str,
    accounts: list[str],
    policy_results: list[PolicyResult],
    git_commit: str | None = None,
    git_dirty: bool | None = None,
) -> Plan:
    """Assemble the plan artifact and stamp its content hash."""
    plan = Plan(
        format_version=FORMAT_VERSION,
        reconciler_version=__version__,
        created_at=created_at,
        targets_hash=targets_hash,
        git_commit=git_commit,
        git_dirty=git_dirty,
        config_accounts=sorted(accounts),
        portfolios=portfolios,
        policy_results=policy_results,
    )
    return plan.model_copy(update={"content_hash": compute_hash(plan)})


def client_order_id(plan_hash: str, account: str, action: Action) -> str:
    """Deterministic per plan and leg, so re-applying a plan can never send an order twice.

    Alpaca allows 128 characters; 48 stay readable and are still collision-free in practice (96 hash bits).
    """
    leg_key = hashlib.sha256(f"{plan_hash}|{account}|{action.leg}".encode()).hexdigest()[:24]
    return f"rc-{plan_hash[:12]}-{leg_key}-{action.leg}"
