"""Several independent `apply --all` processes (standing in for machines) share one journal — PostgreSQL in CI
— and split a plan's accounts: each account applied once, no order sent twice, and the accounts of one killed
mid-way finished by the next run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.conftest import Workspace
from tests.execution.conftest import SYMBOLS, grow, run_cli

ACCOUNTS = 12


def start(ws: Workspace, plan: Path, crash_at: str | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "RECONCILER_CRASH_AT"}
    if crash_at:
        env["RECONCILER_CRASH_AT"] = crash_at
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler.cli.main", "--config", str(ws.config), "--no-color",
         "apply", str(plan), "--all", "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        cwd=Path(__file__).resolve().parents[2],
    )


def _claimed(ws: Workspace) -> bool:
    """Whether some worker claimed an account yet (the journal and its queue are created by the first
    apply)."""
    if ws.journal_rows("work_items") == 0:
        return False
    return bool(ws.query("select count(*) from work_items where claimed_by is not null")[0][0])


def test_three_machines_split_the_accounts_and_a_killed_ones_accounts_are_taken_back(
    workspace: Workspace, tmp_path: Path
) -> None:
    grow(workspace, ACCOUNTS)
    plan = tmp_path / "plan.json"
    made = run_cli(workspace, "plan", "--out", str(plan))
    assert made.returncode == 0, made.stderr
    # The third machine's two workers are killed (SIGKILL) right after the broker took each one's second
    # order: mid-account. The paper broker commits an account's orders with their intents in one transaction
    # (executor._one_commit), so the kill leaves nothing of that account: the others take it back once they
    # see the holders dead and apply it whole, under the same client ids.
    doomed = start(workspace, plan, crash_at="after_submit:2")
    deadline = time.monotonic() + 120
    while doomed.poll() is None and time.monotonic() < deadline and not _claimed(workspace):
        time.sleep(0.05)  # the others start once it has work, or they could finish every account first
    machines = [start(workspace, plan), start(workspace, plan), doomed]
    finished = [m.communicate(timeout=240) for m in machines]
    assert [m.returncode for m in machines] == [m.returncode for m in machines[:2]] + [1], finished
    assert finished[2][0].count("died;") == 2, finished[2]
    assert all("Traceback" not in out + err for out, err in finished), finished

    rows = workspace.query("select account, status, claimed_by from work_items")
    assert len(rows) == ACCOUNTS
    done = [r[0] for r in rows if r[1] == "done"]
    assert len(done) == ACCOUNTS, rows  # the killed workers' accounts too, applied by the others
    assert len({r[2] for r in rows if r[1] == "done"}) >= 2, rows  # the work was shared

    # A next run finds nothing left to take back; whatever it finds is refused (re-plan), never sent again.
    again = run_cli(workspace, "apply", str(plan), "--all", "--workers", "2")
    assert "Traceback" not in again.stderr
    left = workspace.query("select account, status, message from work_items where status != 'done'")
    assert all("re-plan" in (r[2] or "") for r in left), left
    replan = tmp_path / "replan.json"
    assert run_cli(workspace, "plan", "--out", str(replan)).returncode in (0, 1)
    assert run_cli(workspace, "apply", str(replan), "--all", "--workers", "2").returncode == 0
    assert run_cli(workspace, "plan", "--detailed-exitcode").returncode == 0  # every account in sync

    orders = workspace.query("select account, symbol, client_order_id from paper_orders")
    assert Counter((a, s) for a, s, _ in orders) == Counter(
        {(f"a{ACCOUNTS}-{n:03d}", s): 1 for n in range(ACCOUNTS) for s in SYMBOLS}
    )  # every account bought each symbol with exactly one order: nothing sent twice
