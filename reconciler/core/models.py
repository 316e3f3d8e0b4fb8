"""Domain values shared by the planner, renderers and executor; all money is Decimal."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, ClassVar, Literal

from pydantic import Field

from reconciler.core.frozen import Frozen
from reconciler.core.holding_rows import Holding, HoldingRows
from reconciler.core.ledger import LotMismatch
from reconciler.core.numbers import BPS
from reconciler.core.observation import MarketStatus, Observation, Quote
from reconciler.core.rules import Commission, SymbolRule, Trading, Withdrawal
from reconciler.core.tax_figures import PortfolioTax
from reconciler.core.tax_rules import TaxSettings

# Re-exported: the observation, its quotes, the base model and the table's rows lived here before they had
# modules of their own.
__all__ = ["Frozen", "Holding", "HoldingRows", "MarketStatus", "Observation", "Quote"]

FORMAT_VERSION = 1


class Desired(Frozen):
    """A portfolio's resolved targets: what the account should hold."""

    name: str
    account: str
    source: str
    model: str | None = Field(None, description="The Model file the targets and cash come from, when it"
                              " follows one.")
    targets: dict[str, Decimal]
    cash: Decimal
    trading: Trading
    symbols: dict[str, SymbolRule] = Field(default_factory=dict)
    tax: TaxSettings | None = None
    withdrawals: list[Withdrawal] = Field(
        default_factory=list,
        description="Cash to raise and keep for withdrawals (`withdrawals:`, `plan --raise`)."
    )


class CostModel(Frozen):
    """Estimated execution costs the planner budgets for, so buys never overdraw cash."""

    slippage_bps: Decimal = Decimal(0)
    commission: Commission = Commission()
    # A broker that rounds fill prices to a tick and commissions to a cent can charge a buy a little more than
    # its exact estimate; a buy that spends the last of the cash must leave room for that (the paper broker
    # rounds both; the backtester does not).
    price_tick: Decimal = Field(Decimal(0), description="Fill prices are rounded to this tick.")
    commission_step: Decimal = Field(Decimal(0), description="Commissions are rounded to this step.")
    limit_band: Decimal | None = Field(
        None, description="Orders are limit orders at the quote ± this fraction (None: market orders)."
    )

    def unit_costs(self) -> UnitCosts:
        """The per-unit formulas with their factors worked out once, in the caller's Decimal context."""
        c = self.commission
        slip = self.slippage_bps / BPS
        return UnitCosts(
            commission=c,
            slip=slip,
            buy_slip=1 + slip,
            sell_slip=1 - slip,
            buy_bps=1 + c.bps / BPS,
            sell_bps=1 - c.bps / BPS,
            limit=None if self.limit_band is None else 1 + self.limit_band,
            per_share=c.per_share,
            per_order=c.per_order,
            tick=self.price_tick,
            fee_step=self.commission_step,
            fixed=c.per_order + self.commission_step,
        )

    def buy_unit_cost(self, price: Decimal) -> Decimal:
        """The most one more unit of a buy can cost when it is sent (UnitCosts.most)."""
        return self.unit_costs().most(price)

    def expected_unit_cost(self, price: Decimal) -> Decimal:
        """What one unit of a buy is expected to cost once filled (UnitCosts.expected)."""
        return self.unit_costs().expected(price)

    def buy_fixed_cost(self) -> Decimal:
        """The most a buy costs besides its units: the per-order commission and the broker's rounding of
        it."""
        return self.commission.per_order + self.commission_step


@dataclass(frozen=True, slots=True)
class UnitCosts:
    """A CostModel's per-unit arithmetic, its factors computed once: the planner prices every order of a plan
    with one (thousands per second), apply and the paper broker through CostModel's methods, which make
    one."""

    commission: Commission  # its charge is the one commission formula
    slip: Decimal  # slippage as a fraction
    buy_slip: Decimal  # 1 + slip
    sell_slip: Decimal  # 1 - slip
    buy_bps: Decimal  # 1 + the basis-point commission as a fraction
    sell_bps: Decimal  # 1 - the same
    limit: Decimal | None  # 1 + the limit band; None: market orders
    per_share: Decimal
    per_order: Decimal
    tick: Decimal
    fee_step: Decimal
    fixed: Decimal  # the per-order commission and the broker's rounding of it (CostModel.buy_fixed_cost)

    def most(self, price: Decimal) -> Decimal:
        """The most one more unit of a buy can cost when it is sent: the fill price (a limit order's limit; a
        market order's quote with slippage and the broker's tick rounding), the basis-point commission on it,
        and the per-share commission. A buy is sent only when the cash left covers this."""
        if self.limit is None:
            return self.expected(price)
        # A limit order never fills above its limit, whatever the slippage (and its limit is rounded down).
        return price * self.limit * self.buy_bps + self.per_share

    def expected(self, price: Decimal) -> Decimal:
        """What one unit of a buy is expected to cost once filled: the quote with slippage and the broker's
        tick rounding, with commissions. Orders go out one after another, each waiting for its fill, so a
        buy's headroom up to its limit is free again for the next buy once it has filled."""
        return (price * self.buy_slip + self.tick) * self.buy_bps + self.per_share


