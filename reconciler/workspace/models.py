"""Versioned schema of `reconciler.yaml` and the files in `portfolios/` (apiVersion reconciler.dev/v1)."""

from __future__ import annotations

import ntpath
import posixpath
import unicodedata
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from reconciler.core.fees import FeeRates
from reconciler.core.rules import (  # the core's values, part of this schema
    Commission,
    EnvelopeSettings,
    Fraction,
    Money,
    Strict,
    SymbolRule,
    Trading,
    Weight,
    Withdrawal,
)
from reconciler.core.tax_rules import TaxSettings
from reconciler.workspace.whatif import WhatIf

API_VERSION = "reconciler.dev/v1"
SYMBOL_PATTERN = r"^[A-Z0-9][A-Z0-9.\-/]{0,23}$"
NAME_PATTERN = r"^[a-z0-9]([a-z0-9\-_.]{0,61}[a-z0-9])?$"

MAX_SYMBOL_LENGTH = 24


def _readable_text(value: Any) -> Any:
    """Say plainly what makes a symbol or name text wrong before the pattern does: a character that only looks
    like a letter (a Cyrillic Т in VТI) or a paste of a whole paragraph."""
    if not isinstance(value, str):
        return value
    if len(value) > 64:
        raise ValueError(
            f"too long: {len(value):,} characters; a symbol is at most {MAX_SYMBOL_LENGTH} characters, a name"
            " 63"
        )
    for ch in value:
        if ord(ch) > 127:
            name = unicodedata.name(ch, "unnamed character")
            raise ValueError(
                f"contains {ch!r} (U+{ord(ch):04X} {name}), which is not a plain ASCII letter or digit;"
                f" retype it with ASCII letters (it may look like one)"
            )
    return value


Symbol = Annotated[str, Field(pattern=SYMBOL_PATTERN), BeforeValidator(_readable_text)]
Name = Annotated[str, Field(pattern=NAME_PATTERN), BeforeValidator(_readable_text)]


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

    household: Name | None = Field(None, description="Accounts sharing a wash-sale window (IRAs"
                                   " included).")
    substitutes: list[list[Symbol]] = Field(
        default_factory=list,
        description="Groups of interchangeable symbols, e.g. [[VTI, ITOT]], for the wash-sale guard and"
        " harvesting.",
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


class PaperQuote(Strict):
    """A fixed quote of the paper broker, for demos and tests."""

    price: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
    previous_close: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] | None = None
    volume: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] | None = Field(
        None, description="Units traded in a day, for the order-size check."
    )


class PaperPrices(Strict):
    """Where the paper broker takes its prices: fixed quotes, or a CSV of closes."""

    static: dict[Symbol, PaperQuote] = Field(default_factory=dict)
    csv: str | None = Field(None, description="CSV with a date column and one column of closes per symbol.")
    as_of: str | None = Field(None, description="Use the CSV row of this date (YYYY-MM-DD); default the"
                              " last.")


class PaperAccount(Strict):
    """A paper account's starting cash and positions."""

    cash: Money = Decimal("0")
    positions: dict[Symbol, Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]] = Field(
        default_factory=dict
    )


# How long one order's send can take, per broker kind: apply.in_flight_grace_seconds is checked against it at
# load, and the adapters never send past it. Alpaca: up to ALPACA_SEND_ATTEMPTS POSTs under one client id
# (Alpaca refuses a second order with a known id), each followed by one lookup, each request within
# timeout_seconds, with send_pause() between attempts. ccxt: one call (a venue such as Binance accepts a known
# id again once its order is closed, so an unanswered send is never resent), started within one timeout and
# ended within CCXT_CALL_DEADLINE_FACTOR more.
ALPACA_SEND_ATTEMPTS = 3
# one ccxt call may make two requests (the market list first), each within the timeout
CCXT_CALL_DEADLINE_FACTOR = 2


def send_pause(attempt: int) -> float:
    """Seconds to wait after the `attempt`-th (0-based) unanswered send before the next."""
    return min(0.05 * float(2**attempt), 1.0)


