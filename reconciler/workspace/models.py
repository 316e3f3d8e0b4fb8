"""Versioned schema of `reconciler.yaml` and the files in `portfolios/` (apiVersion reconciler.dev/v1)."""

from __future__ import annotations

import ntpath
import posixpath
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from reconciler.core.rules import (  # the core's values, part of this schema
    EnvelopeSettings,
    Fraction,
    Strict,
    SymbolRule,
    Trading,
    Weight,
    Withdrawal,
)
from reconciler.core.tax_rules import TaxSettings
from reconciler.workspace.brokers import (
    ALPACA_SEND_ATTEMPTS,
    CCXT_CALL_DEADLINE_FACTOR,
    SECRET_REF,
    AlpacaAccount,
    AlpacaBrokerConfig,
    BrokerConfig,
    CcxtAccount,
    CcxtBrokerConfig,
    PaperAccount,
    PaperBrokerConfig,
    PaperPrices,
    PaperQuote,
    SecretRef,
    SecretStores,
    send_pause,
)
from reconciler.workspace.text import (
    API_VERSION,
    MAX_SYMBOL_LENGTH,
    NAME_PATTERN,
    SYMBOL_PATTERN,
    Name,
    Symbol,
)
from reconciler.workspace.whatif import WhatIf

# Re-exported: the broker configurations and the text patterns lived here before they had modules of
# their own, and code across the project imports them from here.
__all__ = [
    "ALPACA_SEND_ATTEMPTS", "API_VERSION", "CCXT_CALL_DEADLINE_FACTOR", "MAX_SYMBOL_LENGTH", "NAME_PATTERN",
    "SECRET_REF", "SYMBOL_PATTERN", "AlpacaAccount", "AlpacaBrokerConfig", "BrokerConfig", "CcxtAccount",
    "CcxtBrokerConfig", "Name", "PaperAccount", "PaperBrokerConfig", "PaperPrices", "PaperQuote",
    "SecretRef", "SecretStores", "Symbol", "send_pause",
]


class Metadata(Strict):
    """A document's name (how others refer to it) and a description for people."""

    name: Name
    description: str | None = None


def _check_weights(targets: dict[str, Decimal], cash: Decimal) -> None:
    total = sum(targets.values(), Decimal(0)) + cash
    if total != 1:
        raise ValueError(
            f"target weights plus cash sum to {total}, not 1 (targets {sum(targets.values(), Decimal(0))}"
            f" + cash {cash}); adjust them so they add up to exactly 1"
        )


class ModelSpec(Strict):
    """A model's target weights and cash, shared by the portfolios that follow it."""

    targets: dict[Symbol, Weight] = Field(min_length=1)
    cash: Weight = Decimal("0")

    @model_validator(mode="after")
    def _sum_to_one(self) -> ModelSpec:
        _check_weights(self.targets, self.cash)
        return self


class TaxSpec(TaxSettings):
    """`tax:` of a portfolio: the core's settings, with symbols and names checked like everywhere else."""

    household: Name | None = Field(None, description="Accounts sharing a wash-sale window (not acted on"
                                   " yet).")
    substitutes: list[list[Symbol]] = Field(
        default_factory=list,
        description="Groups of interchangeable symbols, e.g. [[VTI, ITOT]], for the wash-sale guard and"
        " harvesting (not acted on yet).",
    )


class PortfolioSpec(Strict):
    """A portfolio: the account it lives in, its targets (its own or a model's) and how it trades."""

    account: Name
    model: Name | None = None
    targets: dict[Symbol, Weight] | None = None
    cash: Weight | None = None
    trading: Trading = Trading()
    symbols: dict[Symbol, SymbolRule] = Field(default_factory=dict)
    tax: TaxSpec | None = Field(None, description="Tax lots, rates and a yearly budget of realized gains.")
    withdrawals: list[Withdrawal] = Field(
        default_factory=list,
        description="Cash to raise for withdrawals: each amount is sold for and kept as cash"
        " until its date has passed (core.raise_cash).",
    )

    @model_validator(mode="after")
    def _one_source_of_targets(self) -> PortfolioSpec:
        if self.model is not None and (self.targets is not None or self.cash is not None):
            raise ValueError("give either model: or targets:/cash:, not both")
        if self.model is None and self.targets is None:
            raise ValueError("give model: NAME (a kind: Model) or inline targets:")
        if self.targets is not None:
            if not self.targets:
                raise ValueError("targets: must list at least one symbol")
            _check_weights(self.targets, self.cash or Decimal(0))
        return self


