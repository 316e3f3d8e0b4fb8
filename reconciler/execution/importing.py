"""`reconciler import ACCOUNT`, as a library call: a portfolio file whose targets are an account's holdings
now.

The ownership rules live here: an account is managed by one portfolio file; a file is never overwritten unless
asked (`force`), and an account's own file only when that file is named."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from reconciler import files
from reconciler.errors import ReconcilerError
from reconciler.execution.services import Services
from reconciler.workspace.importer import portfolio_yaml
from reconciler.workspace.loader import Workspace, load_workspace
from reconciler.workspace.models import NAME_PATTERN


@dataclass(frozen=True)
class Imported:
    """A portfolio written from an account's holdings, or its text when it is printed instead."""

    name: str
    text: str
    path: Path | None  # None: not written (the caller prints `text`)


def import_portfolio(
    rt: Services, account: str, *, name: str | None, out: str | None, step: Decimal, force: bool
) -> Imported:
    """Observe `account` and write its holdings as a portfolio to `out` (default: the portfolios folder; "-":
    do not write). Refuses an unknown account, an invalid name, an account another file manages, an existing
    file."""
    config = rt.config
    accounts = sorted(config.broker.accounts)
    if account not in accounts:
        raise ReconcilerError(
            f"unknown account {account!r}", where=f"{rt.config_path}: broker.accounts",
            fix=f"use one of: {', '.join(accounts)} (or add it to reconciler.yaml first)",
        )
    name = name or account
    if not re.match(NAME_PATTERN, name):
        raise ReconcilerError(
            f"portfolio name {name!r} is not valid", where="--name",
            fix="lower case letters, digits, - _ . (at most 63), starting and ending with a letter or digit",
        )
    root = rt.root
    to_stdout = out == "-"
    path = None if to_stdout else Path(out) if out else root / config.portfolios_dir / f"{name}.yaml"
    try:
        ws = load_workspace(rt.config_path)
    # no portfolio files yet is the usual case for an import: the config alone will do
    except ReconcilerError:
        ws = Workspace(root=root, config_path=rt.config_path, config=config)
    managed = ws.portfolio_for_account(account)
    same_file = path is not None and Path(managed.source).resolve() == path.resolve() if managed else False
    if managed is not None and not to_stdout and not (force and same_file):
        raise ReconcilerError(
            f"account {account!r} is already managed by portfolio {managed.name!r} ({managed.source})",
            where="command line",
            fix="edit that file, pass --out - to print the import, or --force with --out naming that file",
        )
    if path is not None and path.exists() and not force:
        raise ReconcilerError("file exists", where=str(path), fix="pass --force to overwrite it, or --out"
                              " another path")
    obs = rt.broker.observe(account, [])  # the broker needs only the configuration
    schema = root / "docs" / "portfolio.schema.json"
    text = portfolio_yaml(
        name, account, obs, step=step, schema=schema if schema.is_file() else None, out=path
    )
    if path is not None:
        files.write_text(path, text, files.PORTFOLIO, "--out", parents=True)
    return Imported(name, text, path)