class BrokerConfig(Strict):
    """What every broker's configuration (`broker:` in reconciler.yaml) has: a broker plug-in's model
    subclasses it, narrowing `kind` to its own name (docs/brokers.md). The loader validates `broker:` with the
    model of the plug-in registered under that kind, so what is declared here is all the rest of the code may
    rely on."""

    kind: str
    # every plug-in's model declares these itself (the loader checks), each where it wants it
    if TYPE_CHECKING:
        accounts: dict[str, Any]
        slippage_bps: Decimal
        commission: Commission
    # Where this model is documented, for the fix of a field it rejects (a plug-in names its own docs).
    docs: ClassVar[str] = "docs/configuration.md"

    def longest_send_seconds(self) -> float:
        """How long one order's send can take: the in-flight grace and the apply's budget are checked against
        it.

        Every plug-in must say (the loader refuses one that does not): a guess too short calls a send that is
        still being retried failed, and buys again."""
        raise NotImplementedError

    def workspace_files(self) -> dict[tuple[str, ...], str]:
        """Files of the workspace this broker reads (field path below `broker` → path relative to
        reconciler.yaml): the loader checks they exist, and a plan at another commit or of a proposal takes
        them along."""
        return {}


class PaperBrokerConfig(BrokerConfig):
    """The paper broker's settings: simulated fills, costs and settlement, no real money."""

    kind: Literal["paper"]
    slippage_bps: Money = Decimal("5")
    commission: Commission = Commission()
    settlement_days: Annotated[int, Field(ge=0, le=10)] = 1
    calendar: str | None = Field(
        None,
        description="Exchange calendar (an exchange-calendars code such as XNYS): the paper market is open"
        " only in its sessions and settlement counts its sessions. Unset: always open, settlement skips"
        " weekends.",
    )
    prices: PaperPrices = PaperPrices()
    accounts: dict[Name, PaperAccount] = Field(min_length=1)

    @field_validator("calendar")
    @classmethod
    def _known_calendar(cls, v: str | None) -> str | None:
        from reconciler.calendars import check_code

        return None if v is None else check_code(v)

    def longest_send_seconds(self) -> float:
        """In-process: a send is answered at once or never happened."""
        return 0.0

    def workspace_files(self) -> dict[tuple[str, ...], str]:
        """The price CSV, when quotes come from one."""
        return {("prices", "csv"): self.prices.csv} if self.prices.csv else {}


SECRET_REF = r"^(env|aws|vault):[A-Za-z0-9_./#:+=@-]+$"
SecretRef = Annotated[str, Field(pattern=SECRET_REF)]


class AlpacaAccount(Strict):
    """Where an account's API credentials come from; the values themselves never appear in any file."""

    key_id: SecretRef = Field(description="env:VAR, aws:SECRET_ID#field, or vault:PATH#field")
    secret_key: SecretRef


class SecretStores(Strict):
    """Where secret references are resolved: the AWS region and Vault's address and mount."""

    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = Field(None, description="for a local test server; normally unset")
    vault_url: str | None = Field(None, description="default: $VAULT_ADDR; the token comes from $VAULT_TOKEN")
    vault_mount: str = "secret"


