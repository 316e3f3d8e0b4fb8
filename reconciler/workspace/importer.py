"""`reconciler import`: a portfolio file whose targets are what an account holds now."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

from pydantic import ValidationError

from reconciler.core.models import Observation
from reconciler.core.weights import holdings_values, round_weights
from reconciler.errors import ReconcilerError
from reconciler.workspace.models import API_VERSION, PortfolioDoc
from reconciler.workspace.yamlpos import parse_documents

_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9.\-_/]*")


def _scalar(text: str) -> str:
    """A YAML scalar that reads back as this exact string (a symbol such as 1E5 would otherwise be a
    number)."""
    reserved = text.lower() in ("true", "false", "null", "yes", "no", "on", "off")
    return text if _PLAIN.fullmatch(text) and not reserved else f'"{text}"'


def portfolio_yaml(
    name: str, account: str, obs: Observation, *, step: Decimal, schema: Path | None = None,
    out: Path | None = None
) -> str:
    """The YAML text of a Portfolio holding `account`'s current weights (rounded to `step`, summing to 1)."""
    values, cash = holdings_values(obs)
    try:
        targets, cash_weight = round_weights(values, cash, step)
    except ValueError as exc:
        raise ReconcilerError(
            f"cannot import account {account!r}: {exc}", where=f"account {account}",
            fix="fund the account first, or pass a finer --step",
        ) from None
    if not targets:
        raise ReconcilerError(
            f"account {account!r} holds only cash", where=f"account {account}",
            fix="a portfolio needs at least one target: write it by hand (see docs/configuration.md)",
        )
    lines = []
    if schema is not None and out is not None:
        lines.append("# yaml-language-server:"
                     f" $schema={Path(os.path.relpath(schema, out.parent)).as_posix()}")
    lines += [
        f"# Imported from account {account} ({obs.taken_at:%Y-%m-%d %H:%M %Z}): today's holdings as targets.",
        "# Edit the weights to plan a change; `reconciler plan` shows no orders until you do.",
        f"apiVersion: {API_VERSION}",
        "kind: Portfolio",
        "metadata:",
        f"  name: {_scalar(name)}",
        "spec:",
        f"  account: {_scalar(account)}",
        "  targets:",
        *(f"    {_scalar(s)}: {w:f}" for s, w in targets.items()),
        f"  cash: {cash_weight:f}",
    ]
    if any(q != q.to_integral_value() for q in obs.positions.values()):
        lines += ["  trading:", "    fractional: true"]
    text = "\n".join(lines) + "\n"
    where = str(out) if out is not None else f"import of {account}"
    try:
        PortfolioDoc.model_validate(next(parse_documents(text, Path(where))).data)
    except ValidationError as exc:  # a bug, not bad input: the weights were built to validate
        raise ReconcilerError(f"the imported portfolio does not validate: {exc}", where=where) from None
    return text
