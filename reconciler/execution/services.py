"""What the execution functions are given: the services they talk to, read-only, and one apply's own state.

`Services` is what a plan, an apply, a status or a reconcile reads: the loaded configuration and targets, the
journal, the broker, the policies, the cost model, the clock and the limits derived from the configuration. It
is a read-only interface: execution never sets anything on it. The wiring that builds it from
`reconciler.yaml` (`reconciler.runtime.Runtime`, a frozen dataclass whose parts are built on first use, so
`history` needs no broker and `validate` no journal) is the command's business; execution imports none of it
(tests/test_layers.py).

`ApplySession` is the state one apply command keeps while it runs, created by the command and dropped after
it: who acts, how long to wait for an account's lock, and the plans it already checked whole against the
targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from reconciler.brokers.base import Broker
    from reconciler.clock import Clock
    from reconciler.core.models import CostModel
    from reconciler.core.order_size import SizeLimits
    from reconciler.core.valuation import QuoteLimits
    from reconciler.journal.store import Journal
    from reconciler.policy.engine import PolicySet
    from reconciler.workspace.loader import Workspace
    from reconciler.workspace.models import ConfigDoc


class Books(Protocol):
    """The journal and the broker an account's records live in, and the clock: all that repairing an account's
    records needs (reconcile --give-up, --accept-move), so a test of it builds only these."""

    @property
    def clock(self) -> Clock:
        """The one clock, so a test can move time."""
    @property
    def journal(self) -> Journal:
        """The journal every intent, order and fill is recorded in."""
    @property
    def broker(self) -> Broker:
        """The broker of the configured kind."""


class Rules(Protocol):
    """What judging a portfolio's plan reads: the targets, the policies, the cost model and the built-in
    checks' limits (execution.judge and planning.plan_verdicts), so a test of it builds only these."""

    @property
    def workspace(self) -> Workspace:
        """Every portfolio loaded and validated, for plan and apply."""
    @property
    def policies(self) -> PolicySet:
        """The policies compiled, with their levels and parameters."""
    @property
    def costs(self) -> CostModel:
        """The cost model the planner prices orders with."""
    @property
    def quote_limits(self) -> QuoteLimits:
        """How old or far a quote may be before valuation refuses it."""
    @property
    def size_limits(self) -> SizeLimits:
        """The order-size check's bounds."""


class Services(Books, Rules, Protocol):
    """The services and loaded settings execution uses, read-only (each may be built on first use); a function
    that needs less takes less: `Books`, `Rules`, or the settings themselves (reconcile.refuse_in_flight takes
    `apply:`, judge.signing_key the configuration and its path)."""

    @property
    def config_path(self) -> Path:
        """reconciler.yaml's path, which messages name."""
    @property
    def root(self) -> Path:
        """The workspace's folder, which relative paths in reconciler.yaml start from."""
    @property
    def config(self) -> ConfigDoc:
        """reconciler.yaml, loaded and validated."""
    @property
    def partial_workspace(self) -> Workspace:
        """The portfolios that load, for `status` to report on what it can."""
    # Where the targets were read from: a pull request's proposal (gitops.proposed) is read from
    # `targets_commit` into a temporary folder, and the repository, for --base, is the trusted checkout of
    # `repo_config`.
    @property
    def targets_commit(self) -> str | None:
        """The commit a proposal's targets were read from, if any."""
    @property
    def repo_config(self) -> Path | None:
        """The trusted checkout's reconciler.yaml, for --base, if any."""


@dataclass
class ApplySession:
    """One apply command's own state, so nothing mutable rides on the services shared by its workers."""

    actor: str  # who is acting, for the journal and the locks (runtime.actor)
    lock_timeout: float = 0.0  # seconds to wait for an account's lock held by someone alive (--lock-timeout)
    # Content hashes of plans this command checked whole (targets and accounts match): apply --all asks per
    # account.
    matched_plans: set[str] = field(default_factory=set, repr=False)

    def for_worker(self) -> ApplySession:
        """A session for another worker (an `apply --all` process or thread): the plans checked so far, in its
        own set."""
        return ApplySession(self.actor, self.lock_timeout, set(self.matched_plans))
