"""Proof as a property (issue 19, section 8; docs/fail-closed.md): a valid workspace, mutated along every axis
of tests/proof/registry.py, and the CLI run on it in process (`apply`, on the paper broker). Every run ends in

(a) the orders the unmutated workspace sends, for every portfolio the mutation does not touch (and for the
    ones it touches, those orders or none), or
(b) a clear refusal: exit code 1 and a message, and nothing sent for the portfolios the mutation touches;

never a traceback or an internal error, never a hang, never an order the unmutated workspace does not send,
and never a control character or workflow command in the output. RECONCILER_PROOF_CASES sets the number of
cases (5,000 by default, on a fixed sequence in CI: HYPOTHESIS_PROFILE=ci).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.proof.registry import AXES
from tests.proof.workspace import ACCOUNTS, APPLY, APPLY_PLAN, PLAN_FILE, Harness, Mutation, Outcome

CASES = int(os.environ.get("RECONCILER_PROOF_CASES", "5000"))
# What an output must never carry raw: terminal escapes (7- and 8-bit), the bell, bidirectional overrides.
RAW_CONTROL = re.compile("[\x1b\x07\x9b\u202a-\u202e\u2066-\u2069]")
WORKFLOW_COMMAND = re.compile(r"^\s*::", re.MULTILINE)


class Proof:
    """The harness, the unmutated workspace's outcomes, and what the run drew."""

    def __init__(self, base: Path) -> None:
        self.harness = Harness(base)
        self.reference = self.harness.run(*APPLY)
        plan = base / PLAN_FILE
        made = self.harness.run("plan", "--out", str(plan))
        assert made.code == 0, made.err
        self.harness.plan_bytes = plan.read_bytes()
        self.harness.restore()
        self.reference_plan = self.harness.run(*APPLY_PLAN)
        self.drawn: Counter[str] = Counter()
        self.cases = 0


@pytest.fixture(scope="module")
def proof(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proof]:
    # In memory where the machine has it: thousands of journals are created, written and deleted.
    shm = Path("/dev/shm")
    base = (
        Path(tempfile.mkdtemp(prefix="rc-proof-", dir=shm))
        if shm.is_dir()
        else tmp_path_factory.mktemp("proof")
    )
    proof = Proof(base)

    @settings(max_examples=CASES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(AXES).flatmap(lambda axis: axis.strategy))
    def case(mutation: Mutation) -> None:
        proof.drawn[mutation.axis] += 1
        proof.cases += 1
        proof.harness.restore()
        mutation.edit(proof.harness.root)
        got = proof.harness.run(*mutation.command)
        expected = proof.reference_plan if mutation.command == APPLY_PLAN else proof.reference
        event(f"{mutation.axis}: {'refused' if got.code else 'ran'}")
        check(mutation, got, expected)

    try:
        case()
        yield proof
    finally:
        shutil.rmtree(base, ignore_errors=True)


def check(mutation: Mutation, got: Outcome, expected: Outcome) -> None:
    """The invariant, one assert per fact; the mutation's label says what was done."""
    said = got.out + got.err
    where = f"{mutation.axis}: {mutation.label}\nexit {got.code}\nstdout:\n{got.out}\nstderr:\n{got.err}"
    assert not got.hung, f"hung: {where}"
    assert "Traceback" not in said, where
    assert "Internal error" not in said, where
    assert got.code in (0, 1), where
    assert not RAW_CONTROL.search(said), f"raw control character in the output: {where}"
    assert not WORKFLOW_COMMAND.search(said), f"a line of the output is a workflow command: {where}"
    if mutation.same:
        assert got.sent == expected.sent, f"a mutation that means nothing changed the orders: {where}"
    nothing_sent = not any(got.sent.values())
    for portfolio, account in ACCOUNTS.items():
        mine, theirs = got.sent.get(account, []), expected.sent.get(account, [])
        if mine == theirs:
            continue
        assert not mine, (f"wrong trade for {portfolio}: {mine}, where the unmutated workspace sends"
                          f" {theirs}: {where}")
        assert got.code == 1, f"{portfolio} sent nothing and the run says it succeeded: {where}"
        assert portfolio in said or "Error:" in got.err, (f"{portfolio} sent nothing and nothing says why:"
                                                          f" {where}")
        assert nothing_sent or portfolio in mutation.affected, (f"{portfolio} is untouched and lost its"
                                                                f" orders: {where}")


def test_the_unmutated_workspace_trades_every_portfolio(proof: Proof) -> None:
    """The reference the invariant compares with sends orders for each portfolio (else (a) would prove
    little)."""
    assert all(proof.reference.sent.get(a) for a in ACCOUNTS.values()), proof.reference


def test_the_saved_plan_sends_what_apply_sends(proof: Proof) -> None:
    assert proof.reference_plan.sent == proof.reference.sent


def test_every_generated_case_is_the_unmutated_outcome_or_a_refusal(proof: Proof) -> None:
    assert proof.cases >= min(CASES, 100)


def test_every_axis_was_drawn(proof: Proof) -> None:
    assert {a.name for a in AXES} - set(proof.drawn) == set()
