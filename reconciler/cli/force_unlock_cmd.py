"""`reconciler force-unlock LOCK_ID`: remove the lock of an apply that died; `--list` shows the locks. A lock
keeps two applies off one account; this is the way out when its holder cannot release it."""

from __future__ import annotations

import argparse

from rich.markup import escape

from reconciler.cli.common import console, runtime
from reconciler.errors import ReconcilerError
from reconciler.journal.locks import describe_holder, force_unlock, list_locks
from reconciler.render.fmt import when
from reconciler.runtime import actor


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the lock to remove, `--list` and `--force`; main builds the parser from each command's."""
    p.add_argument("lock_id", nargs="?", help="the id shown in the 'locked by' message")
    p.add_argument("--list", action="store_true", help="list the locks held now")
    p.add_argument(
        "--force", action="store_true",
        help="remove the lock even though its holder looks alive (its process on this host, its PostgreSQL"
        " session, or its lease); only when you know that holder is gone",
    )


def run(args: argparse.Namespace) -> int:
    """List the locks, or remove one whose holder is gone, so a crashed apply does not block its account."""
    rt = runtime(args)
    out = console(args)
    if args.list or not args.lock_id:
        locks = list_locks(rt.journal)
        if not locks:
            out.print("No locks are held.")
        for lk in locks:
            out.print(
                f"  {lk['lock_id']}  {lk['account']}  {lk['purpose']} by {lk['holder']}"
                f" (pid {lk['pid']} on {lk['host']}), heartbeat {when(lk['heartbeat_at'])},"
                f" expires {when(lk['expires_at'])}"
            )
        if not args.list and not args.lock_id:
            raise ReconcilerError("give a LOCK_ID to remove", where="command line", fix="see the list above")
        return 0
    row = force_unlock(rt.journal, args.lock_id, actor(), force=args.force)
    out.print(f"Removed lock {escape(args.lock_id)} on {escape(str(row['account']))} (held by"
              f" {escape(describe_holder(row))}).")
    return 0