class AlpacaBrokerConfig(BrokerConfig):
    """The Alpaca broker's settings: its URLs, credentials by reference, limits and timeouts."""

    kind: Literal["alpaca"]
    trading_url: str = "https://paper-api.alpaca.markets"
    data_url: str = "https://data.alpaca.markets"
    rate_limit_per_second: Annotated[float, Field(gt=0, le=1000)] = 3.0
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0
    fill_timeout_seconds: Annotated[float, Field(ge=0, le=3600)] = 30.0
    settlement_days: Annotated[int, Field(ge=0, le=10)] = 1
    cash_tolerance: Money = Decimal("0.01")
    fees: FeeRates = Field(
        FeeRates(),
        description="Regulatory fee rates (TAF, SEC, CAT) Alpaca accrues intraday and posts at the close:"
        " a cash shortfall up to the fees pending is not a disagreement."
    )
    slippage_bps: Money = Decimal("5")
    commission: Commission = Commission()
    fractional_step: Annotated[Decimal, Field(gt=0)] = Field(
        Decimal("0.000000001"),
        description="A fractional order's quantity is rounded down to this step (Alpaca: 9"
        " decimals)."
    )
    feed: Literal["iex", "sip", "delayed_sip"] = Field(
        "iex",
        description="The market-data feed quotes come from, always sent: iex (the default; every Alpaca plan"
        " has it, but it is one exchange, a few percent of US volume), sip (the consolidated tape, needs a"
        " paid data plan: Alpaca answers 403 without one) or delayed_sip (the tape 15 minutes late)."
    )
    partial_feed_volume_share: Fraction | None = Field(
        None,
        description="For a partial feed (iex): the share of consolidated volume it carries (e.g. 0.025). Set,"
        " its daily volumes are scaled up by it for the order-size check; unset, that check's volume rule is"
        " off for quotes from a partial feed. The plan says which."
    )
    stream: bool = Field(
        True,
        description="Learn of fills from Alpaca's trade_updates websocket instead of asking for each order"
        " (one request per order instead of two or more); polling takes over while it is down, silent or"
        " doubtful."
    )
    stream_url: str | None = Field(
        None,
        description="The trade_updates websocket; unset: the trading host's /stream (wss://paper-api.alpaca"
        ".markets/stream for the default trading_url). The emulator serves it on its own port and prints its"
        " URL."
    )
    stream_silence_seconds: Annotated[float, Field(gt=0, le=60)] = Field(
        2.0,
        description="How long an order may go without news on the stream before it is asked for by request"
        " (an order the stream is silent about is polled, never assumed unfilled)."
    )
    accounts: dict[Name, AlpacaAccount] = Field(min_length=1)
    secrets: SecretStores = SecretStores()

    @field_validator("trading_url", "data_url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} is not an http(s) URL; use e.g. https://paper-api.alpaca.markets")
        return v.rstrip("/")

    @field_validator("stream_url")
    @classmethod
    def _ws(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("ws://", "wss://")):
            raise ValueError(f"{v!r} is not a websocket URL; use e.g. wss://paper-api.alpaca.markets/stream")
        return v

    def trade_updates_url(self) -> str:
        """Where the trade_updates stream is: `stream_url`, or the trading host's /stream (Alpaca serves
        both)."""
        if self.stream_url is not None:
            return self.stream_url
        scheme, rest = self.trading_url.split("://", 1)
        return ("wss" if scheme == "https" else "ws") + "://" + rest + "/stream"

    def longest_send_seconds(self) -> float:
        """Every attempt's POST and lookup within the timeout, and the pauses between attempts."""
        n = ALPACA_SEND_ATTEMPTS
        return n * 2 * self.timeout_seconds + sum(send_pause(i) for i in range(n - 1))


class CcxtAccount(Strict):
    """Where an exchange account's API credentials come from; the values themselves never appear in any
    file."""

    api_key: SecretRef = Field(description="env:VAR, aws:SECRET_ID#field, or vault:PATH#field")
    secret: SecretRef


class CcxtBrokerConfig(BrokerConfig):
    """A crypto exchange through the ccxt library (spot market orders; positions are balances)."""

    kind: Literal["ccxt"]
    exchange: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$", description="ccxt exchange id: binance, kraken,"
                          " ...")
    sandbox: bool = Field(False, description="Trade on the exchange's testnet (ccxt set_sandbox_mode).")
    quote_currency: str = Field(
        "USDT", pattern=r"^[A-Z0-9]{2,12}$", description="Cash currency; positions are BASE/QUOTE markets."
    )
    rate_limit_per_second: Annotated[float, Field(gt=0, le=1000)] = 5.0
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0
    rate_limit_max_wait_seconds: float = Field(
        60.0, gt=0, le=3600,
        description="The longest a read waits out the exchange's 429 (Retry-After) or a spent"
        " request-weight minute; longer is an error. Orders never wait: a 429 refuses them as not placed.",
    )
    fill_timeout_seconds: Annotated[float, Field(ge=0, le=3600)] = 30.0
    slippage_bps: Money = Decimal("10")
    commission: Commission = Commission(bps=Decimal("10"))
    options: dict[str, object] = Field(
        default_factory=dict,
        description="Passed to the ccxt exchange's options, e.g. binance fetchMarkets types."
    )
    api_url: str | None = Field(
        None,
        description="Tests only: send every API request to this base URL (a local fake exchange) instead of"
        " the exchange's own hosts. Never set it for a real account.",
    )
    accounts: dict[Name, CcxtAccount] = Field(min_length=1)
    secrets: SecretStores = SecretStores()

    @field_validator("api_url")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} is not an http(s) URL; use e.g. http://127.0.0.1:8080 or remove api_url")
        return None if v is None else v.rstrip("/")

    def longest_send_seconds(self) -> float:
        """One call, never resent, started within one timeout (429 waits included) and ended within its
        deadline."""
        return (1 + CCXT_CALL_DEADLINE_FACTOR) * self.timeout_seconds


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
