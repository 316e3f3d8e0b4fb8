"""A simulated month against the Alpaca emulator on the XNYS calendar (issue 21, section 7): twenty sessions,
with Thanksgiving (no session) and the early close after it among them, run as the workflows run them. Each
day a pull request is planned (`plan --base main --out`, as plan.yml), merged and applied within its reviewed
envelope (`apply --envelope`, as apply.yml); `status` (drift.yml) reads the accounts after the close. On the
way: a deposit, a dividend with foreign tax withheld, the regulatory fees Alpaca posts at each close, a crash
in one symbol, and a change of targets merged on the holiday.

Every command is the real CLI in this process; time-machine moves the process's clock, so the emulator, the
adapter, the journal and the policies agree on the simulated time, whatever today's date (or the suite's clock
shift)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import time_machine

from reconciler.emulator import Emulator, EmulatorServer
from tests.conftest import CliResult, Workspace, edit_yaml
from tests.execution.conftest import ACCOUNTS, PRICES, SECRET_CANARY
from tests.gitops.conftest import Git

D = Decimal
FIRST = date(2026, 11, 16)  # a Monday; twenty sessions and Thanksgiving take the month to 2026-12-14
SESSIONS = 20
THANKSGIVING = date(2026, 11, 26)  # NYSE closed: the target change merged today waits for the next session
BLACK_FRIDAY = date(2026, 11, 27)  # NYSE closes at 13:00 New York (18:00 UTC)
DEPOSIT_DAY = date(2026, 11, 18)
DIVIDEND_DAY = date(2026, 11, 20)
CRASH_DAY = date(2026, 12, 2)
CRASHED = "VNQ"  # held by bob-taxable only (9% of its targets)
MORNING = time(14, 0)  # 09:00 New York (EST): the day's prices, deposits and dividends are in
APPLY = time(15, 0)  # 10:00 New York: plan, merge, apply
EVENING = time(21, 30)  # 16:30 New York: after every close, the drift check
KILL_SWITCH = "VNQ: quote 60.2 moved -32.3% from the previous close 88.89, beyond the kill switch (20.0%)"
# After the crash VNQ is below its band in bob-taxable, and nothing else is beyond its own: the planner funds
# buys from cash and the cash band only, so no order can be placed (docs/configuration.md, "How the planner
# decides"; docs/backtest.md: "an underweight holding cannot be bought without cash"). status says so, exit 2.
NO_CASH_FOR_VNQ = "VNQ outside the band, but no order can be placed now (nothing left to spend)"


@dataclass
class Month:
    """The workspace (a git repository pointed at the emulator), the emulator, and the hand on the clock."""

    ws: Workspace
    server: EmulatorServer
    traveller: Any
    git: Git
    plans: Path

    @property
    def emu(self) -> Emulator:
        return self.server.emulator

    def control(self, path: str, body: dict[str, Any]) -> None:
        r = httpx.post(self.server.url + path, json=body)
        assert r.status_code == 200, r.text

    def at(self, day: date, when: time) -> None:
        self.traveller.move_to(datetime.combine(day, when, tzinfo=UTC))

    def pull_request(self, day: date, **targets: float) -> Path:
        """A branch (the day's review: new targets, or a comment in portfolios/ to plan again), its plan as
        plan.yml makes it, and its merge into main."""
        branch = f"day-{day.isoformat()}"
        self.git("checkout", "-q", "-b", branch)
        if targets:
            edit_yaml(self.ws.root / "portfolios" / "bob-taxable.yaml",
                      lambda doc: doc["spec"]["targets"].update(targets))
        with (self.ws.root / "portfolios" / "college-fund.yaml").open("a") as fh:
            fh.write(f"# reviewed {day.isoformat()}\n")
        self.git.commit_all(f"{branch}: targets")
        reviewed = self.plans / f"{branch}.json"
        plan = self.ws.run("plan", "--base", "main", "--out", str(reviewed))
        assert plan.code in (0, 1), plan.err  # 1: a policy denied, and the plan says which
        self.git("checkout", "-q", "main")
        self.git("merge", "-q", "--no-ff", branch, "-m", f"Merge {branch}")
        return reviewed

    def sent(self) -> list[dict[str, Any]]:
        return [o for a in self.emu.accounts.values() for o in (x.json() for x in a.orders.values())]


@pytest.fixture
def month(workspace: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Month]:
    """The clock pinned to the Friday evening before the month, then the emulator (its seed deposits dated
    then) and the example workspace pointed at it through the Alpaca adapter, in a git repository with main's
    targets."""
    with time_machine.travel(datetime.combine(FIRST - timedelta(days=3), time(22, 0), tzinfo=UTC),
                             tick=False) as traveller:
        seed = {
            "accounts": {
                n: {"key_id": f"key-{n}", "secret": SECRET_CANARY, **a} for n, a in ACCOUNTS.items()
            },
            "prices": PRICES,
        }
        server = EmulatorServer(Emulator(seed, calendar="XNYS"))
        server.start()

        def to_alpaca(doc: Any) -> None:
            doc["broker"] = {
                "kind": "alpaca", "trading_url": server.url, "data_url": server.url,
                "rate_limit_per_second": 200,
                "fill_timeout_seconds": 30, "slippage_bps": 0, "stream": False,
                "accounts": {n: {"key_id": f"env:KEY_{i}", "secret_key": "env:ALPACA_SECRET"}
                             for i, n in enumerate(ACCOUNTS)},
            }

        edit_yaml(workspace.config, to_alpaca)
        # A generous budget per policy evaluation: on a loaded machine the first one (compiling the policies)
        # may take seconds of real time, and a timeout is a refusal that would stop the whole month on day
        # one.
        edit_yaml(workspace.config, lambda doc: doc["policies"].__setitem__("timeout_seconds", 60))
        for i, name in enumerate(ACCOUNTS):
            monkeypatch.setenv(f"KEY_{i}", f"key-{name}")
        monkeypatch.setenv("ALPACA_SECRET", SECRET_CANARY)
        (workspace.root / ".gitignore").write_text(".reconciler/\n")
        git = Git(workspace.root)
        git("init", "-q", "-b", "main")
        git.commit_all("targets")
        plans = tmp_path / "plans"
        plans.mkdir()
        try:
            yield Month(workspace, server, traveller, git, plans)
        finally:
            server.shutdown()
            server.server_close()


def sessions_and_holidays(first: date, sessions: int) -> list[date]:
    """The weekdays from `first` that hold `sessions` sessions of the month (Thanksgiving is one more)."""
    out, day = [], first
    while len(out) < sessions + 1:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


def morning_prices(n: int, prices: dict[str, Decimal], day: date) -> dict[str, Any]:
    """A small deterministic walk (±0.8%), and the crash; yesterday's close as each previous close."""
    moved = {}
    for k, symbol in enumerate(sorted(prices)):
        step = D("0.004") * ((n * 7 + k * 3) % 5 - 2)
        moved[symbol] = (prices[symbol] * (1 + step)).quantize(D("0.01"))
    if day == CRASH_DAY:
        moved[CRASHED] = (moved[CRASHED] * D("0.68")).quantize(D("0.01"))
    answer = {s: {"price": str(moved[s]), "previous_close": str(prices[s])} for s in prices}
    prices.update(moved)
    return answer


def expected_status(day: date) -> dict[str, tuple[str, str]]:
    """Each portfolio's status after the day's close, and what its message must say ("" for Synced)."""
    synced = ("Synced", "")
    if day == THANKSGIVING:  # the change merged on the holiday was not applied: its orders wait for the open
        return {
            "alice-ira": synced,
            "bob-taxable": ("OutOfSync", "order(s) would trade"),
            "college-fund": synced,
        }
    if day == CRASH_DAY:
        return {"alice-ira": synced, "bob-taxable": ("Unknown", KILL_SWITCH), "college-fund": synced}
    if day > CRASH_DAY:
        return {"alice-ira": synced, "bob-taxable": ("OutOfSync", NO_CASH_FOR_VNQ), "college-fund": synced}
    return {"alice-ira": synced, "bob-taxable": synced, "college-fund": synced}


def test_a_simulated_month(month: Month) -> None:
    prices = {s: D(str(p["price"])) for s, p in PRICES.items()}
    days = sessions_and_holidays(FIRST, SESSIONS)
    assert [d for d in days if month.emu.session_hours(d) is None] == [THANKSGIVING]
    for n, day in enumerate(days):
        month.at(day, MORNING)
        month.emu.set_prices(morning_prices(n, prices, day))
        if day == DEPOSIT_DAY:
            month.control("/_emulator/activity", {"account": "paper-college", "activity_type": "CSD",
                                                  "net_amount": "5000", "description": "ACH deposit"})
        if day == DIVIDEND_DAY:
            for kind, amount, per_share in (("DIV", "85.75", "0.35"), ("DIVNRA", "-12.86", "0.0525")):
                month.control("/_emulator/activity", {
                    "account": "paper-taxable", "activity_type": kind, "net_amount": amount, "symbol": "VXUS",
                    "qty": "245", "per_share_amount": per_share, "description": f"{kind} VXUS"})
        month.at(day, APPLY)
        change = {"VTI": 0.40, "BND": 0.30} if day == THANKSGIVING else {}
        reviewed = month.pull_request(day, **change)
        before = len(month.sent())
        month.at(day, APPLY.replace(minute=5))
        applied = month.ws.run("apply", "--envelope", str(reviewed), "--auto-approve")
        month.at(day, EVENING)
        status = month.ws.run("status", "--format", "json")
        check_day(month, day, json.loads(reviewed.read_text()), applied, status, before)
    fees = {
        a["date"]
        for acct in month.emu.accounts.values()
        for a in acct.activities
        if a["activity_type"] == "FEE"
    }
    assert {FIRST.isoformat(), BLACK_FRIDAY.isoformat()} <= fees  # posted at the close, the early one too


def check_day(month: Month, day: date, plan: dict[str, Any], applied: CliResult, status: CliResult,
              before: int) -> None:
    """The day's invariants: no order twice, cash never negative, buys never blocked by what fees or
    settlement explain, and each portfolio's status after the close (Synced unless a refusal said why)."""
    sent = month.sent()
    ids = [o["client_order_id"] for o in sent]
    assert len(ids) == len(set(ids)), f"{day}: a client order id was sent twice"
    journaled = month.ws.query("select client_order_id, status from intents")
    assert len(journaled) == len({cid for cid, _ in journaled}), f"{day}: an intent was journaled twice"
    assert [cid for cid, state in journaled if state == "rejected"] == []  # a resent id would be refused
    for name, acct in month.emu.accounts.items():
        assert acct.cash >= 0, f"{day}: {name} cash {acct.cash}"
    for pp in plan["portfolios"]:
        assert D(pp["observation"]["cash_settled"]) >= 0, f"{day} {pp['name']}"
        assert D(pp["cash_after"]) >= 0, f"{day} {pp['name']}"
        assert pp["observation"]["cash_warning"] is None, (f"{day} {pp['name']}:"
                                                           f" {pp['observation']['cash_warning']}")
        assert pp["observation"].get("cash_untrusted") is None, f"{day} {pp['name']}"
    if day == DEPOSIT_DAY:  # the deposit is invested the day it lands
        college = next(pp for pp in plan["portfolios"] if pp["name"] == "college-fund")
        assert {a["side"] for a in college["actions"]} == {"buy"}
    if day == THANKSGIVING:
        assert applied.code == 1, applied.out + applied.err
        assert "market is closed" in applied.err
        assert "nothing was sent" in applied.err
        assert len(sent) == before
    elif day == CRASH_DAY:
        assert applied.code == 1, applied.out + applied.err
        assert f"valuation (bob-taxable): {KILL_SWITCH}" in applied.err
        assert len(sent) == before
    else:
        assert applied.code == 0, f"{day}: {applied.out}{applied.err}"
        assert all(o["status"] == "filled" for o in sent[before:]), f"{day}: {sent[before:]}"
    got = {p["portfolio"]: (p["status"], p["message"]) for p in json.loads(status.out)["portfolios"]}
    for portfolio, (state, why) in expected_status(day).items():
        assert got[portfolio][0] == state, f"{day} {portfolio}: {got[portfolio]}"
        assert why in got[portfolio][1], f"{day} {portfolio}: {got[portfolio]}"
