"""The plan comment opens with the decision, keeps its main tables narrow, and never claims a listing that is
not there, on plans the planner makes (tests/builders.planned)."""

from __future__ import annotations

import re
from decimal import Decimal

from markdown_it import MarkdownIt

from reconciler.core.attribution import causes
from reconciler.core.changes import diff_targets
from reconciler.core.models import CostModel, Desired, Observation, Plan, PolicyResult
from reconciler.core.rules import EnvelopeSettings, Trading
from reconciler.render.decision import BLOCKED, CLEAR, OVERRIDE, decide, weighty
from reconciler.render.markdown import MARKER, Proposal, blocks, plan_comment, render_markdown
from tests.builders import desired, observation, planned

GITHUB_LIKE = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
SYMBOLS = ["VTI", "VXUS", "BND", "BNDX"]
PRICES = {"VTI": "289.41", "VXUS": "64.12", "BND": "72.85", "BNDX": "49.37"}
WIDTH = 100  # characters a table row may take in GitHub's comment column (~770 px)


def account(name: str, cash: int | str, *, targets: dict[str, str] | None = None, unsettled: int = 0,
            trading: Trading | None = None,
            positions: dict[str, str] | None = None) -> tuple[Desired, Observation]:
    """A portfolio and what its broker reports: the planner makes its orders."""
    wanted = targets or {"VTI": "0.40", "VXUS": "0.20", "BND": "0.30", "BNDX": "0.08"}
    d = desired(wanted, "0.02", name=name, account=f"acct-{name}", trading=trading)
    prices = {s: PRICES[s] for s in PRICES}
    o = observation(prices, positions or {}, settled=cash, unsettled=unsettled, account=f"acct-{name}")
    return d, o


def deny(portfolio: str, level: str = "soft-mandatory", policy: str = "max_turnover") -> PolicyResult:
    return PolicyResult(
        policy=policy,
        kind="deny",
        level=level,
        portfolio=portfolio,  # type: ignore[arg-type]
        message="turnover 97.7% is above the maximum 50.0%",
    )


def small_plan() -> Plan:
    """One blocked (a symbol nobody quotes), one waiting for an override, two that trade, one under the
    minimum."""
    return planned(
        [
            account("alice", 100_000),
            account("bob", 80_000, unsettled=843),
            account("carol", 10_000),
            account("dave", 50_000, targets={"VTI": "0.49", "VNQQ": "0.49"}),
            account("erin", 300, trading=Trading(min_trade_notional=Decimal(250))),
        ],
        results=[deny("bob")],
    )


def first_block(text: str) -> str:
    """The opening block: everything before the first section's heading or the target changes."""
    return re.split(r"^### ", text, maxsplit=1, flags=re.M)[0]


# ---- the first block states the decision ----

def test_a_denial_leads_the_comment() -> None:
    plan = small_plan()
    going = [pp for pp in plan.portfolios if pp.actions and pp.name not in ("bob", "dave")]
    orders = sum(len(pp.actions) for pp in going)
    traded = sum((pp.buy_notional + pp.sell_notional for pp in going), Decimal(0))
    lines = render_markdown(plan, EnvelopeSettings()).splitlines()
    assert lines[:4] == [
        MARKER, "## reconciler plan", "",
        f"**1 portfolio is blocked; 1 portfolio waits for an override; merging places {orders} orders in"
        f" {len(going)} portfolios (${traded:,.2f} traded).**",
    ]


def test_a_symbol_nobody_quotes_is_a_denial_not_no_changes() -> None:
    plan = planned([account("dave", 50_000, targets={"VTI": "0.49", "VNQQ": "0.49"})])
    opening = first_block(render_markdown(plan))
    assert opening.splitlines()[3] == "**1 portfolio is blocked; merging places no orders.**"
    assert "- :x: `valuation` · hard-mandatory · **1 portfolio(s)** (`dave`): VNQQ: no quote — cannot be" \
        " overridden." in opening
    assert "No changes" not in opening


def test_blocked_groups_name_policy_level_and_count() -> None:
    opening = first_block(render_markdown(small_plan()))
    blocked = opening.split("**Blocked, and why**", 1)[1].split("\n\n", 2)[1]
    assert blocked.splitlines() == [
        "- :x: `valuation` · hard-mandatory · **1 portfolio(s)** (`dave`): VNQQ: no quote — cannot be"
        " overridden.",
        "- :lock: `max_turnover` · soft-mandatory · **1 portfolio(s)** (`bob`): turnover 97.7% is above the"
        " maximum 50.0% — a code owner may override.",
    ]