Side = Literal["buy", "sell"]
# Why the planner wants an order (renderers show it; nothing branches on it): a sell of a symbol without a
# target, a sell back into its band, a buy back into its band.
ActionReason = Literal["not in targets", "overweight", "underweight"]


# Action is a slotted dataclass, not a model, as Holding is (core.holding_rows): a frozen dataclass costs five
# times as much to build (measured: 1.3 µs against 0.25 µs). A value all the same: only the planner creates
# them and nothing mutates them (the PortfolioPlan holding them is frozen); pydantic still validates and
# serialises them as fields of PortfolioPlan.
@dataclass(slots=True)
class Action:
    """One order the plan wants to send."""

    leg: int
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    notional: Decimal
    est_commission: Decimal
    reason: ActionReason


class PortfolioPlan(Frozen):
    """One portfolio's part of the plan: its figures before and after, and the actions that get there."""

    name: str
    account: str
    equity: Decimal
    cash_before: Decimal
    cash_after: Decimal
    cash_weight_before: Decimal
    cash_weight_target: Decimal
    cash_weight_after: Decimal
    buy_notional: Decimal
    sell_notional: Decimal
    turnover: Decimal = Field(description="Gross traded notional divided by equity.")
    actions: list[Action]
    holdings: HoldingRows  # the before/after table; kept as the planner's columns until read
    notes: list[str] = Field(default_factory=list)
    observation: Observation
    blocked: list[str] = Field(
        default_factory=list,
        description="Why this portfolio is not traded: a quote that values the account is doubtful. No"
        " orders.",
    )
    references: dict[str, Decimal] = Field(
        default_factory=dict,
        description="The journal's last fill price of each valued symbol, where it has one: what corroborated"
        " the quotes (core.valuation) and sized the buys (core.order_size). Apply re-derives the plan with"
        " these.",
    )
    withdrawal: Decimal | None = Field(
        None,
        description="Cash raised and kept for withdrawals still pending (core.raise_cash): never reinvested.",
    )
    tax: PortfolioTax | None = Field(
        None, description="The sells' lots, realised gains and estimated tax, for a portfolio with `tax:`."
    )
    lot_mismatches: dict[str, LotMismatch] = Field(
        default_factory=dict, description="Symbols whose tax lots disagree with the broker's holding: no"
        " tax-aware choice for them until the ledger is fixed (core.lot_agreement)."
    )

    @property
    def outside_bands(self) -> list[str]:
        """Symbols outside their band now (a held symbol without a target always is); protected ones aside."""
        return [h.symbol for h in self.holdings if not h.rule and h.outside_band]


Level = Literal["advisory", "soft-mandatory", "hard-mandatory"]


class PolicyResult(Frozen):
    """A policy's verdict on a portfolio, with the enforcement level that decides whether it blocks."""

    policy: str
    kind: Literal["deny", "warn"]
    level: Level
    portfolio: str
    message: str

    @property
    def blocking(self) -> bool:
        """Whether this verdict stops the plan unless overridden (a deny not merely advisory)."""
        return self.kind == "deny" and self.level != "advisory"

    def overridden(self, overrides: Collection[str]) -> bool:
        """A denial a reviewer waived: only a soft-mandatory policy's, named with --override."""
        return self.kind == "deny" and self.level == "soft-mandatory" and self.policy in overrides

    def blocks(self, overrides: Collection[str]) -> bool:
        """Whether this result stops the change, given the overrides passed."""
        return self.blocking and not self.overridden(overrides)


