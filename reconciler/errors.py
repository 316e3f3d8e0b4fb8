"""The one error hierarchy: every failure a user can cause says what, where and how to fix it.

Every error class of the project is defined here (a module that raises one may re-export it); cli.main turns
each ReconcilerError into its message and exit code (`exit_code`, 1 for all but a few). The whole tree:

    ReconcilerError               an expected failure: message, where, fix
    ├── SpecError                 a configuration or portfolio file is invalid: every problem found at once
    ├── FileError                 a file the gate (reconciler/files.py) refuses, of no kind below
    ├── PlanFileError             a saved plan cannot be read, was tampered with, or has an unknown version
    ├── PlanMismatchError         a saved plan was made for other targets or accounts
    ├── StalePlanError            the world changed since the plan: applying it would trade on old facts
    ├── MarketClosedError         the broker says the market is closed
    ├── InFlightError             an order sent earlier may still arrive: its account is not traded
    ├── PolicyFileError           a Rego policy does not parse, or the enforcement names an unknown policy
    ├── PolicyDeniedError         a mandatory policy denied the plan or an order
    ├── PlanningError             the observation does not allow a plan
    ├── EnvelopeError             the orders recomputed at apply leave the reviewed plan's envelope
    ├── BrokerError               the broker refused or failed a request
    │   ├── OrderRefusedError     the broker definitively holds no such order: the intent is `failed`
    │   │   └── ExchangeBannedError  the exchange bans this IP (Binance's 418) until a time: the apply stops
    │   ├── SendUnknownError      no definitive answer: the intent is `unknown` (as after any other exception)
    │   └── ImpossibleFillError   an answer about our order that contradicts the order we sent: not journaled,
    │                             the intent is `unknown`, nothing more is sent for its portfolio
    ├── DeadlineExceeded          the apply's budget ran out mid-call (reconciler/clock.py Deadline): like any
    │                             failure that is not a refusal, an order's send cut short by it is `unknown`
    ├── JournalError              the journal cannot be opened or is inconsistent
    │   └── MissingJournal        a SQLite journal file that does not exist (yet)
    ├── ApprovalError             apply needs an explicit approval that was not given
    ├── LockedError               another apply holds the account's lock
    ├── BacktestError             a backtest cannot run (also the gate's class for its prices and reports)
    ├── CostsFitError             the journal holds too few fills to learn costs from (reconciler costs)
    ├── SecretError               a secret reference cannot be resolved (never with the secret's value)
    ├── GitError                  the repository or a ref cannot be read
    ├── GitHubError               GitHub refused or failed a request, or the client is not configured
    └── SequenceError             the commits to apply cannot be told, or their reviewed plans cannot be read
    OutputError (an OSError)      standard output full or failing: not a ReconcilerError, so only cli.main
                                  handles it, like BrokenPipeError

What a failed order send means is decided by its class alone (reconciler/execution/leg.py): OrderRefusedError
marks the intent `failed`, anything else leaves it `unknown`. A file the gate refuses raises its kind's class:
PlanFileError for plans, PolicyFileError for policies, BacktestError for backtest prices and reports,
FileError for the rest. Private exceptions that never leave their module (a retry's transient signal) are not
in the tree.
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
        """The message as the CLI prints it: where, what, and the fix."""
        head = f"{self.where}: {self.message}" if self.where else self.message
        return f"{head}\n  fix: {self.fix}" if self.fix else head


class SpecError(ReconcilerError):
    """A configuration or portfolio file is invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[ReconcilerError]) -> None:
        super().__init__(f"{len(problems)} problem(s) found")
        self.problems = problems

    def render(self) -> str:
        """Every problem found, one after another, so a user fixes them all in one go."""
        return "\n".join(p.render() for p in self.problems)


class FileError(ReconcilerError):
    """A file cannot be read or written as it is: not a regular file, too large, not UTF-8, outside the
    workspace."""


