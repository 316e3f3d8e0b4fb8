"""Holdings that moved by more than the journal's fills explain (issue 20 §2): a split, a transfer in or out,
a trade someone else made. Since the last observation the journal recorded, each holding must have moved by
exactly our fills since; one that did not is blocked — not traded — until a person accepts the new holding
with `reconciler reconcile --accept-move ACCOUNT:SYMBOL --reason TEXT`.

A block is an event in the journal (`position.moved`), so it outlives the observation that found it (the next
plan's baseline already holds the new quantity); `position.accepted` lifts it, with who and why. A symbol
whose fills cannot be placed before or after the baseline (an order journaled before it and filled after it:
the observation may or may not hold that fill; a fill stamped at the baseline's own instant, likewise), or
with an order still open, is not judged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from reconciler.core.numbers import ZERO
from reconciler.errors import ReconcilerError
from reconciler.journal import tables as t
from reconciler.journal.database import as_utc
from reconciler.journal.store import Journal

MOVED = "position.moved"
ACCEPTED = "position.accepted"


def unexplained(journal: Journal, account: str, positions: Mapping[str, Decimal]) -> dict[str, str]:
    """Each symbol whose holding now differs from the last recorded observation plus our fills since: why."""
    last = journal.last_observation(account)
    if last is None:
        return {}
    expected = {s: Decimal(q) for s, q in json.loads(last["data"]).get("positions", {}).items()}
    taken = as_utc(last["taken_at"])
    unsure = {i["symbol"] for i in journal.open_intents(account)}
    for f in journal.fills_since(account, taken, inclusive=True):
        if as_utc(f["intent_created_at"]) <= taken or as_utc(f["filled_at"]) == taken:
            # Sent before the baseline and filled after it, or filled at its very instant (a clock that did
            # not move between the two): the baseline may or may not hold this fill.
            unsure.add(f["symbol"])
        sign = 1 if f["side"] == "buy" else -1
        # A fee kept in the traded asset (a coin bought on an exchange without a fee token) is not held.
        expected[f["symbol"]] = expected.get(f["symbol"], ZERO) + sign * f["quantity"] - f["fee_in_kind"]
    out = {}
    for s in sorted(set(expected) | set(positions)):
        want, have = expected.get(s, ZERO), positions.get(s, ZERO)
        if want != have and s not in unsure:
            out[s] = (
                f"the broker holds {have}, but the last observation ({taken:%Y-%m-%d %H:%M} UTC) and our"
                f" fills since explain {want} (a split, a transfer or a trade made elsewhere?)"
            )
    return out


def blocked(journal: Journal, account: str) -> dict[str, str]:
    """The account's symbols blocked by a move nobody has accepted yet, and why."""
    return blocked_by_account(journal, account).get(account, {})


def blocked_by_account(journal: Journal, account: str | None = None) -> dict[str, dict[str, str]]:
    """Every account's (or one's) symbols blocked by a move nobody has accepted yet, and why: one query for a
    whole plan."""
    query = select(t.events.c.account, t.events.c.kind, t.events.c.data).where(
        t.events.c.kind.in_((MOVED, ACCEPTED))
    )
    if account is not None:
        query = query.where(t.events.c.account == account)
    with journal.tx(single=True) as c:
        rows = c.execute(query.order_by(t.events.c.id)).all()
    out: dict[str, dict[str, str]] = {}
    for who, kind, data in rows:
        fact: dict[str, Any] = json.loads(data)
        mine = out.setdefault(who, {})
        if kind == MOVED:
            mine[fact["symbol"]] = fact["why"]
        else:
            mine.pop(fact["symbol"], None)
    return out


def moved_symbols(
    journal: Journal, account: str, positions: Mapping[str, Decimal], *, record: bool,
    standing: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """What blocks which of the account's symbols now: the moves recorded and not accepted (`standing`, when
    the caller read them already), and the moves found on these `positions` (recorded as blocks too when
    `record`)."""
    standing = blocked(journal, account) if standing is None else standing
    found = {s: why for s, why in unexplained(journal, account, positions).items() if s not in standing}
    if record:
        for symbol, why in found.items():
            journal.event(MOVED, account=account, symbol=symbol, why=why)
    return {**standing, **found}


def accept(journal: Journal, account: str, symbol: str, actor: str, reason: str) -> str:
    """Lift a move's block on a person's word (recorded with who and why); returns what was blocking."""
    why = blocked(journal, account).get(symbol)
    if why is None:
        raise ReconcilerError(
            f"{symbol} is not blocked by a move in account {account}", where="command line",
            fix="give ACCOUNT:SYMBOL as `reconciler plan` names it in its `moved` note",
        )
    journal.event(ACCEPTED, account=account, symbol=symbol, actor=actor, reason=reason, was=why)
    return why
