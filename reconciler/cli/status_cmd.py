"""`reconciler status` (alias `drift`): per portfolio Synced / Progressing / OutOfSync / Locked / Unknown, so
a schedule can alert on drift without planning."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reconciler import files
from reconciler.cli.common import add_record, console, runtime
from reconciler.core.drift import StatusReport
from reconciler.execution.status import portfolio_status
from reconciler.gitops.repo import head_commit
from reconciler.notify import notify
from reconciler.render.text import render_status
from reconciler.secrets.redact import scrub


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the status flags: format, a JSON copy, `--record`, `--notify`; main builds the parser from each
    command's."""
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    p.add_argument("--out", metavar="FILE", help="also write the JSON status to FILE (for `github"
                   " drift-issue`)")
    add_record(p, "status")
    p.add_argument(
        "--notify", action="store_true",
        help="send the `drift` notifications configured in reconciler.yaml when a portfolio is OutOfSync",
    )
    p.epilog = ("Exit codes: 0 every portfolio in sync (or progressing, or locked by an apply), 2 out of"
                " sync, 1 error.")


def run(args: argparse.Namespace) -> int:
    """Report each portfolio's sync state; notify on drift when asked."""
    rt = runtime(args, read_only=not args.record)
    drifts = portfolio_status(rt, record=args.record)
    commit, dirty = head_commit(rt.root, rt.partial_workspace.target_files)
    report = StatusReport.of(
        drifts, generated_at=rt.clock.now().isoformat(timespec="seconds"), git_commit=commit, git_dirty=dirty
    )
    code = report.exit_code
    text = json.dumps(report.model_dump(mode="json"), indent=2) + "\n"
    if args.out:
        # JSON escapes controls; scrubbed
        files.write_text(Path(args.out), scrub(text), files.STATUS, "--out")
    if args.format == "json":
        sys.stdout.write(text)
    else:
        render_status(drifts, console(args))
    out_of_sync = [d for d in drifts if d.status == "OutOfSync"]
    if args.notify and out_of_sync:
        lines = [f"- {d.portfolio} ({d.account}): {d.message}" for d in out_of_sync]
        notify(
            rt.config.notifications, "drift", f"reconciler: {len(out_of_sync)} portfolio(s) out of sync",
            "\n".join(lines),
        )
    return code