class OutputError(OSError):
    """Standard output cannot take what a command writes (full, as /dev/full is; an I/O error). Not a
    ReconcilerError on purpose: like BrokenPipeError it must pass every handler of bad input (an apply's
    "refused" summary among them) up to cli.main, which says what was sent, once."""


class PlanFileError(ReconcilerError):
    """A saved plan cannot be read, was tampered with, or has an unknown format version."""


class PlanMismatchError(ReconcilerError):
    """A saved plan was made for other targets or accounts than the current configuration."""


class StalePlanError(ReconcilerError):
    """The world changed since the plan was made; applying it would trade on old facts."""


class MarketClosedError(ReconcilerError):
    """The broker says the market is closed: orders sent now would fill at the open, at unseen prices."""


class InFlightError(ReconcilerError):
    """An order sent earlier may still reach the broker: its account is not planned or traded until it is
    known."""


class PolicyFileError(ReconcilerError):
    """A Rego policy file does not parse or the enforcement configuration names an unknown policy."""


class PolicyDeniedError(ReconcilerError):
    """A mandatory policy denied the plan or an order."""


class PlanningError(ReconcilerError):
    """The observation does not allow a plan (for example, a held symbol has no quote)."""


class BrokerError(ReconcilerError):
    """The broker refused or failed a request."""


class OrderRefusedError(BrokerError):
    """The broker definitively refused an order: it holds no order under its client id. The one failure of a
    send that marks its intent `failed`; every other failure of a send leaves the intent `unknown`."""


class ExchangeBannedError(OrderRefusedError):
    """The exchange bans our IP until a time (Binance: HTTP 418, 2 minutes to 3 days): every account on it is
    stopped; a send refused by it placed nothing, and the apply ends rather than wait the ban out."""


class SendUnknownError(BrokerError):
    """An order was sent without a definitive answer (timeouts, 5xx, a lost answer): it may have arrived, or
    still arrive. Its intent stays `unknown` until the broker shows it or the in-flight grace has passed."""


class ImpossibleFillError(BrokerError):
    """The broker's answer about one of our orders cannot be true against the order we sent (the journal's
    intent): more filled than we asked for, another symbol or side. Nothing of it is journaled."""


class DeadlineExceeded(ReconcilerError):
    """The apply's time budget (apply.max_duration_seconds) ran out before a broker call or a wait could
    finish: the account ends `interrupted`, nothing more is sent for it, and an order whose send was cut short
    is `unknown` until `reconcile` finds it. Not a BrokerError: no adapter handler may take it for a failed
    request and retry or swallow it."""


class JournalError(ReconcilerError):
    """The journal cannot be opened or is inconsistent."""


class ApprovalError(ReconcilerError):
    """Apply needs an explicit approval that was not given."""


class LockedError(ReconcilerError):
    """Another apply holds the account's lock."""


class BacktestError(ReconcilerError):
    """A backtest cannot run: bad price data, an unknown strategy, a missing optional dependency."""


class CostsFitError(ReconcilerError):
    """Costs cannot be learned from the journal: too few fills, or none of the broker asked for."""


class EnvelopeError(ReconcilerError):
    """The orders recomputed at apply time leave the envelope of the reviewed plan."""


class MissingJournal(JournalError):
    """A SQLite journal file that does not exist (yet)."""


class SecretError(ReconcilerError):
    """A secret reference cannot be resolved (the message never contains a secret value)."""


class GitError(ReconcilerError):
    """The repository or a ref cannot be read."""


class GitHubError(ReconcilerError):
    """GitHub refused or failed a request, or the client is not configured."""

    def __init__(self, message: str, *, where: str | None = None, fix: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(message, where=where, fix=fix)
        self.status = status  # GitHub's HTTP status, when it answered


class SequenceError(ReconcilerError):
    """The sequence of commits to apply cannot be told, or its reviewed plans cannot be read."""