class ModelDoc(Strict):
    """A Model document: target weights several portfolios can share."""

    apiVersion: Literal["reconciler.dev/v1"]
    kind: Literal["Model"]
    metadata: Metadata
    spec: ModelSpec


class PortfolioDoc(Strict):
    """A Portfolio document: what one account should hold."""

    apiVersion: Literal["reconciler.dev/v1"]
    kind: Literal["Portfolio"]
    metadata: Metadata
    spec: PortfolioSpec


# ---- reconciler.yaml -------------------------------------------------------------------------------

EnforcementLevel = Literal["advisory", "soft-mandatory", "hard-mandatory"]


class PolicyParams(Strict):
    """The parameters the policies read, so a limit changes without editing Rego."""

    max_order_fraction: Fraction = Decimal("0.5")
    max_turnover: Annotated[Decimal, Field(ge=0, allow_inf_nan=False)] = Decimal("1.0")
    deny_symbols: list[Symbol] = Field(default_factory=list)
    kill_switch_drop: Fraction = Decimal("0.2")
    max_volume_fraction: Fraction = Field(
        Decimal("0.05"),
        description="No order may be more than this fraction of its symbol's daily volume, where the broker"
        " reports volume (a built-in check: an absurd share count from a wrong price is refused).",
    )
    max_quote_age_seconds: Annotated[int, Field(gt=0)] = 60
    corroboration_band: Fraction = Field(
        Decimal("0.2"),
        description="A quote of a held or targeted symbol is used only when its previous close, bid, ask or"
        " the journal's last fill price is within this fraction of it, or the portfolio sets a min_price"
        " floor for the symbol that it meets; else it blocks its portfolio like a doubtful quote.",
    )
    max_fill_ratio: Annotated[Decimal, Field(gt=1, allow_inf_nan=False)] = Field(
        Decimal("10"),
        description="A quote more than this many times above or below the journal's last fill price of its"
        " symbol blocks its portfolio, whatever its previous close says (raise it after a split beyond it).",
    )
    max_target_multiple: Annotated[Decimal, Field(ge=1, allow_inf_nan=False)] = Field(
        Decimal("2"),
        description="A buy of more units than this many times the symbol's whole target quantity at its"
        " previous close is refused (a built-in check that needs no volume).",
    )


class Policies(Strict):
    """Where the policies are, how each is enforced, and their parameters."""

    dir: str = "policies"
    enforcement: dict[str, EnforcementLevel] = Field(default_factory=dict)
    default_level: EnforcementLevel = "hard-mandatory"
    params: PolicyParams = PolicyParams()
    timeout_seconds: Annotated[float, Field(gt=0, le=600, allow_inf_nan=False)] = Field(
        5.0, description="An evaluation of the policies that takes longer is an error (nothing is sent)."
    )

    @field_validator("dir")
    @classmethod
    def _inside(cls, v: str) -> str:
        # Like portfolios_dir, a folder of the repository: an absolute path would read rules from the runner's
        # disk, which a proposal (plan --proposed) must never point the trusted plan job at. A relative path
        # climbing out of the repository is refused where the repository is known (gitops.proposed reads it
        # from git objects).
        if (
            not v.strip()
            or posixpath.isabs(v.replace("\\", "/"))
            or ntpath.isabs(v)
            or ntpath.splitdrive(v)[0]
        ):
            raise ValueError(
                f"policies.dir {v!r} must be a folder inside the repository, relative to reconciler.yaml"
                " (e.g."
                " policies)"
            )
        return v


