"""`reconciler fmt`: normalise portfolio files in place, keeping comments, so reviews show changes of meaning
only."""

from __future__ import annotations

import argparse
from pathlib import Path

from reconciler.cli.common import console
from reconciler.errors import ReconcilerError
from reconciler.workspace.formatter import format_file


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the files to format and `--check`; main builds the parser from each command's."""
    p.add_argument(
        "paths", nargs="*",
        help="YAML files or folders (default: every file in portfolios_dir; name reconciler.yaml to include"
        " it)",
    )
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 when a file is not formatted")


def run(args: argparse.Namespace) -> int:
    """Format the portfolio files, or say which are not formatted (exit 1) for pre-commit and CI."""
    out = console(args)
    config = Path(getattr(args, "config", None) or "reconciler.yaml")
    if args.paths:
        targets = [Path(p) for p in args.paths]
    else:
        # Only without paths: the loader brings the pydantic models, which the pre-commit hook (files named on
        # the command line) never needs.
        from reconciler.workspace.loader import load_config

        try:
            pdir = load_config(config).portfolios_dir
        except ReconcilerError:  # formatting must not depend on the configuration being valid
            pdir = "portfolios"
        targets = [config.parent / pdir]
    files: list[Path] = []
    for t in targets:
        if t.is_dir():
            files += sorted(f for f in t.rglob("*") if f.suffix in (".yaml", ".yml") and f.is_file())
        elif t.exists():
            files.append(t)
        else:
            raise ReconcilerError("no such file or folder", where=str(t), fix="pass an existing YAML file or"
                                  " folder")
    changed = [f for f in files if format_file(f, write=not args.check)]
    for f in changed:
        out.print(f"{'would reformat' if args.check else 'reformatted'} {f}")
    if args.check and changed:
        out.print(f"{len(changed)} of {len(files)} file(s) need `reconciler fmt`.")
        return 1
    if not changed:
        out.print(f"{len(files)} file(s) already formatted.")
    return 0
