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
    from reconciler.spec.loader import Workspace
    from reconciler.spec.models import ConfigDoc


class Services(Protocol):
    """The services and loaded settings execution uses, read-only (each may be built on first use)."""

    @property
    def config_path(self) -> Path: ...
    @property
    def root(self) -> Path: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def config(self) -> ConfigDoc: ...
    @property
    def workspace(self) -> Workspace: ...
    @property
    def partial_workspace(self) -> Workspace: ...
    @property
    def journal(self) -> Journal: ...
    @property
    def broker(self) -> Broker: ...
    @property
    def policies(self) -> PolicySet: ...
    @property
    def costs(self) -> CostModel: ...
    @property
    def quote_limits(self) -> QuoteLimits: ...
    @property
    def size_limits(self) -> SizeLimits: ...
    # Where the targets were read from: a pull request's proposal (gitops.proposed) is read from
    # `targets_commit` into a temporary folder, and the repository, for --base, is the trusted checkout of
    # `repo_config`.
    @property
    def targets_commit(self) -> str | None: ...
    @property
    def repo_config(self) -> Path | None: ...


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