class ApplySettings(Strict):
    """How apply guards a plan: its age, the clocks' skew, and how far quotes may move."""

    max_plan_age_seconds: Annotated[int, Field(gt=0)] = 3600
    max_clock_skew_seconds: Annotated[int, Field(ge=0, le=3600)] = Field(
        30,
        description="A plan dated further in the future than this is refused (clocks disagree, or it was"
        " forged)."
    )
    quote_band: Fraction = Field(Decimal("0.02"), description="Refuse when a quote moved more than this since"
                                 " plan.")
    in_flight_grace_seconds: Annotated[int, Field(ge=1, le=86400)] = Field(
        300,
        description="An order sent without a definitive answer, or that the broker does not know yet, may"
        " still be travelling: it is 'unknown', and its account is not traded, until this long after its last"
        " attempt. Never shorter than the longest a send can take (checked at load: Alpaca 6 x"
        " broker.timeout_seconds plus 0.15 s, ccxt 3 x broker.timeout_seconds).",
    )
    max_duration_seconds: Annotated[int, Field(ge=1, le=86400)] = Field(
        900,
        description="The time budget of one apply (of each account's apply within `apply --all`), from when"
        " it holds its locks: every broker call's attempts, Retry-After waits and polling for fills come out"
        " of it, and its lock lease is renewed only while it lasts. Running out ends the apply as"
        " `interrupted`: nothing more is sent, an order whose send was cut short is `unknown` until"
        " `reconcile` finds it. Must exceed the longest a send can take (checked at load; see"
        " in_flight_grace_seconds).",
    )
    envelope: EnvelopeSettings = EnvelopeSettings()
    order_type: Literal["limit", "market"] = Field(
        "limit",
        description="limit: marketable limit orders at the fresh quote ± limit_band, day orders; what is"
        " unfilled at the broker's fill timeout is cancelled (the next plan picks it up). market: fill"
        " wherever the book is.",
    )
    limit_band: Annotated[Decimal, Field(gt=0, le=Decimal("0.1"), allow_inf_nan=False)] = Field(
        Decimal("0.005"),
        description="How far past the fresh quote a limit order may fill (0.005: half a percent). Buys are"
        " budgeted at their limit.",
    )
    market_hours: Literal["require", "ignore"] = Field(
        "require",
        description="require: refuse to send orders while the broker says the market is closed (they would"
        " wait and fill at the open, at prices the plan never saw). ignore: send them anyway (a real broker"
        " queues them for the open; the paper broker fills them at once at its quotes).",
    )


class JournalConfig(Strict):
    """The journal's database, where every apply, order and fill is recorded."""

    url: str = "sqlite:///.reconciler/journal.db"

    @field_validator("url")
    @classmethod
    def _database_url(cls, v: str) -> str:
        scheme = v.split("://", 1)[0] if "://" in v else ""
        if scheme.split("+", 1)[0] not in ("sqlite", "postgresql"):
            raise ValueError(
                f"{v!r} is not a journal database URL; use sqlite:///path/journal.db or"
                " postgresql+psycopg://user@host/db (put passwords in RECONCILER_JOURNAL_URL, not in this"
                " file)"
            )
        return v


NotifyEvent = Literal["apply_failed", "drift"]
ALL_EVENTS: tuple[NotifyEvent, ...] = ("apply_failed", "drift")


class NotificationTarget(Strict):
    """Where to send notifications, and for which events."""

    url: SecretRef = Field(
        description="Where to notify: an apprise URL (slack://…, msteams://…, mailtos://…, json://…), by"
        " reference (env:VAR, aws:SECRET_ID#field or vault:PATH#field): it holds the webhook's token, so"
        " never the URL itself."
    )
    events: list[NotifyEvent] = Field(
        default_factory=lambda: list(ALL_EVENTS),
        description="apply_failed: an apply refused, failed or partly filled; drift: a portfolio is"
        " OutOfSync.",
        min_length=1,
    )


class Notifications(Strict):
    """Tell people through apprise (Slack, Teams, email, webhooks, …) when an apply fails or targets drift."""

    targets: list[NotificationTarget] = Field(default_factory=list)
    timeout_seconds: Annotated[float, Field(gt=0, le=120, allow_inf_nan=False)] = 10.0
    secrets: SecretStores = SecretStores()


class PlanSettings(Strict):
    """How saved plans are sealed."""

    signing_key: SecretRef | None = Field(
        None,
        description="A key (env:VAR, aws:SECRET_ID#field or vault:PATH#field) to seal saved plans with"
        " (HMAC-SHA256): `plan --out` signs, and `apply` refuses a plan file without this key's seal. Unset:"
        " apply re-derives the plan alone.",
    )
    secrets: SecretStores = SecretStores()


class ConfigDoc(Strict):
    """The workspace's reconciler.yaml: the broker, the journal, the policies and apply's guards."""

    apiVersion: Literal["reconciler.dev/v1"]
    kind: Literal["Config"]
    portfolios_dir: str = "portfolios"
    journal: JournalConfig = JournalConfig()
    # Validated by the loader with the model of the plug-in registered under `broker.kind`
    # (workspace/plugins.py).
    broker: BrokerConfig
    policies: Policies = Policies()
    apply: ApplySettings = ApplySettings()
    notifications: Notifications = Notifications()
    plan: PlanSettings = PlanSettings()
    what_if: WhatIf = WhatIf()

    @field_validator("portfolios_dir")
    @classmethod
    def _relative(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("portfolios_dir must name a folder")
        return v
