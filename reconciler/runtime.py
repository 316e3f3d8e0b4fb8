"""Wiring: build the workspace, journal, broker and policies a command needs from `reconciler.yaml`."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from reconciler import files
from reconciler.brokers.base import Broker
from reconciler.brokers.plugin import BrokerContext, plugin_for
from reconciler.clock import SYSTEM, Clock
from reconciler.core.checks import limits_of
from reconciler.core.models import CostModel
from reconciler.core.order_size import SizeLimits
from reconciler.core.valuation import QuoteLimits
from reconciler.errors import ReconcilerError
from reconciler.gitops.proposed import read_proposed
from reconciler.gitops.refs import relocated
from reconciler.journal.store import Journal
from reconciler.policy.engine import PolicySet, load_policies
from reconciler.workspace.loader import Workspace, load_config, load_workspace
from reconciler.workspace.models import ConfigDoc


@dataclass(frozen=True)
class Runtime:
    """The services of one command, built from `reconciler.yaml` on first use (`history` needs no broker,
    `validate` no journal) and never changed after: execution sees them as `execution.services.Services`; what
    one apply changes as it runs lives in its `ApplySession`."""

    config_path: Path
    journal_url: str | None = None
    clock: Clock = field(default=SYSTEM)
    # Only read the journal (plan and status without --record): nothing created, migrated or written, so a
    # read-only credential is enough; the paper broker then observes without writing its books either.
    read_only: bool = False
    # A journal that does not exist is an error, not an empty journal: --require-journal, and always in CI.
    require_journal: bool = False
    # Planning a pull request's proposal (gitops.proposed): its files were read from `targets_commit` into a
    # temporary folder (config_path), and the repository, for --base, is the trusted checkout of
    # `repo_config`.
    targets_commit: str | None = None
    repo_config: Path | None = None

    def for_worker(self) -> Runtime:
        """A runtime for another worker (an `apply --all` process or thread): its own journal pool, broker and
        policy interpreter, but the configuration and targets this one loaded (plain data, loaded once however
        many workers there are)."""
        other = replace(self)
        for loaded in ("config", "workspace"):  # cached_property keeps its value in the instance's __dict__
            if loaded in self.__dict__:
                other.__dict__[loaded] = self.__dict__[loaded]
        return other

    @cached_property
    def config(self) -> ConfigDoc:
        """reconciler.yaml alone: the journal, broker and policies need nothing else, so the commands that
        read or repair the journal (history, show, reconcile, force-unlock) work while a portfolio file is
        broken."""
        return load_config(self.config_path)

    @property
    def root(self) -> Path:
        """The workspace's folder, which relative paths in reconciler.yaml start from."""
        return self.config_path.parent

    @cached_property
    def workspace(self) -> Workspace:
        """The workspace loaded and validated, once."""
        return load_workspace(self.config_path)

    @cached_property
    def partial_workspace(self) -> Workspace:
        """The portfolios that load, and the problems of those that do not: for commands that only read
        (`status`); never for planning or applying."""
        return load_workspace(self.config_path, partial=True)

    @cached_property
    def backtest_workspace(self) -> Workspace:
        """The workspace for `backtest`: every file must be valid, but no account is traded, so a portfolio's
        account need not be declared under broker.accounts."""
        return load_workspace(self.config_path, accounts=False)

    @cached_property
    def journal(self) -> Journal:
        """The journal, opened once; in CI a missing journal is an error."""
        must = self.require_journal or os.environ.get("CI", "").strip().lower() in ("true", "1")
        return Journal.open(*self.journal_location, self.clock, write=not self.read_only, must_exist=must)

    @property
    def journal_location(self) -> tuple[str, str]:
        """(URL, where it was set) of the journal: --journal, else $RECONCILER_JOURNAL_URL, else
        journal.url."""
        if self.journal_url:
            url, where = self.journal_url, "--journal"
        elif os.environ.get("RECONCILER_JOURNAL_URL"):
            url, where = os.environ["RECONCILER_JOURNAL_URL"], "RECONCILER_JOURNAL_URL"
        else:
            url, where = self.config.journal.url, f"{self.config_path}: journal.url"
        if url.startswith("sqlite:///") and not url.startswith(
            ("sqlite:////", "sqlite:///:memory:", "sqlite:///file:/")
        ):
            # A relative SQLite path is relative to reconciler.yaml, not to wherever the command runs.
            url = "sqlite:///" + str(self.root / url.removeprefix("sqlite:///"))
        return url, where

    @cached_property
    def broker(self) -> Broker:
        """The broker of the configured kind, built by its plug-in."""
        spec = self.config.broker
        context = BrokerContext(self.root, self.clock, lambda: self.journal, str(self.config_path))
        return plugin_for(spec, f"{self.config_path}: broker.kind").build(spec, context)

    @cached_property
    def policies(self) -> PolicySet:
        """The policies compiled, with their levels and parameters."""
        p = self.config.policies
        return load_policies(
            self.root / p.dir, dict(p.enforcement), p.default_level, p.timeout_seconds,
            workspace=files.workspace_of(self.root),
        )

    @cached_property
    def quote_limits(self) -> QuoteLimits:
        """Beyond these a quote cannot value an account: the same bounds the kill switch and quote_freshness
        policies are given, applied by the planner to every held and targeted symbol."""
        return limits_of(QuoteLimits, self.config.policies.params)

    @cached_property
    def size_limits(self) -> SizeLimits:
        """The built-in order-size check's bounds (core.order_size)."""
        return limits_of(SizeLimits, self.config.policies.params)

    @cached_property
    def costs(self) -> CostModel:
        """The cost model the planner prices orders with."""
        b = self.config.broker
        band = self.config.apply.limit_band if self.config.apply.order_type == "limit" else None
        return plugin_for(b, f"{self.config_path}: broker.kind").cost_model(b, band)


@contextmanager
def proposed_runtime(trusted: Runtime, ref: str) -> Iterator[Runtime]:
    """A runtime whose targets, policies and their settings are what commit `ref` proposes (read as data, see
    gitops.proposed), and whose broker and journal are the trusted checkout's: how the job holding the observe
    credentials plans a pull request without running any of its code. Problems name REF:path."""
    with read_proposed(trusted.config_path, ref) as proposed:
        url, _ = trusted.journal_location
        rt = Runtime(
            config_path=proposed.config_path, journal_url=url, clock=trusted.clock,
            read_only=trusted.read_only, targets_commit=proposed.commit, repo_config=trusted.config_path,
        )
        try:
            # Loaded now, so their problems are named while the folder exists.
            rt.workspace, rt.policies  # noqa: B018
            yield rt
        except ReconcilerError as exc:
            raise relocated(exc, proposed.folder, proposed.label) from None


def actor() -> str:
    """Who is acting, for the journal: CI's actor when in GitHub Actions, else the local user."""
    for var in ("RECONCILER_ACTOR", "GITHUB_ACTOR"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
