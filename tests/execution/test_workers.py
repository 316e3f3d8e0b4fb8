"""`apply --all --workers N`: accounts are claimed from the journal's work queue, each exactly once."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconciler.execution.planfile import read_plan
from reconciler.execution.workers import run_workers, spread
from reconciler.journal.queue import claim, enqueue, finish
from reconciler.journal.store import Journal
from reconciler.runtime import Runtime
from reconciler.secrets.redact import register
from tests.conftest import Workspace
from tests.execution.conftest import Broker


def test_three_workers_apply_each_account_once(alpaca: Workspace, emulator: Broker, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    assert alpaca.run("plan", "--out", str(plan_file)).code == 0
    plan = read_plan(plan_file)
    emulator.faults(latency_ms=20)
    report = run_workers(plan, lambda: Runtime(alpaca.config), workers=3, actor="ci", overrides={})
    assert report.ok, report.outcomes
    assert sorted(o.account for o in report.outcomes) == sorted(
        p.account for p in plan.portfolios if p.actions
    )
    rows = alpaca.query("select account, status, claimed_by from work_items")
    assert Counter(r[0] for r in rows) == Counter(p.account for p in plan.portfolios if p.actions)
    assert {r[1] for r in rows} == {"done"}
    ids = [o["client_order_id"] for o in emulator.orders()]
    assert len(ids) == len(set(ids)) == sum(len(p.actions) for p in plan.portfolios)
    assert alpaca.run("plan", "--detailed-exitcode").code == 0
    # Running the workers again finds nothing to claim.
    again = run_workers(plan, lambda: Runtime(alpaca.config), workers=2, actor="ci", overrides={})
    assert again.outcomes == []


def test_claims_never_overlap(alpaca: Workspace, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    assert alpaca.run("plan", "--out", str(plan_file)).code == 0
    plan = read_plan(plan_file)
    journal = Journal.open(alpaca.journal_url)
    assert enqueue(journal, plan) == 3
    assert enqueue(journal, plan) == 0
    got = [claim(journal, plan.content_hash, f"w{i}") for i in range(5)]
    assert sorted(a for a in got if a) == sorted(json.loads(plan_file.read_text())["config_accounts"])
    assert got[3:] == [None, None]


def test_cli_apply_all_with_workers(alpaca: Workspace, emulator: Broker, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    assert alpaca.run("plan", "--out", str(plan_file)).code == 0
    plan = json.loads(plan_file.read_text())
    r = alpaca.run("apply", str(plan_file), "--all", "--workers", "2")
    assert r.code == 0, r.out + r.err
    accounts = sorted(p["account"] for p in plan["portfolios"] if p["actions"])
    assert (
        sorted(line.split()[1] for line in r.out.splitlines() if line.strip().startswith("done")) == accounts
    )
    assert f"Summary: {len(accounts)} account(s): 0 failed, {len(accounts)} done" in r.out
    # Said while starting, before any account is done (stderr: stdout carries the result).
    assert [line.split(" ", 1)[0] for line in r.err.splitlines() if line.endswith("…")] == [
        "reading", "queueing", "starting"]
    ids = [o["client_order_id"] for o in emulator.orders()]
    assert len(ids) == len(set(ids)) == sum(len(p["actions"]) for p in plan["portfolios"])
    again = alpaca.run("apply", str(plan_file), "--all", "--workers", "2")
    assert again.code == 0
    assert "claimed already" in again.out
    assert len(emulator.orders()) == len(ids)


def test_cli_apply_all_needs_a_plan_file(alpaca: Workspace) -> None:
    r = alpaca.run("apply", "--all")
    assert r.code == 1
    assert "--all needs a plan file" in r.err
    assert "Traceback" not in r.err


def test_an_account_claimed_by_a_worker_that_died_is_applied_by_the_next_run(
    alpaca: Workspace, emulator: Broker, tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    assert alpaca.run("plan", "--out", str(plan_file)).code == 0
    plan = read_plan(plan_file)
    journal = Journal.open(alpaca.journal_url)
    assert enqueue(journal, plan) == 3
    dead = claim(journal, plan.content_hash, "worker-killed-9")  # claimed, then the process died
    assert dead is not None
    report = run_workers(plan, lambda: Runtime(alpaca.config), workers=2, actor="ci", overrides={})
    # A fresh claim without a lock may be a live worker between its claim and its lock: left alone.
    assert dead not in {o.account for o in report.outcomes}
    alpaca.execute(
        "update work_items set claimed_at = :old where account = :account",
        old=datetime.now(UTC) - timedelta(minutes=30), account=dead,
    )
    again = run_workers(plan, lambda: Runtime(alpaca.config), workers=2, actor="ci", overrides={})
    assert [(o.account, o.status) for o in again.outcomes] == [(dead, "done")]
    ids = [o["client_order_id"] for o in emulator.orders()]
    assert len(ids) == len(set(ids)) == sum(len(p.actions) for p in plan.portfolios)


def test_workers_are_processes_up_to_two_per_core_then_threads_within_them() -> None:
    assert spread(3, concurrency=8, cores=2) == [1, 1, 1]
    assert spread(8, concurrency=8, cores=2) == [2, 2, 2, 2]
    assert spread(9, concurrency=8, cores=2) == [3, 2, 2, 2]
    assert spread(64, concurrency=8, cores=16) == [2] * 32
    assert spread(6, concurrency=1, cores=2) == [1] * 6  # a broker that is not thread-safe: a process each
    assert sum(spread(37, concurrency=8, cores=3)) == 37


def test_a_work_items_message_never_keeps_a_secret(alpaca: Workspace, tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    assert alpaca.run("plan", "--out", str(plan_file)).code == 0
    plan = read_plan(plan_file)
    journal = Journal.open(alpaca.journal_url)
    enqueue(journal, plan)
    account = claim(journal, plan.content_hash, "w0")
    assert account is not None
    register("s3cr3t-broker-key-XYZ")
    finish(journal, plan.content_hash, account, "failed", "internal error: HTTP 500 echoing"
           " s3cr3t-broker-key-XYZ")
    stored = alpaca.query("select message from work_items where account = :a", a=account)[0][0]
    assert "s3cr3t" not in stored
    assert stored == "internal error: HTTP 500 echoing ***"
