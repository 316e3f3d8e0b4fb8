"""`reconciler reconcile`: make the journal agree with the broker and report what it cannot explain."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--account", action="append", default=[], help="only this account (repeatable)")


def run(args: argparse.Namespace) -> int:
    from reconciler.cli.common import console, runtime
    from reconciler.errors import ReconcilerError
    from reconciler.execution.reconcile import reconcile_account
    from reconciler.journal.locks import AccountLock
    from reconciler.runtime import actor

    rt = runtime(args)
    known = sorted(rt.config.broker.accounts)  # from reconciler.yaml alone: works while a portfolio is broken
    unknown = sorted(set(args.account) - set(known))
    if unknown:
        raise ReconcilerError(
            f"unknown account(s): {', '.join(unknown)}", where="command line", fix=f"use one of {', '.join(known)}"
        )
    out = console(args)
    found = 0
    for account in args.account or known:
        with AccountLock(rt.journal, account, actor(), purpose="reconcile"):
            report = reconcile_account(rt, account)
        for cid in report.adopted:
            out.print(f"  {account}: adopted {cid}")
        for cid in report.failed:
            out.print(f"  {account}: {cid} never reached the broker; marked failed")
        for d in report.discrepancies:
            out.print(f"  [yellow]{account}: {d.kind}: {d.detail}[/yellow]")
        found += len(report.discrepancies)
        if not (report.adopted or report.failed or report.discrepancies):
            out.print(f"  {account}: journal and broker agree")
    return 2 if found else 0
