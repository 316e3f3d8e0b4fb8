"""Load `reconciler.yaml` and `portfolios/` into validated models, collecting every problem with its
position."""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache, cached_property
from pathlib import Path
from typing import Any, cast

from pydantic import create_model

from reconciler import files
from reconciler.core.models import Desired
from reconciler.errors import ReconcilerError, SpecError
from reconciler.workspace import plugins
from reconciler.workspace.models import (
    BrokerConfig,
    ConfigDoc,
    ModelDoc,
    PortfolioDoc,
)
from reconciler.workspace.validation import document_kind, parse_document
from reconciler.workspace.yamlpos import RawDoc, load_documents


@dataclass(frozen=True)
class Workspace:
    """Everything the commands need from the repository's files. Frozen, so what is derived from the
    portfolios (hashes, the account index) is computed once: apply --all asks for it once per account."""

    root: Path
    config_path: Path
    config: ConfigDoc
    portfolios: list[Desired] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    # Only from load_workspace(partial=True), which read-only commands use: what could not be loaded.
    problems: list[ReconcilerError] = field(default_factory=list)

    @cached_property
    def targets_hash(self) -> str:
        """Hash of the resolved targets, so reformatting a file does not invalidate a plan but a weight
        does."""
        return _digest([_hashed(p) for p in self.portfolios])

    @cached_property
    def portfolio_hashes(self) -> dict[str, str]:
        """The same, per portfolio: what apply --envelope compares, so parallel changes to different
        portfolios do not void each other's reviewed plans."""
        return {p.name: portfolio_hash(p) for p in self.portfolios}

    @property
    def target_files(self) -> list[Path]:
        """What the targets are made of, for git: the config, the portfolios folder, the policies folder."""
        return [
            self.config_path,
            self.root / self.config.portfolios_dir,
            self.root / self.config.policies.dir,
        ]

    @cached_property
    def by_account(self) -> dict[str, Desired]:
        """The portfolios by account."""
        return {p.account: p for p in self.portfolios}

    @cached_property
    def by_name(self) -> dict[str, Desired]:
        """The portfolios by name."""
        return {p.name: p for p in self.portfolios}

    def portfolio_for_account(self, account: str) -> Desired | None:
        """The portfolio of an account, or None."""
        return self.by_account.get(account)


# Suffixes of a file meant as a portfolio or model, in any case; only the lower-case YAML ones are read.
_LOOKS_MEANT = (".yaml", ".yml", ".json")


def portfolio_hash(portfolio: Desired) -> str:
    """One portfolio's resolved targets as a hash (what `Workspace.portfolio_hashes` holds), at any commit."""
    return _digest(_hashed(portfolio))


# Where the targets were read from is no part of them: moving a file or a Model changes no hash.
_NOT_TARGETS = {"source", "model"}


def _hashed(portfolio: Desired) -> dict[str, object]:
    """What a portfolio's hash covers; a portfolio without `tax:` hashes as it did before `tax:` existed."""
    dumped = portfolio.model_dump(mode="json", exclude=_NOT_TARGETS)
    if dumped.get("tax") is None:
        dumped.pop("tax", None)
    return dumped


