"""The one error hierarchy: every failure a user can cause says what, where and how to fix it.

What a failed order send means is decided by its class alone (reconciler/execution/leg.py):

    BrokerError
    ├── OrderRefusedError   the broker definitively holds no such order: the intent is `failed`
    │   └── ExchangeBannedError the exchange bans this IP (Binance's 418) until a time: the apply ends there
    ├── SendUnknownError    no definitive answer: the intent is `unknown` (as after any other exception)
    └── ImpossibleFillError an answer about our order that contradicts the order we sent: not journaled, the
                            intent is `unknown`, nothing more is sent for its portfolio
    DeadlineExceeded        the apply's budget ran out mid-call (reconciler/clock.py Deadline): like any failure
                            that is not a refusal, an order's send cut short by it is `unknown`

A file the gate (reconciler/files.py) refuses raises its kind's class: PlanFileError for plans, PolicyFileError for
policies, BacktestError for backtest prices and reports, FileError for the rest. OutputError (standard output full
or failing) is an OSError, not a ReconcilerError, so that only cli.main handles it, like BrokenPipeError.
"""

from __future__ import annotations


class ReconcilerError(Exception):
    """Base of every expected failure; the CLI turns it into a message and an exit code."""

    exit_code = 1

    def __init__(self, message: str, *, where: str | None = None, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.fix = fix

    def render(self) -> str:
        head = f"{self.where}: {self.message}" if self.where else self.message
        return f"{head}\n  fix: {self.fix}" if self.fix else head


class SpecError(ReconcilerError):
    """A configuration or portfolio file is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[ReconcilerError]) -> None:
        super().__init__(f"{len(problems)} problem(s) found")
        self.problems = problems

    def render(self) -> str:
        return "\n".join(p.render() for p in self.problems)


class FileError(ReconcilerError):
    """A file cannot be read or written as it is: not a regular file, too large, not UTF-8, outside the workspace."""


class OutputError(OSError):
    """Standard output cannot take what a command writes (full, as /dev/full is; an I/O error). Not a
    ReconcilerError on purpose: like BrokenPipeError it must pass every handler of bad input (an apply's "refused"
    summary among them) up to cli.main, which says what was sent, once."""


class PlanFileError(ReconcilerError):
    """A saved plan cannot be read, was tampered with, or has an unknown format version."""


class PlanMismatchError(ReconcilerError):
    """A saved plan was made for other targets or accounts than the current configuration."""


class StalePlanError(ReconcilerError):
    """The world changed since the plan was made; applying it would trade on old facts."""


class MarketClosedError(ReconcilerError):
    """The broker says the market is closed: orders sent now would fill at the open, at unseen prices."""


class InFlightError(ReconcilerError):
    """An order sent earlier may still reach the broker: its account is not planned or traded until it is known."""


class PolicyFileError(ReconcilerError):
    """A Rego policy file does not parse or the enforcement configuration names an unknown policy."""


class PolicyDeniedError(ReconcilerError):
    """A mandatory policy denied the plan or an order."""


class PlanningError(ReconcilerError):
    """The observation does not allow a plan (for example, a held symbol has no quote)."""


class BrokerError(ReconcilerError):
    """The broker refused or failed a request."""


class OrderRefusedError(BrokerError):
    """The broker definitively refused an order: it holds no order under its client id. The one failure of a send
    that marks its intent `failed`; every other failure of a send leaves the intent `unknown`."""


class ExchangeBannedError(OrderRefusedError):
    """The exchange bans our IP until a time (Binance: HTTP 418, 2 minutes to 3 days): every account on it is
    stopped; a send refused by it placed nothing, and the apply ends rather than wait the ban out."""


class SendUnknownError(BrokerError):
    """An order was sent without a definitive answer (timeouts, 5xx, a lost answer): it may have arrived, or still
    arrive. Its intent stays `unknown` until the broker shows it or the in-flight grace has passed."""


class ImpossibleFillError(BrokerError):
    """The broker's answer about one of our orders cannot be true against the order we sent (the journal's intent):
    more filled than we asked for, another symbol or side. Nothing of it is journaled."""


class DeadlineExceeded(ReconcilerError):
    """The apply's time budget (apply.max_duration_seconds) ran out before a broker call or a wait could finish:
    the account ends `interrupted`, nothing more is sent for it, and an order whose send was cut short is
    `unknown` until `reconcile` finds it. Not a BrokerError: no adapter handler may take it for a failed request
    and retry or swallow it."""


class JournalError(ReconcilerError):
    """The journal cannot be opened or is inconsistent."""


class ApprovalError(ReconcilerError):
    """Apply needs an explicit approval that was not given."""


class LockedError(ReconcilerError):
    """Another apply holds the account's lock."""


class BacktestError(ReconcilerError):
    """A backtest cannot run: bad price data, an unknown strategy, a missing optional dependency."""
