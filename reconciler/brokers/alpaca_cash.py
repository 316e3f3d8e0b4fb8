"""The Alpaca account's settled and unsettled cash, from its activities: the activities past the account's
cursor (GET /v2/account/activities, in pages of 100) folded into its ledger (alpaca_ledger), with the
exchange's sessions (GET /v2/calendar) for T+N settlement, the state kept for the next observation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from reconciler.brokers.alpaca_activities import Entry, entry
from reconciler.brokers.alpaca_answers import ACTIVITIES, MAX_ACTIVITY_PAGES
from reconciler.brokers.alpaca_ledger import LedgerState, LedgerStore, Reading, read, settlement_horizon
from reconciler.brokers.payload import impossible, listing, reading
from reconciler.core.numbers import ZERO
from reconciler.errors import BrokerError
from reconciler.secrets.redact import untrusted
from reconciler.workspace.models import AlpacaBrokerConfig

Get = Callable[[str, str, dict[str, Any] | None], Any]  # (account, path, params) → the answer's JSON


class CashLedger:
    """Each account's cash as its activities tell it, read through the adapter's GET."""

    def __init__(self, spec: AlpacaBrokerConfig, ledgers: LedgerStore, get: Get) -> None:
        self.spec = spec
        self.ledgers = ledgers
        self._get = get

    def cash(
        self, account: str, claimed: Decimal, today: date
    ) -> tuple[Decimal, Decimal, str | None, str | None]:
        """(settled, unsettled, warning, untrusted): the activities past the account's cursor folded into its
        ledger (alpaca_ledger), the state kept for the next observation, in this process or the next. The
        window is read whole at first sight, and again when the cash disagrees; `untrusted` says why neither
        the account's cash nor the ledger can be believed (the portfolio is then blocked, its cash never
        valued as zero)."""
        n = self.spec.settlement_days
        horizon = settlement_horizon(today, n)
        text = self.ledgers.load_text(account)
        state = None if text is None else LedgerState.from_json(text)
        window = {"after": (horizon - timedelta(days=1)).isoformat()}  # `after` is exclusive
        cursor = None if state is None else state.cursor
        fresh = self._activities(account, window if cursor is None else {"page_token": cursor})
        got = self._read_ledger(account, state, fresh, claimed, today, horizon, rescan=False)
        if got is not None and fresh is not None and got.disagrees and state is not None:
            again = self._activities(account, window)
            got = self._read_ledger(account, state, None if again is None else fresh + again, claimed, today,
                                    horizon, rescan=True)
        if got is None:
            why = (f"the account has more than {MAX_ACTIVITY_PAGES * 100} activities to read since it was"
                   " last"
                   " observed; its cash cannot be verified")
            return ZERO, ZERO, why, why
        self.ledgers.save_text(account, got.state.to_json())
        return got.settled, got.unsettled, got.warning, got.warning if got.disagrees else None

    def _read_ledger(self, account: str, state: LedgerState | None, fresh: list[Entry] | None,
                     claimed: Decimal,
                     today: date, horizon: date, *, rescan: bool) -> Reading | None:
        if fresh is None:
            return None
        n = self.spec.settlement_days
        with reading(ACTIVITIES):
            sales = [e.day for e in (state.window if state else ()) + tuple(fresh)
                     if e.kind == "FILL" and e.side == "sell" and e.day > horizon]
            sessions = self._sessions(account, min(sales), today) if sales and n else []
            return read(state, fresh, claimed, today=today, horizon=horizon, sessions=sessions,
                        settlement_days=n,
                        rates=self.spec.fees, tolerance=self.spec.cash_tolerance, rescan=rescan)

    def _activities(self, account: str, start: dict[str, Any]) -> list[Entry] | None:
        """The activities from `start` (`after` a date, or past a `page_token`), oldest first, in Alpaca's
        pages of 100; None when there are more than MAX_ACTIVITY_PAGES pages."""
        out: list[Entry] = []
        params: dict[str, Any] = {**start, "direction": "asc", "page_size": 100}
        for _ in range(MAX_ACTIVITY_PAGES):
            page = listing(self._get(account, "/v2/account/activities", dict(params)), ACTIVITIES)
            if not all(isinstance(a, dict) for a in page):
                raise impossible(ACTIVITIES, "an activity that is not a JSON object")
            out.extend(map(entry, page))
            if len(page) < 100:
                return out
            with reading(ACTIVITIES):
                params["page_token"] = page[-1]["id"]
        return None

    def _sessions(self, account: str, first: date, today: date) -> list[date]:
        """The exchange's sessions (GET /v2/calendar) since the oldest sale that may still be unsettled: T+N
        counts sessions, so a holiday between the sale and today delays settlement."""
        rows = self._get(account, "/v2/calendar", {"start": first.isoformat(), "end": today.isoformat()})
        try:
            return sorted(date.fromisoformat(str(r["date"])[:10]) for r in rows)
        except (TypeError, KeyError, ValueError) as exc:
            raise BrokerError(
                f"the broker's calendar is unreadable ({untrusted(str(exc), 120)})",
                where=f"account {account}",
                fix="the broker answered GET /v2/calendar with something unexpected; try again later",
            ) from None
