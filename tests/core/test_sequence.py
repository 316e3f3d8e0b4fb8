"""Which reviewed plan covers each portfolio in a sequence of merges: plain values, no git, no GitHub."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.models import Plan
from reconciler.core.plan import seal
from reconciler.core.sequence import Landed, covers

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def reviewed(**hashes: str) -> Plan:
    return seal(
        [], created_at=NOW, targets_hash="t" * 64, accounts=[], policy_results=[], portfolio_hashes=hashes
    )


def commit(n: int, *changed: str, plan: Plan | None = None, pr: int | None = None) -> Landed:
    return Landed(f"{n:040x}", frozenset(changed), plan, pr, "" if plan else "pushed to main without a pull"
                  " request")


def by(landed: list[Landed], now: dict[str, str]) -> dict[str, str | None]:
    return {c.portfolio: (c.by.commit if c.by else None) for c in covers(landed, now)}


def test_each_portfolio_is_covered_by_the_pull_request_that_last_changed_it() -> None:
    a = commit(1, "bob", plan=reviewed(bob="b2", alice="a1"), pr=1)
    b = commit(2, "alice", plan=reviewed(bob="b1", alice="a2"), pr=2)  # planned before A merged
    assert by([a, b], {"bob": "b2", "alice": "a2"}) == {"bob": a.commit, "alice": b.commit}


def test_a_plan_reviewed_with_other_targets_falls_to_a_later_one_that_has_these() -> None:
    a = commit(1, "bob", plan=reviewed(bob="b-other"), pr=1)
    c = commit(2, plan=reviewed(bob="b2"), pr=3)
    assert by([a, c], {"bob": "b2"}) == {"bob": c.commit}


def test_a_direct_push_is_covered_only_by_a_later_plan_made_with_it() -> None:
    push = commit(1, "bob")
    assert by([push], {"bob": "b2"}) == {"bob": None}
    (cover,) = covers([push], {"bob": "b2"})
    assert "pushed to main without a pull request" in cover.reason
    later = commit(2, plan=reviewed(bob="b2"), pr=4)
    assert by([push, later], {"bob": "b2"}) == {"bob": later.commit}


def test_a_plan_older_than_the_last_change_never_covers_it() -> None:
    old = commit(1, plan=reviewed(bob="b2"), pr=1)  # happens to match, but precedes the change
    push = commit(2, "bob")
    assert by([old, push], {"bob": "b2"}) == {"bob": None}


@given(st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans()), min_size=1, max_size=8))
def test_a_cover_is_never_older_than_the_last_change_and_always_has_the_current_targets(
    steps: list[tuple[bool, bool, bool]],
) -> None:
    landed = [
        commit(
            i,
            *(["bob"] if changes else []),
            plan=reviewed(bob="now" if current else "old") if has_plan else None,
        )
        for i, (changes, has_plan, current) in enumerate(steps)
    ]
    (cover,) = covers(landed, {"bob": "now"})
    last = max((i for i, c in enumerate(landed) if "bob" in c.changed), default=0)
    if cover.by is not None:
        assert landed.index(cover.by) >= last
        assert cover.plan is not None
        assert cover.plan.portfolio_hashes["bob"] == "now"
    else:
        assert all(c.plan is None or c.plan.portfolio_hashes["bob"] != "now" for c in landed[last:])
