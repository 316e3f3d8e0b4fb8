"""`plan --raise ACCOUNT=AMOUNT`: a withdrawal for today on the account's portfolio, for this plan only."""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import date
from decimal import Decimal, InvalidOperation

from reconciler.core.rules import Withdrawal
from reconciler.errors import ReconcilerError
from reconciler.runtime import Runtime
from reconciler.workspace.loader import Workspace


def add_raise(p: argparse.ArgumentParser) -> None:
    """The --raise option of `plan`."""
    p.add_argument(
        "--raise", dest="raise_cash", action="append", default=[], metavar="ACCOUNT=AMOUNT",
        help="sell just enough to leave AMOUNT as cash in ACCOUNT today (repeatable); a preview: to apply it"
        " and keep the cash across plans, add it to the portfolio's withdrawals:",
    )


def with_raises(rt: Runtime, given: list[str]) -> Runtime:
    """A runtime for this plan whose portfolios carry each --raise as a withdrawal dated today (by its clock);
    bad input (no `=`, an amount that is not a positive number, an account no portfolio trades) is an
    error."""
    previewed = replace(rt)
    # The workspace is loaded once and kept (a cached property): the preview's is the loaded one plus the
    # raises, the way Runtime.for_worker hands a worker the workspace already loaded.
    previewed.__dict__["workspace"] = _raised(rt.workspace, given, rt.clock.now().date())
    return previewed


def _raised(ws: Workspace, given: list[str], today: date) -> Workspace:
    extra: dict[str, list[Withdrawal]] = {}
    for text in given:
        account, amount = _parsed(text)
        owners = [p.name for p in ws.portfolios if p.account == account]
        if len(owners) != 1:
            known = ", ".join(sorted({p.account for p in ws.portfolios}))
            raise ReconcilerError(
                f"--raise {text}: {'no portfolio trades' if not owners else 'several portfolios trade'}"
                f" account {account}", where="command line",
                fix=f"name an account one portfolio trades ({known}); for several, use withdrawals: in the"
                " file",
            )
        extra.setdefault(owners[0], []).append(Withdrawal(amount=amount, date=today))
    portfolios = [
        p.model_copy(update={"withdrawals": [*p.withdrawals, *extra[p.name]]}) if p.name in extra else p
        for p in ws.portfolios
    ]
    return replace(ws, portfolios=portfolios)


def _parsed(text: str) -> tuple[str, Decimal]:
    account, sep, raw = text.partition("=")
    fix = "give ACCOUNT=AMOUNT with a positive amount in the account's currency, e.g. --raise paper-ira=5000"
    if not sep or not account.strip():
        raise ReconcilerError(f"--raise {text}: not ACCOUNT=AMOUNT", where="command line", fix=fix)
    try:
        amount = Decimal(raw.strip().replace("_", ""))
    except InvalidOperation:
        raise ReconcilerError(
            f"--raise {text}: {raw!r} is not a number", where="command line", fix=fix
        ) from None
    if not amount.is_finite() or amount <= 0:
        raise ReconcilerError(f"--raise {text}: the amount must be positive", where="command line", fix=fix)
    return account.strip(), amount