def _digest(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@cache
def config_model(broker: type[BrokerConfig] | None) -> type[ConfigDoc]:
    """`kind: Config` with `broker:` validated by the given plug-in's model (None: only as a mapping, to find
    the document's other problems while the broker's kind is unknown)."""
    field: Any = (dict[str, Any], ...) if broker is None else (broker, ...)
    return cast(type[ConfigDoc], create_model("ConfigDoc", __base__=ConfigDoc, broker=field))


def _broker_model(raw: RawDoc, problems: list[ReconcilerError]) -> type[BrokerConfig] | None:
    """The configuration model of the broker plug-in `broker.kind` names; None (and a problem) when none
    is."""
    section = raw.data.get("broker") if isinstance(raw.data, dict) else None
    if not isinstance(section, dict):
        return None  # missing or not a mapping: the validation says so
    kind = section.get("kind")
    if not isinstance(kind, str) or not kind:
        installed = " or ".join(plugins.installed_kinds()) or "paper"
        given = f"unknown broker kind {plugins.named(kind)}"
        problems.append(ReconcilerError(
            "field broker.kind: missing" if kind is None else f"field broker.kind: {given}",
            where=raw.where(["broker", "kind"] if "kind" in section else ["broker"]),
            fix=f"use kind: {installed}",
        ))
        return None
    try:
        return plugins.load_kind(kind, raw.where(["broker", "kind"])).config
    except ReconcilerError as exc:
        problems.append(exc)
        return None


def load_config(path: Path) -> ConfigDoc:
    """Read and validate `reconciler.yaml` alone."""
    return _load_config(path)[0]


def _load_config(path: Path) -> tuple[ConfigDoc, RawDoc]:
    problems: list[ReconcilerError] = []
    docs = list(load_documents(path, files.CONFIG))  # named on the command line (-c): it may be anywhere
    if len(docs) != 1:
        raise ReconcilerError(
            f"expected exactly one document, found {len(docs)}", where=str(path),
            fix="keep one kind: Config document"
        )
    raw = docs[0]
    config = None
    if document_kind(raw, ("Config",), problems):
        broker = _broker_model(raw, problems)
        guide = broker.docs if broker else ""
        config = parse_document(raw, config_model(broker), problems, broker_docs=guide)
    if problems or config is None:
        raise SpecError(problems)
    assert isinstance(config, ConfigDoc)
    _check_grace(config, raw)
    _check_budget(config, raw)
    return config, raw


def _check_grace(config: ConfigDoc, raw: RawDoc) -> None:
    """An unknown send must stay unknown while it may still be sending: the in-flight grace never ends before
    the longest a send can take (a grace shorter than that would call an order still being retried
    `failed`)."""
    grace, longest = config.apply.in_flight_grace_seconds, config.broker.longest_send_seconds()
    if grace >= longest:
        return
    raise SpecError([ReconcilerError(
        f"field apply.in_flight_grace_seconds: {grace} s is shorter than the longest an order's send can take"
        f" with this broker ({longest:g} s, from broker.timeout_seconds and its attempts): an order still"
        " being sent"
        " would be called failed and bought again",
        where=raw.where(["apply", "in_flight_grace_seconds"]),
        fix=f"set apply.in_flight_grace_seconds to at least {math.ceil(longest)}, or lower"
        " broker.timeout_seconds",
    )])


def _check_budget(config: ConfigDoc, raw: RawDoc) -> None:
    """An apply whose budget cannot hold one order's send would cut every send short (each one `unknown`)."""
    budget, longest = config.apply.max_duration_seconds, config.broker.longest_send_seconds()
    if budget > longest:
        return
    raise SpecError([ReconcilerError(
        f"field apply.max_duration_seconds: {budget} s does not exceed the longest an order's send can take"
        f" with this broker ({longest:g} s, from broker.timeout_seconds and its attempts): no order could be"
        " sent in"
        " full within it",
        where=raw.where(["apply", "max_duration_seconds"]),
        fix=f"set apply.max_duration_seconds above {math.floor(longest)}, or lower broker.timeout_seconds",
    )])


def load_workspace(config_path: Path, *, partial: bool = False, accounts: bool = True) -> Workspace:
    """Load the configuration and every portfolio file, resolving Model references and checking accounts.

    Any problem is a SpecError listing them all; with `partial` (for `status`, which only reads) the
    portfolios that did load are returned with the problems, and the configuration itself must still be valid.
    Without `accounts` (for `backtest`, which trades no account) a portfolio's account need not be under
    broker.accounts.
    """
    config, config_raw = _load_config(config_path)
    root = config_path.parent
    pdir = root / config.portfolios_dir
    if not pdir.is_dir():
        raise ReconcilerError(
            f"field portfolios_dir: folder {config.portfolios_dir!r} does not exist",
            where=config_raw.where(["portfolios_dir"]),
            fix="create the folder or point portfolios_dir at it (relative to reconciler.yaml)",
        )
    # Lexically here (a clear message about the setting); each file read is then resolved, links followed, and
    # refused by the file gate unless it stays inside the workspace.
    top = Path(os.path.normpath(root.absolute()))
    inside = Path(os.path.normpath(pdir.absolute()))
    if inside == top or top not in inside.parents:
        # `/` would walk the whole disk; `.` or `..` would read reconciler.yaml itself as a portfolio.
        raise ReconcilerError(
            f"field portfolios_dir: {config.portfolios_dir!r} must be a folder inside the repository, below"
            " reconciler.yaml's own folder",
            where=config_raw.where(["portfolios_dir"]),
            fix="keep the portfolio files in their own folder, e.g. portfolios_dir: portfolios",
        )
    for at, name in config.broker.workspace_files().items():
        if not (root / name).is_file():
            raise ReconcilerError(
                f"field broker.{'.'.join(at)}: file {name!r} does not exist",
                where=config_raw.where(["broker", *at]),
                fix="point it at an existing file (relative to reconciler.yaml) or remove it",
            )
    candidates = sorted(p for p in pdir.rglob("*") if p.suffix in (".yaml", ".yml"))
    # Everything so named goes to the gate, so a FIFO, device or folder named *.yaml is refused, not skipped
    # in silence: a folder `alpha.yaml` (Docker makes one where it mounts a file that is missing) would
    # otherwise drop the portfolio from the plan, and its account with it.
    found = [p for p in candidates if not (p.is_symlink() and not p.exists())]
    problems: list[ReconcilerError] = [
        ReconcilerError(
            "broken symbolic link: its target does not exist", where=str(p),
            fix="point the link at an existing file, or delete it",
        )
        for p in candidates if p.is_symlink() and not p.exists()
    ]
    # A file that looks meant as a portfolio but that the walk would not read (`alpha.YAML`, which a
    # case-blind disk reads as YAML elsewhere; `alpha.json`) would drop its portfolio from the plan in
    # silence.
    problems += [
        ReconcilerError(
            f"{p.name!r} is not read: portfolio and model files end in .yaml or .yml (lower case)",
            where=str(p),
            fix=f"rename it to {p.stem}.yaml (written as YAML), or move it out of {config.portfolios_dir}/",
        )
        for p in sorted(pdir.rglob("*"))
        if p.suffix.lower() in _LOOKS_MEANT and p.suffix not in (".yaml", ".yml")
    ]
    models: dict[str, tuple[RawDoc, ModelDoc]] = {}
    portfolios: list[tuple[RawDoc, PortfolioDoc]] = []
    for f in found:
        try:
            docs = list(load_documents(f, files.PORTFOLIO, workspace=root))
        except ReconcilerError as exc:
            problems.append(exc)
            continue
        if not docs:
            problems.append(
                ReconcilerError(
                    "the file holds no YAML document (it is empty, or only comments)", where=f"{f}:1:1",
                    fix="add a kind: Portfolio or kind: Model document, or delete the file",
                )
            )
        for raw in docs:
            kind = document_kind(raw, ("Model", "Portfolio"), problems)
            if kind == "Model":
                m = parse_document(raw, ModelDoc, problems)
                if m is not None:
                    if m.metadata.name in models:
                        first = models[m.metadata.name][0]
                        problems.append(
                            ReconcilerError(
                                f"field metadata.name: Model {m.metadata.name!r} is defined twice"
                                f" (first at {first.where(['metadata', 'name'])})",
                                where=raw.where(["metadata", "name"]),
                                fix="give each Model a unique name",
                            )
                        )
                    else:
                        models[m.metadata.name] = (raw, m)
            elif kind == "Portfolio":
                p = parse_document(raw, PortfolioDoc, problems)
                if p is not None:
                    portfolios.append((raw, p))
    if not found:
        problems.append(
            ReconcilerError(
                "no portfolio files found", where=str(pdir),
                fix="add a kind: Portfolio YAML file to this folder"
            )
        )
    desired = _resolve(config, models, portfolios, problems, accounts=accounts)
    if problems and not partial:
        raise SpecError(problems)
    return Workspace(
        root=root, config_path=config_path, config=config, portfolios=desired, files=found, problems=problems
    )


def _resolve(
    config: ConfigDoc,
    models: dict[str, tuple[RawDoc, ModelDoc]],
    portfolios: list[tuple[RawDoc, PortfolioDoc]],
    problems: list[ReconcilerError],
    *,
    accounts: bool = True,
) -> list[Desired]:
    out: list[Desired] = []
    names: dict[str, RawDoc] = {}
    managed: dict[str, RawDoc] = {}
    known_accounts = sorted(config.broker.accounts)
    for raw, doc in portfolios:
        spec = doc.spec
        name = doc.metadata.name
        if name in names:
            problems.append(
                ReconcilerError(
                    f"field metadata.name: Portfolio {name!r} is defined twice (first at"
                    f" {names[name].where()})",
                    where=raw.where(["metadata", "name"]),
                    fix="give each Portfolio a unique name",
                )
            )
            continue
        names[name] = raw
        if accounts and spec.account not in config.broker.accounts:
            problems.append(
                ReconcilerError(
                    f"field spec.account: unknown account {spec.account!r}",
                    where=raw.where(["spec", "account"]),
                    fix=f"use one of the accounts in reconciler.yaml ({', '.join(known_accounts)}) or add it"
                    " there",
                )
            )
            continue
        if spec.account in managed:
            problems.append(
                ReconcilerError(
                    f"field spec.account: account {spec.account!r} is already managed by another portfolio"
                    f" ({managed[spec.account].where(['spec', 'account'])})",
                    where=raw.where(["spec", "account"]),
                    fix="one portfolio per account: merge the two files or use another account",
                )
            )
            continue
        managed[spec.account] = raw
        if spec.model is not None:
            if spec.model not in models:
                problems.append(
                    ReconcilerError(
                        f"field spec.model: unknown model {spec.model!r}",
                        where=raw.where(["spec", "model"]),
                        fix=f"define a kind: Model named {spec.model!r}, or use one of: "
                        + (", ".join(sorted(models)) or "(no models defined)"),
                    )
                )
                continue
            model_raw, model_doc = models[spec.model]
            targets, cash, model_file = dict(model_doc.spec.targets), model_doc.spec.cash, str(model_raw.path)
        else:
            targets, cash, model_file = dict(spec.targets or {}), spec.cash or Decimal(0), None
        out.append(
            Desired(
                name=name,
                account=spec.account,
                source=str(raw.path),
                model=model_file,
                targets=targets,
                cash=cash,
                trading=spec.trading,
                symbols=dict(spec.symbols),
                tax=spec.tax,
                withdrawals=list(spec.withdrawals),
            )
        )
    return out
