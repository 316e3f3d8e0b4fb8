"""Apply on merge for a sequence of merges, by hand: each portfolio checked within the envelope of the plan
that covers it, a trading portfolio no plan covers refused by name, partial applies counted from the covering
commit on, the overrides every covering plan carries, and a merge queue's batch told covered from
uncovered."""

from __future__ import annotations

from decimal import Decimal

from reconciler.core.envelope import Breach
from reconciler.core.models import Desired, Observation, Override, Plan
from reconciler.core.plan import reseal
from reconciler.core.rules import EnvelopeSettings
from reconciler.core.sequence import (
    UNCOVERED,
    Landed,
    batch_uncovered,
    check_sequence,
    covers,
    reviewed_overrides,
)
from tests.builders import desired, observation, planned

SETTINGS = EnvelopeSettings()  # 10% bands
PUSHED = "pushed to main without a pull request"


def pair(name: str, positions: dict[str, str]) -> tuple[Desired, Observation]:
    return (desired({"VTI": "0.5", "BND": "0.5"}, name=name, account=f"acct-{name}"),
            observation({"VTI": "100", "BND": "50"}, positions, account=f"acct-{name}"))


# 80 VTI at $100 and 40 BND at $50 against 50/50 of $10,000: sell 30 VTI ($3,000), buy 60 BND ($3,000).
DRIFTED = {"VTI": "80", "BND": "40"}
ON_TARGET = {"VTI": "50", "BND": "100"}  # exactly 50/50: no order


def plan_of(positions: dict[str, dict[str, str]], **hashes: str) -> Plan:
    return planned([pair(n, p) for n, p in positions.items()], portfolio_hashes=hashes)


def commit(n: int, *changed: str, plan: Plan | None = None, pr: int | None = None) -> Landed:
    return Landed(str(n) * 40, frozenset(changed), plan, pr, "" if plan else PUSHED)


def test_portfolios_the_last_pull_request_covers_pass_without_a_note() -> None:
    current = plan_of({"alice": DRIFTED, "bob": DRIFTED}, alice="a2", bob="b2")
    result = check_sequence([commit(1, "alice", "bob", plan=current, pr=1)], current, SETTINGS)
    assert result.check.breaches == []
    assert result.notes == []
    assert result.check.reviewed_hash == current.content_hash[:12]


def test_a_trading_portfolio_no_plan_covers_is_refused_by_name_and_the_other_is_checked_within_its_plan() -> (
    None
):
    current = plan_of({"alice": DRIFTED, "bob": DRIFTED}, alice="a2", bob="b2")
    landed = [commit(1, "alice", plan=current, pr=1), commit(2, "bob")]
    result = check_sequence(landed, current, SETTINGS)
    assert result.check.breaches == [Breach(
        "bob", None, f"{UNCOVERED}: its change came from commit {'2' * 12} with no reviewed plan ({PUSHED})")]
    assert result.notes == [f"alice: within the plan reviewed on pull request #1 ({'1' * 12})"]


def test_an_uncovered_portfolio_with_no_orders_is_noted_when_it_changed_and_left_alone_when_not() -> None:
    current = plan_of({"alice": ON_TARGET, "bob": ON_TARGET}, alice="a2", bob="b2")
    landed = [commit(1, "bob")]
    result = check_sequence(landed, current, SETTINGS)
    assert result.check.breaches == []
    assert result.notes == [
        f"bob: its change came from commit {'1' * 12} with no reviewed plan ({PUSHED}); it needs no orders"
        " now,"
        " so nothing is refused"
    ]


def test_two_covering_plans_are_both_named() -> None:
    current = plan_of({"alice": DRIFTED, "bob": DRIFTED}, alice="a2", bob="b2")
    first = reseal(current, created_at=current.created_at.replace(year=2025))  # another hash, same orders
    landed = [commit(1, "alice", plan=first, pr=1), commit(2, "bob", plan=current, pr=2)]
    result = check_sequence(landed, current, SETTINGS)
    assert result.check.reviewed_hash == ",".join(
        sorted([first.content_hash[:12], current.content_hash[:12]])
    )


def test_other_configured_accounts_are_a_breach_of_the_portfolio_checked() -> None:
    current = plan_of({"alice": DRIFTED}, alice="a2")
    reviewed = reseal(current, config_accounts=["acct-alice", "acct-zed"])
    result = check_sequence([commit(1, "alice", plan=reviewed, pr=1)], current, SETTINGS)
    assert result.check.breaches == [
        Breach("alice", None, "the configured accounts differ from the reviewed plan's")]


