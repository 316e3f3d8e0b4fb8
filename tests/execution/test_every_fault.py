"""The misbehaving broker, every fault issue 20 names (tests/execution/hostile_faults.py), on the journal
backend the suite runs on (SQLite, or PostgreSQL with RECONCILER_TEST_PG_URL): a proxy on 127.0.0.1 between
the CLI and the broker emulator plays the fault through `plan --out` and `apply PLAN`, and for every fault

- no client order id reaches the emulator twice;
- every order the emulator holds was journaled before it was sent, as sent, and is one an honest plan (taken
  just before the fault began) asked for, at most a quarter larger; an account (or symbol) the fault lies
  about gets none;
- every apply ended (no apply left running, no lock held) within apply.max_duration_seconds by the journal's
  clock;
- no run of 6 characters of any account's key id or secret (one of each only 7 long) is in stdout, stderr, a
  plan file, the summary or bodies file, the journal's file, or any row of any journal table.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from reconciler.core.models import Plan
from reconciler.emulator import Emulator, EmulatorServer, Faults
from reconciler.execution.planfile import read_plan
from reconciler.journal.database import as_utc
from tests.conftest import Workspace, edit_yaml
from tests.execution.conftest import ACCOUNTS, PRICES, Broker
from tests.execution.hostile_faults import (
    BUDGET,
    FAULTS,
    ISSUE_FAULTS,
    MARGIN,
    TIMEOUT,
    Fault,
    FaultProxy,
    Run,
)
from tests.secrets.echoes import leaks

ALPHABET = string.ascii_letters + string.digits
# Per account: the lengths of its key id and secret; paper-college's are short (scrubbed as whole tokens).
LENGTHS = {"paper-ira": (20, 40), "paper-taxable": (20, 22), "paper-college": (7, 7)}


def test_every_fault_the_issue_names_is_registered() -> None:
    assert sorted(ISSUE_FAULTS) == sorted(FAULTS)


@contextmanager
def _running(fault: Fault, ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    rng = random.Random(fault.name)
    keys = {
        a: ("".join(rng.choice(ALPHABET) for _ in range(k)), "".join(rng.choice(ALPHABET) for _ in range(s)))
        for a, (k, s) in LENGTHS.items()
    }
    seed = {"accounts": {a: {"key_id": keys[a][0], "secret": keys[a][1], **ACCOUNTS[a]} for a in keys},
            "prices": PRICES}
    emu = Emulator(seed, Faults())
    server = EmulatorServer(emu)
    server.start()
    proxy = FaultProxy(server.url, fault, keys)
    for n, (key_id, secret) in enumerate(keys.values()):
        monkeypatch.setenv(f"RC_FAULT_KEY_{n}", key_id)
        monkeypatch.setenv(f"RC_FAULT_SECRET_{n}", secret)

    def through_proxy(doc: Any) -> None:
        doc["broker"] = {
            "kind": "alpaca", "trading_url": proxy.url, "data_url": proxy.url, "rate_limit_per_second": 200,
            "timeout_seconds": TIMEOUT, "fill_timeout_seconds": 60, "slippage_bps": 0,
            "accounts": {a: {"key_id": f"env:RC_FAULT_KEY_{n}", "secret_key": f"env:RC_FAULT_SECRET_{n}"}
                         for n, a in enumerate(keys)},
        }
        doc["apply"].update(max_duration_seconds=BUDGET, in_flight_grace_seconds=120)

    edit_yaml(ws.config, through_proxy)
    try:
        yield Run(ws, Broker(server, emu), proxy, keys, tmp_path)
    finally:
        proxy.healed.set()
        proxy.server.shutdown()
        server.shutdown()
        server.server_close()


def _planned(run: Run) -> dict[tuple[str, str, str], Decimal]:
    r = run.cli("plan", "--format", "json")
    assert r.code in (0, 2), r.out + r.err
    return {(p["account"], a["symbol"], a["side"]): Decimal(str(a["quantity"]))
            for p in json.loads(r.out)["portfolios"] for a in p["actions"]}


def _actions(plan: Plan) -> dict[tuple[str, str, str], Decimal]:
    return {(p.account, a.symbol, a.side): a.quantity for p in plan.portfolios for a in p.actions}


def _begin(run: Run, fault: Fault) -> None:
    run.proxy.active = True
    if fault.activate is not None:
        fault.activate(run)


def _at(value: Any) -> datetime:
    return as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))


def _journal_dump(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return json.dumps({t: [list(r) for r in conn.execute(text(f'select * from "{t}"'))]
                               for t in inspect(conn).get_table_names()}, default=str)
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_a_misbehaving_broker_never_gets_an_order_twice_a_wrong_order_a_late_apply_or_a_secret(
    name: str, workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fault = FAULTS[name]
    with _running(fault, workspace, tmp_path, monkeypatch) as run:
        if fault.prepare is not None:
            fault.prepare(run)
        before = {o["client_order_id"] for o in run.orders()}
        plan = tmp_path / "plan.json"
        if fault.at_plan:  # the honest plan first, then the plan the fault lies to
            reference = _planned(run)
            _begin(run, fault)
            run.cli("plan", "--out", str(plan))
        else:  # the fault acts on orders only: the plan applied is the honest one
            assert run.cli("plan", "--out", str(plan)).code in (0, 2), run.outputs[-1][-3000:]
            reference = _actions(read_plan(plan))
            _begin(run, fault)
        if plan.exists():
            fault.apply(run, plan)
        run.proxy.settle()
        _check(run, fault, reference, before)


def _check(run: Run, fault: Fault, reference: dict[tuple[str, str, str], Decimal], before: set[str]) -> None:
    ws = run.ws
    ids = [o["client_order_id"] for o in run.orders()]
    assert len(ids) == len(set(ids)), "an order was sent twice"
    if not ws.journal_rows("applies", "intents", "events"):  # no journal was written: then nothing was sent
        assert ids == [], "orders sent without a journal"
        _no_leaks(run, "")
        return

    intents = {cid: (symbol, side, Decimal(str(q))) for cid, symbol, side, q in
               ws.query("select client_order_id, symbol, side, quantity from intents")}
    silent = fault.silent(run)
    for account in run.keys:
        for o in run.orders(account):
            if o["client_order_id"] in before:
                continue
            qty = Decimal(o["qty"])
            assert intents.get(o["client_order_id"]) == (o["symbol"], o["side"], qty), ("not as journaled:"
                                                                                        f" {o}")
            planned = reference.get((account, o["symbol"], o["side"]))
            assert planned is not None, f"an order no honest plan asked for: {account} {o}"
            assert qty <= planned * Decimal("1.25"), (f"{account} {o['symbol']}: {qty} against {planned}"
                                                      " planned")
            assert (account, None) not in silent, f"an order for {account}, whose facts were false: {o}"
            assert (account, o["symbol"]) not in silent, f"an order for {account} {o['symbol']}: {o}"

    applies = ws.query("select status, started_at, finished_at from applies")
    assert all(status != "running" for status, _, _ in applies), applies
    # The budget runs from when the apply holds its locks: the last lock taken before the apply was recorded.
    locked = sorted(_at(at) for (at,) in ws.query("select created_at from events where kind ="
                                                  " 'lock.acquired'"))
    for status, started, finished in applies:
        since = max(at for at in locked if at <= _at(started))
        took = (_at(finished) - since).total_seconds()
        print(f"{fault.name}: apply {status} in {took:.2f}s from its locks by the journal (budget {BUDGET}s)")
        assert took <= BUDGET + MARGIN, status
    assert ws.query("select count(*) from locks")[0][0] == 0

    _no_leaks(run, _journal_dump(ws.journal_url))
    if fault.check is not None:
        fault.check(run)


def _no_leaks(run: Run, journal: str) -> None:
    secrets = [value for pair in run.keys.values() for value in pair]
    files = "\n".join(p.read_bytes().decode("latin-1") for p in run.tmp.rglob("*") if p.is_file())
    for where, said in (("stdout or stderr", "\n".join(run.outputs)), ("a file the runs wrote", files),
                        ("the journal", journal)):
        found = leaks(said, secrets)
        assert found == [], f"a credential in {where}: {_around(said, found[0])}"


def _around(text: str, fragment: str) -> str:
    at = text.index(fragment)
    return repr(text[max(0, at - 300): at + 100])


def test_the_proxy_is_honest_until_the_fault_begins(workspace: Workspace, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference the faults are judged against: the same accounts, no fault, plan and apply succeed."""
    with _running(Fault("none"), workspace, tmp_path, monkeypatch) as run:
        plan = tmp_path / "plan.json"
        assert run.cli("plan", "--out", str(plan)).code in (0, 2)
        reference = _actions(read_plan(plan))
        assert reference
        assert run.cli("apply", str(plan)).code == 0, run.outputs[-1][-3000:]
        assert {(a, o["symbol"], o["side"]) for a in run.keys for o in run.orders(a)} == set(reference)
        _check(run, Fault("none"), reference, set())