def test_what_needs_an_override_is_named() -> None:
    opening = first_block(render_markdown(small_plan()))
    assert "**Needs an override:** `max_turnover` (1 portfolio(s)). A code owner" in opening


def test_turnover_is_defined_where_it_first_appears() -> None:
    opening = first_block(render_markdown(small_plan(), EnvelopeSettings()))
    first = re.search("turnover", opening, re.I)
    assert first is not None
    assert opening[first.start() - 1:].startswith("*Turnover*: the two-sided notional (bought plus sold)")


def test_the_decision_table_has_a_row_per_trading_portfolio_largest_first() -> None:
    opening = first_block(render_markdown(small_plan(), EnvelopeSettings()))
    rows = [
        line
        for line in opening.splitlines()
        if line.startswith("| ") and "$" in line and "bought" not in line
    ]
    assert [r.split(" | ")[0] for r in rows[:2]] == ["| alice", "| carol"]


def test_notes_that_change_the_outcome_are_surfaced() -> None:
    opening = first_block(render_markdown(small_plan()))
    notes = opening.split("**Notes that change what merging does:**", 1)[1]
    assert "- `bob`: $843.00 of unsettled cash is not spent until it settles" in notes


def test_a_buy_skipped_under_the_minimum_is_surfaced() -> None:
    opening = first_block(render_markdown(small_plan()))
    assert re.search(
        r"^- `erin`: \w+: buy of [\d.]+ \(\$[\d.,]+\) is under the minimum trade; skipped$", opening, re.M
    )


def test_the_planners_weighty_notes_are_recognised() -> None:
    notes = [n for pp in small_plan().portfolios for n in pp.notes if "unsettled" in n or "minimum" in n]
    assert len(notes) > 1
    assert [n for n in notes if not weighty(n)] == []


# ---- the orders this change causes, apart from old drift ----

def test_orders_are_told_apart_by_cause() -> None:
    before, obs = account("alice", 100_000)  # all cash: the old targets would buy as well
    after = before.model_copy(
        update={"targets": {**before.targets, "VTI": Decimal("0.30"), "BND": Decimal("0.40")}}
    )
    bob = account("bob", 80_000)
    plan = planned([(after, obs), bob], base_ref="main", base_commit="b" * 40,
                   target_changes=diff_targets([before, bob[0]], [after, bob[0]]))
    old = {(a.symbol, a.side): a.quantity for a in planned([(before, obs)]).portfolios[0].actions}
    alice, bobs = plan.portfolios
    drift = len(bobs.actions) + sum(1 for a in alice.actions if old.get((a.symbol, a.side), 0) >= a.quantity)
    why = causes(plan, [before, bob[0]], [after, bob[0]], CostModel())
    opening = first_block(render_markdown(plan, proposal=Proposal(causes=why)))
    total = len(alice.actions) + len(bobs.actions)
    assert (
        f"**Why these orders:** of the {total}, {total - drift} come from this pull request's target changes"
        f" and {drift} from old drift" in opening
    )


# ---- narrow tables ----

def visible_tables(text: str) -> list[list[str]]:
    """The tables a reader sees without unfolding anything: each as its lines (header, separator, rows)."""
    tables: list[list[str]] = []
    folded = False
    current: list[str] = []
    for line in text.splitlines():
        folded = (folded or line.startswith("<details>")) and not line.startswith("</details>")
        if line.startswith("|") and not folded:
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables + ([current] if current else [])


def shown_width(row: str) -> int:
    """Characters of a row as rendered: cells' text and a gap of three between them."""
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]
    text = [re.sub(r"\\(.)", r"\1", c).replace("**", "").replace("`", "") for c in cells]
    return sum(len(c) for c in text) + 3 * (len(text) - 1)


def test_the_orders_table_has_five_columns() -> None:
    plan = small_plan()
    orders = [
        t for t in visible_tables(render_markdown(plan, EnvelopeSettings())) if t[0].startswith("| side |")
    ]
    with_orders = sum(1 for pp in plan.portfolios if pp.actions)
    assert [t[0] for t in orders] == ["| side | qty | symbol | notional | weight now → after |"] * with_orders


def test_every_visible_table_fits_the_comment_column() -> None:
    text = render_markdown(small_plan(), EnvelopeSettings())
    widths = {t[0]: max(shown_width(r) for r in t) for t in visible_tables(text)}
    assert {h: w for h, w in widths.items() if w > WIDTH} == {}


def test_envelope_and_commission_are_in_the_details() -> None:
    text = render_markdown(small_plan(), EnvelopeSettings())
    headers = {t[0] for t in visible_tables(text)}
    assert [h for h in headers if "envelope" in h or "commission" in h.replace("est. commissions", "")] == []