def _finishing(done_at: int, notional: str, portfolio: str = "alice") -> list[Breach]:
    """The BND buy ($3,000 reviewed, high $3,300) re-run after an apply at commit `done_at` bought
    `notional`."""
    current = plan_of({"alice": DRIFTED}, alice="a2")
    landed = [commit(1), commit(2, "alice", plan=current, pr=2), commit(3)]
    done = {str(done_at) * 40: {(portfolio, "BND"): Decimal(notional)}}
    return check_sequence(landed, current, SETTINGS, done).check.breaches


def test_a_buy_traded_at_the_covering_commit_counts_against_the_reviewed_one() -> None:
    (breach,) = _finishing(2, "300.01")
    assert breach.symbol == "BND"


def test_a_buy_traded_after_the_covering_commit_counts_too() -> None:
    (breach,) = _finishing(3, "300.01")
    assert breach.symbol == "BND"


def test_what_was_traded_before_the_covering_commit_does_not_count() -> None:
    assert _finishing(1, "300.01") == []


def test_what_another_portfolio_traded_does_not_count() -> None:
    assert _finishing(2, "300.01", portfolio="bob") == []


def test_a_buy_traded_up_to_exactly_the_reviewed_high_is_no_breach() -> None:
    assert _finishing(2, "300") == []


def test_the_largest_deviation_of_a_finished_apply_is_reported() -> None:
    current = plan_of({"alice": DRIFTED}, alice="a2")
    done = {"1" * 40: {("alice", "BND"): Decimal(300), ("alice", "VTI"): Decimal(-150)}}
    result = check_sequence([commit(1, "alice", plan=current, pr=1)], current, SETTINGS, done)
    assert result.check.max_deviation == Decimal("0.1")  # $3,300 of $3,000 bought; the sell $3,150 of $3,000


def override(policy: str, reason: str, pr: int) -> Override:
    return Override(policy=policy, reason=reason, login="ana", pull_request=pr)


def test_only_overrides_every_covering_plan_carries_are_honoured_with_every_reason() -> None:
    base = plan_of({"alice": DRIFTED}, alice="a2")
    one = reseal(base, overrides=[override("max_turnover", "deposit", 1), override("min_cash", "fees", 1)])
    two = reseal(base, overrides=[override("max_turnover", "withdrawal", 2)])
    assert reviewed_overrides([one, two]) == {
        "max_turnover": "deposit (/reconciler override by @ana on pull request #1); "
                        "withdrawal (/reconciler override by @ana on pull request #2)"
    }


def test_no_covering_plan_honours_no_override() -> None:
    assert reviewed_overrides([]) == {}


def test_a_batch_tells_the_portfolios_it_changed_covered_from_uncovered() -> None:
    reviewed = plan_of({"alice": DRIFTED}, alice="a2")
    landed = [commit(1, "alice", plan=reviewed, pr=1), commit(2, "bob")]
    covered, uncovered = batch_uncovered(landed, {"alice": "a2", "bob": "b2", "carol": "c1"})
    assert [c.portfolio for c in covered] == ["alice"]
    assert [c.portfolio for c in uncovered] == ["bob"]


def test_an_empty_batch_changes_nothing() -> None:
    assert batch_uncovered([], {"alice": "a2"}) == ([], [])


def test_a_portfolio_whose_reviewed_plan_had_other_targets_says_so() -> None:
    stale = plan_of({"alice": DRIFTED}, alice="a1")  # reviewed before another change to alice merged
    (cover,) = covers([commit(1, "alice", plan=stale, pr=1)], {"alice": "a2"})
    assert cover.reason == (
        f"the plan reviewed on pull request #1 ({'1' * 12}) has other targets for it than main now has (it"
        " was"
        " planned before another change to it merged), and no later reviewed plan has these"
    )


def test_a_portfolio_is_checked_against_its_own_reviewed_targets_whatever_else_changed_since() -> None:
    current = plan_of({"alice": DRIFTED}, alice="a2")
    reviewed = reseal(current, targets_hash="r" * 64)  # other portfolios' targets were different then
    result = check_sequence([commit(1, "alice", plan=reviewed, pr=1)], current, SETTINGS)
    assert result.check.breaches == []
