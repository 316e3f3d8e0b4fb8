"""`reconciler reconcile`: make the journal agree with the broker and report what it cannot explain: after a
crash or an unanswered send, the next apply starts from the truth."""

from __future__ import annotations

import argparse

from rich.markup import escape

from reconciler.cli.common import add_lock_timeout, console, runtime
from reconciler.errors import ReconcilerError
from reconciler.execution.reconcile import accept_move, give_up, reconcile_account
from reconciler.journal.locks import AccountLock
from reconciler.runtime import Runtime, actor


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the accounts to reconcile and `--give-up` with its reason; main builds the parser from each
    command's."""
    p.add_argument("--account", action="append", default=[], help="only this account (repeatable)")
    p.add_argument(
        "--give-up", metavar="ID",
        help="mark an order of unknown outcome failed (you know it will never reach the broker); needs"
        " --reason",
    )
    p.add_argument(
        "--accept-move", metavar="ACCOUNT:SYMBOL",
        help="accept a holding that moved by more than the journal's fills explain (a split, a transfer),"
        " which `plan` shows as not traded; needs --reason",
    )
    p.add_argument("--reason", help="why, for --give-up and --accept-move; recorded in the journal with who")
    add_lock_timeout(p)


def run(args: argparse.Namespace) -> int:
    """Make the journal agree with the broker, or give up an order of unknown outcome."""
    rt = runtime(args)
    if args.give_up is not None:
        if not (args.reason and args.reason.strip()):
            raise ReconcilerError("--give-up needs --reason", where="command line", fix='add --reason "why"')
        account = give_up(rt, args.give_up, args.reason.strip(), actor())
        console(args).print(f"  {account}: {args.give_up} given up (marked failed): {args.reason.strip()}")
        return 0
    known = sorted(rt.config.broker.accounts)  # from reconciler.yaml alone: works while a portfolio is broken
    if args.accept_move is not None:
        return _accept_move(args, rt, known)
    unknown = sorted(set(args.account) - set(known))
    if unknown:
        raise ReconcilerError(
            f"unknown account(s): {', '.join(unknown)}", where="command line",
            fix=f"use one of {', '.join(known)}"
        )
    out = console(args)
    found = 0
    for account in args.account or known:
        with AccountLock(rt.journal, account, actor(), purpose="reconcile", wait=args.lock_timeout):
            report = reconcile_account(rt, account)
        for cid in report.adopted:
            out.print(f"  {account}: adopted {cid}")
        for cid in report.failed:
            out.print(f"  {account}: {cid} never reached the broker; marked failed")
        for cid in report.unknown:
            out.print(
                f"  [yellow]{account}: {cid} was sent but the broker does not know it yet; it may still"
                " arrive (the account is not traded until it does, or until it is"
                f" {rt.config.apply.in_flight_grace_seconds}s"
                " old)[/yellow]"
            )
        for d in report.discrepancies:
            out.print(f"  [yellow]{account}: {d.kind}: {d.detail}[/yellow]")
        found += len(report.discrepancies) + len(report.unknown)
        if not (report.adopted or report.failed or report.unknown or report.discrepancies):
            out.print(f"  {account}: journal and broker agree")
    return 2 if found else 0


def _accept_move(args: argparse.Namespace, rt: Runtime, known: list[str]) -> int:
    account, _, symbol = args.accept_move.partition(":")
    if not (account and symbol):
        raise ReconcilerError(
            f"--accept-move {args.accept_move}: expected ACCOUNT:SYMBOL",
            where="command line",
            fix="give it as `plan` names it, e.g. --accept-move paper-ira:VTI",
        )
    if account not in known:
        raise ReconcilerError(f"unknown account {account}", where="command line", fix="use one of"
                              f" {', '.join(known)}")
    if not (args.reason and args.reason.strip()):
        raise ReconcilerError("--accept-move needs --reason", where="command line", fix='add --reason "why"')
    with AccountLock(rt.journal, account, actor(), purpose="reconcile", wait=args.lock_timeout):
        why = accept_move(rt, account, symbol, actor(), args.reason.strip())
    console(args).print(escape(f"  {account}: {symbol} accepted as held now ({args.reason.strip()}); it was"
                               f" blocked: {why}"))
    return 0
