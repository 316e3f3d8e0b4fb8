"""Drift: how far an account is from its targets, and whether it is out of sync with them. Pure.

A line (a holding, or cash) is outside when its weight is further from target than its band, the planner's own
trigger. A portfolio is OutOfSync when the planner would send orders now, or when a line is outside in a way
the portfolio's rules allow fixing although no order can be placed and nothing is on its way. It is
Progressing when no order can be placed only because cash is on its way: sale proceeds still settling, or cash
reserved by orders still open at the broker; the next apply after they land finishes the job, and nobody needs
to act before. Drift that only the portfolio's own rules keep (hold, do_not_trade, buy_only, a trade under the
minimum) is Synced: no apply could ever fix it, and a drift issue about it would never close.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from reconciler.core.models import PortfolioPlan
from reconciler.core.numbers import ZERO, money
from reconciler.core.planner import band_for
from reconciler.core.rules import Trading

Status = Literal["Synced", "Progressing", "OutOfSync", "Locked", "Unknown"]
STATUSES: tuple[Status, ...] = ("Synced", "Progressing", "OutOfSync", "Locked", "Unknown")
EXIT_CODES: dict[Status, int] = {"Synced": 0, "Progressing": 0, "Locked": 0, "OutOfSync": 2, "Unknown": 1}
MEASURED: tuple[Status, ...] = ("Synced", "Progressing", "OutOfSync")  # the statuses that come with a drift


@dataclass(frozen=True)
class SymbolDrift:
    """One holding's weight against its target and band, a row of `reconciler status`."""

    symbol: str
    weight: Decimal
    target: Decimal
    band: Decimal
    outside: bool
    rule: str = ""
    # why an outside line cannot be traded: hold, do_not_trade, buy_only, under minimum trade
    blocked: str = ""

    @property
    def drift(self) -> Decimal:
        """The weight's distance from its target (positive: overweight)."""
        return self.weight - self.target

    @property
    def actionable(self) -> bool:
        """Beyond its band and tradable, so a plan would trade it."""
        return self.outside and not self.blocked


@dataclass(frozen=True)
class PortfolioDrift:
    """A portfolio's sync state with its rows, what `status` reports and notifies on."""

    portfolio: str
    account: str
    status: Status
    rows: list[SymbolDrift] = field(default_factory=list)
    orders: int = 0
    message: str = ""

    @property
    def max_drift(self) -> Decimal:
        """The largest drift of any holding, the figure status sorts and alerts by."""
        return max((abs(r.drift) for r in self.rows), default=ZERO)

    @property
    def outside(self) -> list[SymbolDrift]:
        """The holdings beyond their bands."""
        return [r for r in self.rows if r.outside]

    def to_json(self) -> dict[str, Any]:
        """The drift as JSON for `status --format json` and the drift issue."""
        rows = [{**asdict(r), "drift": r.drift} for r in self.rows]
        data: dict[str, Any] = _strings({**asdict(self), "rows": rows, "max_drift": self.max_drift})
        return data


