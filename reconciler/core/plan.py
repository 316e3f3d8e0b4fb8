"""Sealing a plan: canonical JSON, its content hash, and the client order ids derived from it."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import datetime
from itertools import chain
from typing import Any

from reconciler import __version__
from reconciler.core.holding_rows import Holding, HoldingRows
from reconciler.core.models import FORMAT_VERSION, Action, Plan, PolicyResult, PortfolioPlan

# Fields added after format version 1 was published: left out of the hash while unset, so plans written before
# they existed keep their hash and still verify.
_OPTIONAL_FIELDS = ("base_ref", "base_commit", "target_changes", "portfolio_hashes", "overrides")
_OPTIONAL_OBSERVATION_FIELDS = (
    "market", "quote_source", "cash_untrusted", "reported_equity", "reported_long_value", "last_applied",
    "household",
    "lots", "realized_gain",
)
_OPTIONAL_QUOTE_FIELDS = ("daily_volume", "bid", "ask")


CLIENT_ORDER_ID_LENGTH = 36
CLIENT_ORDER_ID_PREFIX = "rc-"  # every order reconciler sends; reconcile tells ours from others' by it


def canonical_json(plan: Plan) -> str:
    """The bytes the content hash covers: everything but the hash itself, keys sorted."""
    unset = {name for name in _OPTIONAL_FIELDS if getattr(plan, name) in (None, [], {})}
    # The holdings are written from their columns (core.holding_rows), not dumped to dicts and encoded again:
    # each portfolio's goes where a NaN stands for it, a token no dumped value writes (Decimals are strings).
    exclude: dict[str, Any] = {name: True for name in ("content_hash", "signature", *unset)}
    exclude["portfolios"] = {"__all__": {"holdings": True}}
    data: dict[str, Any] = plan.model_dump(mode="json", exclude=exclude)
    for portfolio in data["portfolios"]:
        portfolio["holdings"] = _HOLDINGS
        for name in ("blocked", "references", "withdrawal", "tax", "lot_mismatches"):
            if not portfolio.get(name):
                portfolio.pop(name, None)
        observation = portfolio["observation"]
        if not observation.get("moved"):  # a plan from before moves were judged hashes as it did then
            observation.pop("moved", None)
        for name in _OPTIONAL_OBSERVATION_FIELDS:
            if observation.get(name) is None:
                observation.pop(name, None)
        household = observation.get("household")
        if household is not None and household.get("lots") is None:  # a copy of `lots` older plans carried
            household.pop("lots", None)
        for quote in observation["quotes"].values():
            for name in _OPTIONAL_QUOTE_FIELDS:
                if quote.get(name) is None:
                    quote.pop(name, None)
    parts = json.dumps(data, sort_keys=True, separators=(",", ":")).split(_HOLDINGS_JSON)
    if len(parts) != len(plan.portfolios) + 1:
        raise ValueError(f"canonical JSON: {len(parts) - 1} holdings for {len(plan.portfolios)} portfolios")
    rows = [_HOLDINGS_KEY + _rows(p.holdings).sorted_json() for p in plan.portfolios]
    return "".join(chain.from_iterable(zip(parts, [*rows, ""], strict=True)))


_HOLDINGS = float("nan")
_HOLDINGS_KEY = '"holdings":'
_HOLDINGS_JSON = _HOLDINGS_KEY + "NaN"


def _rows(holdings: Sequence[Holding]) -> HoldingRows:
    return holdings if isinstance(holdings, HoldingRows) else HoldingRows.of(holdings)


def compute_hash(plan: Plan) -> str:
    """The plan's seal: apply refuses a plan file whose content no longer matches it."""
    return hashlib.sha256(canonical_json(plan).encode()).hexdigest()


def signature_of(content_hash: str, key: bytes) -> str:
    """The keyed seal: HMAC-SHA256 of the content hash (which covers everything else in the plan)."""
    return hmac.new(key, f"reconciler-plan:{content_hash}".encode(), hashlib.sha256).hexdigest()


def signed(plan: Plan, key: bytes) -> Plan:
    """The plan with its keyed seal."""
    return plan.model_copy(update={"signature": signature_of(plan.content_hash, key)})


def signature_valid(plan: Plan, key: bytes) -> bool:
    """Whether the plan carries the keyed seal of its own content hash under `key` (compared in constant
    time)."""
    return plan.signature is not None and hmac.compare_digest(
        plan.signature, signature_of(plan.content_hash, key)
    )


def reseal(plan: Plan, **changes: Any) -> Plan:
    """A copy of a sealed plan with some fields changed and a fresh content hash (used before it is saved);
    any keyed seal is dropped, since it sealed the old hash."""
    changed = plan.model_copy(update={**changes, "content_hash": "", "signature": None})
    return changed.model_copy(update={"content_hash": compute_hash(changed)})


def seal(
    portfolios: list[PortfolioPlan],
    *,
    created_at: datetime,
    targets_hash: str,
    accounts: list[str],
    policy_results: list[PolicyResult],
    git_commit: str | None = None,
    git_dirty: bool | None = None,
    portfolio_hashes: dict[str, str] | None = None,
) -> Plan:
    """Assemble the plan artifact and stamp its content hash."""
    plan = Plan(
        format_version=FORMAT_VERSION,
        reconciler_version=__version__,
        created_at=created_at,
        targets_hash=targets_hash,
        portfolio_hashes=portfolio_hashes or {},
        git_commit=git_commit,
        git_dirty=git_dirty,
        config_accounts=sorted(accounts),
        portfolios=portfolios,
        policy_results=policy_results,
    )
    return plan.model_copy(update={"content_hash": compute_hash(plan)})


def client_order_id(plan_hash: str, account: str, action: Action) -> str:
    """Deterministic per plan and leg, so re-applying a plan can never send an order twice.

    36 characters, letters, digits and hyphens: the tightest common broker limit (Binance and Bybit allow 36,
    Alpaca 128), so every adapter sends this id unchanged and the broker's order lists name our journal's ids.
    The leg stays readable; the rest is a hash of plan, account and leg (at least 64 bits for legs under
    10^5).
    """
    prefix = f"{CLIENT_ORDER_ID_PREFIX}{plan_hash[:8]}-{action.leg}-"
    leg_key = hashlib.sha256(f"{plan_hash}|{account}|{action.leg}".encode()).hexdigest()
    return prefix + leg_key[: CLIENT_ORDER_ID_LENGTH - len(prefix)]
