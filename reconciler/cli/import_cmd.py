"""`reconciler import ACCOUNT`: write a portfolio YAML whose targets are the account's current holdings."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("account", help="an account configured in reconciler.yaml (broker.accounts)")
    p.add_argument("--name", help="portfolio name (default: the account name)")
    p.add_argument(
        "--out", metavar="PATH",
        help="file to write (default: PORTFOLIOS_DIR/NAME.yaml); `-` prints it instead",
    )
    p.add_argument(
        "--step", default="0.0001", help="weights are multiples of this (default 0.0001, one basis point)"
    )
    p.add_argument("--force", action="store_true", help="overwrite the file if it exists")


def run(args: argparse.Namespace) -> int:
    import re
    import sys
    from decimal import Decimal, InvalidOperation
    from pathlib import Path

    from reconciler.cli.common import console, runtime
    from reconciler.errors import ReconcilerError
    from reconciler.spec.importer import portfolio_yaml
    from reconciler.spec.loader import Workspace, load_config, load_workspace
    from reconciler.spec.models import NAME_PATTERN

    try:
        step = Decimal(args.step)
    except InvalidOperation:
        step = Decimal("NaN")
    if not step.is_finite() or not Decimal("1e-12") <= step <= 1:
        raise ReconcilerError(
            f"--step {args.step!r} must be a number above 0 and at most 1 (weights are multiples of it)",
            where="command line", fix="use e.g. --step 0.0001 (one basis point)",
        ) from None
    rt = runtime(args)
    config = load_config(rt.config_path)
    accounts = sorted(config.broker.accounts)
    if args.account not in accounts:
        raise ReconcilerError(
            f"unknown account {args.account!r}", where=f"{rt.config_path}: broker.accounts",
            fix=f"use one of: {', '.join(accounts)} (or add it to reconciler.yaml first)",
        )
    name = args.name or args.account
    if not re.match(NAME_PATTERN, name):
        raise ReconcilerError(
            f"portfolio name {name!r} is not valid", where="--name",
            fix="lower case letters, digits, - _ . (at most 63), starting and ending with a letter or digit",
        )
    root = rt.config_path.parent
    to_stdout = args.out == "-"
    out = None if to_stdout else Path(args.out) if args.out else root / config.portfolios_dir / f"{name}.yaml"
    try:
        ws = load_workspace(rt.config_path)
    except ReconcilerError:  # no portfolio files yet is the usual case for an import: the config alone will do
        ws = Workspace(root=root, config_path=rt.config_path, config=config)
    managed = ws.portfolio_for_account(args.account)
    same_file = out is not None and Path(managed.source).resolve() == out.resolve() if managed else False
    if managed is not None and not to_stdout and not (args.force and same_file):
        raise ReconcilerError(
            f"account {args.account!r} is already managed by portfolio {managed.name!r} ({managed.source})",
            where="command line",
            fix="edit that file, pass --out - to print the import, or --force with --out naming that file",
        )
    if out is not None and out.exists() and not args.force:
        raise ReconcilerError(
            "file exists", where=str(out), fix="pass --force to overwrite it, or --out another path"
        )
    rt.__dict__["workspace"] = ws  # the broker and journal need only the configuration (cached_property slot)
    obs = rt.broker.observe(args.account, [])
    schema = root / "docs" / "portfolio.schema.json"
    text = portfolio_yaml(
        name, args.account, obs, step=step, schema=schema if schema.is_file() else None, out=out
    )
    if out is None:
        sys.stdout.write(text)
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    console(args).print(
        f"[green]✓[/green] wrote {out}: portfolio {name!r} holding account {args.account!r} as it is now."
        " Edit the weights, then `reconciler plan`."
    )
    return 0