def drift_of(pp: PortfolioPlan, trading: Trading) -> PortfolioDrift:
    """Drift rows from a portfolio's plan (its before-weights against targets), and its sync status."""
    rows = []
    for h in pp.holdings:
        drift = h.weight_before - h.weight_target
        outside = h.outside_band
        rows.append(
            SymbolDrift(
                h.symbol, h.weight_before, h.weight_target, h.band, outside, h.rule,
                _blocked(drift, h.rule, pp.equity, trading) if outside else "",
            )
        )
    cash_band = band_for(pp.cash_weight_target, trading.bands)
    cash_drift = pp.cash_weight_before - pp.cash_weight_target
    cash_outside = abs(cash_drift) > cash_band
    # Too little cash is fixed by selling, which buy_only forbids; too much by buying.
    cash_blocked = _blocked(-cash_drift, "", pp.equity, trading) if cash_outside else ""
    rows.append(
        SymbolDrift(
            "cash", pp.cash_weight_before, pp.cash_weight_target, cash_band, cash_outside, "", cash_blocked
        )
    )
    orders = len(pp.actions)
    actionable = [r for r in rows if r.actionable]
    if orders:
        status: Status = "OutOfSync"
        message = f"{orders} order(s) would trade"
    elif actionable and (pp.observation.cash_unsettled > 0 or pp.observation.cash_reserved > 0):
        status = "Progressing"
        coming = [
            f"{what} of {money(amount)}" for what, amount in (
                ("sale proceeds settling", pp.observation.cash_unsettled),
                ("cash reserved by open orders", pp.observation.cash_reserved),
            ) if amount > 0
        ]
        message = (
            f"{', '.join(r.symbol for r in actionable)} outside the band; no order can be placed until the"
            f" {' and '.join(coming)} land; the next apply after that trades the rest"
        )
    elif actionable:
        status = "OutOfSync"
        message = (
            f"{', '.join(r.symbol for r in actionable)} outside the band, but no order can be placed now"
            " (nothing left to spend)"
        )
    else:
        status = "Synced"
        blocked = [r for r in rows if r.outside]
        message = (
            "outside the band only where the portfolio's rules forbid a trade ("
            + ", ".join(f"{r.symbol}: {r.blocked}" for r in blocked) + ")"
        ) if blocked else ""
    return PortfolioDrift(pp.name, pp.account, status, rows, orders, message)


def _blocked(drift: Decimal, rule: str, equity: Decimal, trading: Trading) -> str:
    """Why a line outside its band cannot be traded back (drift > 0: overweight, needs a sell), or ""."""
    if rule == "do_not_trade":
        return "do_not_trade"
    if drift > 0 and rule == "hold":
        return "hold"
    if drift > 0 and trading.buy_only:
        return "buy_only"
    if abs(drift) * equity < trading.min_trade_notional:
        return "under the minimum trade"
    return ""


def locked(portfolio: str, account: str, holder: str) -> PortfolioDrift:
    """A portfolio whose account another apply holds: shown as Locked, not observed meanwhile."""
    return PortfolioDrift(portfolio, account, "Locked", message="an apply holds the account's lock"
                          f" ({holder})")


def unknown(portfolio: str, account: str, reason: str) -> PortfolioDrift:
    """A portfolio that could not be observed: Unknown with the reason, never taken as in sync."""
    return PortfolioDrift(portfolio, account, "Unknown", message=reason)


def exit_code(drifts: Iterable[PortfolioDrift]) -> int:
    """0 in sync, 2 out of sync, 1 when any portfolio could not be observed (an error dominates)."""
    codes = {EXIT_CODES[d.status] for d in drifts}
    return 1 if 1 in codes else max(codes, default=0)


def _strings(value: Any) -> Any:
    """Decimals as strings, like the plan file: exact, never a float, and in plain notation ("0", not
    "0E-7")."""
    if isinstance(value, Decimal):
        return format(value, "f") if value else "0"
    if isinstance(value, dict):
        return {k: _strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings(v) for v in value]
    return value


class StatusRow(BaseModel):
    """One portfolio's line of a status report (PortfolioDrift.to_json, as written and read back)."""

    model_config = ConfigDict(extra="forbid")

    portfolio: str
    account: str
    status: Status
    rows: list[dict[str, Any]]
    orders: int
    message: str
    max_drift: str


class StatusReport(BaseModel):
    """What `reconciler status --out` writes and `github drift-issue` reads: one model for both sides."""

    model_config = ConfigDict(extra="forbid")

    generated_at: str
    git_commit: str | None
    git_dirty: bool | None
    exit_code: int
    counts: dict[Status, int]
    portfolios: list[StatusRow]

    @classmethod
    def of(cls, drifts: list[PortfolioDrift], *, generated_at: str, git_commit: str | None,
           git_dirty: bool | None) -> StatusReport:
        """The report of these drifts, with the exit code they mean."""
        return cls(
            generated_at=generated_at, git_commit=git_commit, git_dirty=git_dirty,
            exit_code=exit_code(drifts),
            counts={s: sum(1 for d in drifts if d.status == s) for s in STATUSES},
            portfolios=[StatusRow.model_validate(d.to_json()) for d in drifts],
        )