# ---- large plans ----

def large_plan(n: int = 400) -> Plan:
    """Portfolios of many sizes: every 9th blocked (a symbol nobody quotes), every 7th denied by a
    soft-mandatory policy, every 5th with unsettled cash, twenty holdings each so ten comments cannot hold
    them all."""
    symbols = [f"S{i:02d}" for i in range(20)]
    weight = Decimal("0.049")
    pairs = []
    results = []
    for i in range(n):
        targets = {s: weight for s in symbols}
        if i % 9 == 0:
            targets = {**targets, "ZZZQ": Decimal("0.01")}
        d = desired(targets, "0.01", name=f"p-{i:03d}", account=f"a-{i:03d}")
        o = observation({s: "10.00" for s in symbols}, settled=10_000 * (1 + i % 37),
                        unsettled=100 if i % 5 == 0 else 0, account=d.account)
        pairs.append((d, o))
        if i % 7 == 0:
            results.append(deny(d.name))
    return planned(pairs, results=results)


def where(claim: str) -> tuple[int, int]:
    """(in sections below, only in the plan file) as a claim says."""
    below = re.search(r"(\d+) in (?:its section|their sections) below", claim)
    only = re.search(r"(\d+) only in the plan file", claim)
    return (int(below.group(1)) if below else 0, int(only.group(1)) if only else 0)


def headings(bodies: list[str]) -> list[str]:
    return [m.group(1) for b in bodies for m in re.finditer(r"^### (p-\d+) · ", b, re.M)]


def test_every_group_claim_of_a_large_plan_is_true() -> None:
    plan = large_plan()
    bodies = plan_comment(plan, EnvelopeSettings())
    posted = set(headings(bodies))
    lines = [line for line in first_block(bodies[0]).splitlines() if re.match(r"- :\w+: `", line)]
    checked = 0
    for line in lines:
        m = re.match(
            r"- :\w+: `([^`]+)` · ([\w-]+)( warning)? · \*\*(\d+) portfolio\(s\)\*\* \((.*?)\)[,:]", line
        )
        assert m is not None, line
        members = {
            r.portfolio for r in plan.policy_results if r.policy == m.group(1) and r.level == m.group(2)
        }
        named = set(re.findall(r"`([^`]+)`", m.group(5).split(" and ")[0]))
        rest = members - named
        assert (int(m.group(4)), where(m.group(5))) == (
            len(members),
            (len(rest & posted), len(rest - posted)),
        )
        checked += 1
    assert checked == 2


def test_the_trading_remainder_of_a_large_plan_is_counted_truly() -> None:
    plan = large_plan()
    bodies = plan_comment(plan, EnvelopeSettings())
    posted = set(headings(bodies))
    opening = first_block(bodies[0])
    named = {
        line.split(" | ")[0][2:] for line in opening.splitlines() if re.match(r"\| p-\d+ \| \d+ \|", line)
    }
    trading = {r.name for r in decide(plan).trading}
    claim = re.search(r"^The other (\d+): (.*)\.$", opening, re.M)
    assert claim is not None
    rest = trading - named
    assert (int(claim.group(1)), where(claim.group(2))) == (
        len(rest),
        (len(rest & posted), len(rest - posted)),
    )


def test_a_large_plan_leaves_sections_out_and_says_so() -> None:
    bodies = plan_comment(large_plan(), EnvelopeSettings())
    assert len(bodies) == 10
    assert len(set(headings(bodies))) < 400
    assert re.search(r"only in the plan file", bodies[0])


def test_sections_go_worst_and_largest_first() -> None:
    plan = large_plan(120)
    order = {r.name: (r.severity, -r.notional) for r in decide(plan).rows}
    shown = [h for h in re.findall(r"^### (p-\d+) · ", "".join(blocks(plan)), re.M)]
    assert [order[h] for h in shown] == sorted(order[h] for h in shown)


def test_severity_classes_all_occur_in_the_large_plan() -> None:
    severities = {r.severity for r in decide(large_plan(120)).rows}
    assert {BLOCKED, OVERRIDE, CLEAR} <= severities


def test_the_opening_block_of_a_large_plan_stays_short() -> None:
    opening = first_block(plan_comment(large_plan(), EnvelopeSettings())[0])
    assert len(opening.splitlines()) < 80


def test_untrusted_names_in_the_opening_block_are_escaped() -> None:
    d, o = account("x|y<b>`z", 100_000)
    html = GITHUB_LIKE.render(render_markdown(planned([(d, o)], results=[deny(d.name)])))
    assert "<b>" not in html
