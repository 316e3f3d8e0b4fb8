"""The `broker:` block of reconciler.yaml: what every broker plug-in's configuration has, and the paper,
Alpaca and ccxt brokers' own (each validated by the plug-in registered under its kind)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from reconciler.core.fees import FeeRates
from reconciler.core.rules import Commission, Fraction, Money, Strict
from reconciler.workspace.text import Name, Symbol


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