class Override(Frozen):
    """A soft-mandatory denial waived as a reviewed act: a `/reconciler override POLICY: reason` comment on
    the pull request by a code owner of the policy, recorded in the reviewed plan and honoured by apply on
    merge."""

    policy: str
    reason: str
    login: str = Field(description="Who waived it: a code owner of the policy (CODEOWNERS on the default"
                       " branch).")
    source: str = Field("", description="Where: the comment's URL.")
    pull_request: int | None = None

    def journal_reason(self) -> str:
        """The reason as the journal records it: why, who and where."""
        where = f" on pull request #{self.pull_request}" if self.pull_request else ""
        link = f", {self.source}" if self.source else ""
        return f"{self.reason} (/reconciler override by @{self.login}{where}{link})"


class WeightChange(Frozen):
    """One target weight that differs between the base ref and the planned targets; None where absent."""

    symbol: str
    before: Decimal | None
    after: Decimal | None


class TargetChange(Frozen):
    """What a change to the YAML did to one portfolio's resolved targets."""

    portfolio: str
    account: str
    change: Literal["added", "removed", "changed"]
    weights: list[WeightChange] = Field(default_factory=list)
    cash_before: Decimal | None = None
    cash_after: Decimal | None = None
    settings: list[str] = Field(
        default_factory=list,
        description="Other changes, one line each: account, trading settings, symbol rules."
    )


class Plan(Frozen):
    """The sealed artifact: what `plan --out` writes and `apply` consumes."""

    format_version: int = FORMAT_VERSION
    reconciler_version: str
    created_at: datetime
    targets_hash: str
    portfolio_hashes: dict[str, str] = Field(
        default_factory=dict,
        description="Per portfolio, the hash of its resolved targets: apply --envelope compares these, so a"
        " change merged to another portfolio after the review does not void this plan.",
    )
    git_commit: str | None = None
    git_dirty: bool | None = None
    base_ref: str | None = Field(None, description="The --base ref the target changes are measured against.")
    base_commit: str | None = Field(None, description="The commit base_ref resolved to when planning.")
    target_changes: list[TargetChange] = Field(
        default_factory=list, description="Per portfolio, how the targets differ from those at base_commit."
    )
    config_accounts: list[str]
    portfolios: list[PortfolioPlan]
    policy_results: list[PolicyResult] = Field(default_factory=list)
    overrides: list[Override] = Field(
        default_factory=list,
        description="Soft-mandatory denials waived on the pull request by a code owner, with who and why.",
    )
    content_hash: str = ""
    signature: str | None = Field(
        None,
        description="HMAC-SHA256 of content_hash with the key plan.signing_key names (hex), when one is"
        " configured: proves the plan came from a job holding that key. Not covered by the content hash.",
    )

    @property
    def overridden_policies(self) -> set[str]:
        """The policies the plan's overrides name."""
        return {o.policy for o in self.overrides}

    @property
    def has_changes(self) -> bool:
        """Whether any portfolio has an action (`plan --detailed-exitcode` exits 2 when so)."""
        return any(p.actions for p in self.portfolios)

    @property
    def blocked(self) -> list[PolicyResult]:
        """The verdicts that stop the plan."""
        return [r for r in self.policy_results if r.blocking]

    # Indexes, computed once per plan: `apply --all` asks for one account's share thousands of times, and a
    # scan of the whole plan per account would make the run quadratic in accounts.
    _INDEXES: ClassVar[tuple[str, ...]] = ("by_account", "results_by_portfolio")

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Plan:
        """A copy; pydantic copies cached values along with the fields, so a copy that changes fields drops
        the indexes (they are rebuilt from the new fields when asked)."""
        copied = super().model_copy(update=update, deep=deep)
        if update:
            for name in self._INDEXES:
                copied.__dict__.pop(name, None)
        return copied

    @cached_property
    def by_account(self) -> dict[str, list[PortfolioPlan]]:
        """The portfolios grouped by account, the unit apply locks and sends for."""
        out: dict[str, list[PortfolioPlan]] = {}
        for pp in self.portfolios:
            out.setdefault(pp.account, []).append(pp)
        return out

    @cached_property
    def results_by_portfolio(self) -> dict[str, list[PolicyResult]]:
        """The policy verdicts grouped by portfolio, as renderers show them."""
        out: dict[str, list[PolicyResult]] = {}
        for r in self.policy_results:
            out.setdefault(r.portfolio, []).append(r)
        return out

    @property
    def quote_sources(self) -> list[str]:
        """Where the plan's quotes came from (Alpaca's data feed), for reviewers: IEX alone is a thin
        market."""
        return sorted({p.observation.quote_source for p in self.portfolios if p.observation.quote_source})
