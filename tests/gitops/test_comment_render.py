"""The plan comment: summary first, a table and a chart per portfolio, details folded, split past GitHub's
limit."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

from reconciler.core.models import CostModel, Plan, PolicyResult
from reconciler.core.plan import seal
from reconciler.core.planner import plan_many
from reconciler.core.rules import EnvelopeSettings, Trading
from reconciler.gitops.comment import part_of, upsert_sticky
from reconciler.gitops.github import GitHub, GitHubSettings
from reconciler.render.markdown import COMMENT_LIMIT, MARKER, blocks, render_markdown, size, split_comment
from tests.builders import desired, observation, planned
from tests.gitops.fake_github import FakeGitHub

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def big_plan(portfolios: int, holdings: int) -> Plan:
    """Every portfolio holds only cash, so every holding gets a buy: the largest comment per holding."""
    symbols = [f"S{i:04d}" for i in range(holdings)]
    weight = Decimal(1) / holdings
    weights = {s: weight.quantize(Decimal("0.000001")) for s in symbols}
    weights[symbols[0]] += 1 - sum(weights.values())
    pairs = []
    for p in range(portfolios):
        target = desired(weights, name=f"portfolio-{p:04d}", account=f"acct-{p:04d}",
                         trading=Trading(fractional=True))
        obs = observation(
            {s: "10.00" for s in symbols}, settled=1_000_000, account=target.account, taken_at=NOW
        )
        pairs.append((target, obs))
    pps = plan_many(pairs, CostModel())
    results = [
        PolicyResult(policy="max_turnover", kind="warn", level="soft-mandatory", portfolio=pp.name,
                     message="turnover 100.0% is above half the maximum")
        for pp in pps
    ]
    return seal(pps, created_at=NOW, targets_hash="t" * 64, accounts=[d.account for d, _ in pairs],
                policy_results=results)


def test_summary_comes_first_then_a_table_chart_and_details_per_portfolio() -> None:
    plan = big_plan(2, 4)
    text = render_markdown(plan, EnvelopeSettings())
    assert text.startswith(MARKER + "\n## reconciler plan\n")
    summary_end = text.index("### portfolio-0000")
    summary = text[:summary_end]
    for needed in ("**Merging places 8 orders in 2 portfolios ($2,000,000.00 traded).**",
                   "| bought | sold | est. commissions | est. taxes |", "**Shown, not blocking:**",
                   "soft-mandatory",
                   "*envelope* approved here"):
        assert needed in summary, needed
    section = text[summary_end:]
    assert "| 🟢 buy |" in section
    assert "envelope |" in section
    chart = r"```text\n +0%.*\nS0000 .*\ncash .*\n○ now   ● after the orders   ┃ target   \[───\] band\n```"
    assert re.search(chart, section, re.S)
    assert section.count("<details>") == section.count("</details>") == 2


def test_markdown_escapes_what_it_prints() -> None:
    plan = big_plan(1, 2)
    evil = plan.model_copy(update={"policy_results": [
        PolicyResult(policy="p", kind="deny", level="advisory", portfolio="portfolio-0000",
                     message="a | b <script> `x`"),
    ]})
    text = render_markdown(evil)
    assert "a \\| b \\<script\\> \\`x\\`" in text
    assert "<script>" not in text


def test_a_small_plan_is_one_comment() -> None:
    parts = split_comment(blocks(big_plan(3, 5)))
    assert len(parts) == 1
    assert parts[0].startswith(MARKER)


def test_a_large_plan_is_split_keeping_the_summary_first() -> None:
    plan = big_plan(60, 25)
    whole = render_markdown(plan)
    assert size(whole) > COMMENT_LIMIT
    parts = split_comment(blocks(plan))
    n = len(parts)
    assert n > 1
    assert all(size(p) <= COMMENT_LIMIT for p in parts)
    assert [part_of(p) for p in parts] == list(range(1, n + 1))
    assert parts[0].startswith(f"<!-- reconciler:plan part=1/{n} -->\n## reconciler plan\n")
    assert "**Merging places 1,500 orders in 60 portfolios" in parts[0]
    assert all(f"continued, part {k} of {n}" in parts[k - 1] for k in range(2, n + 1))
    assert all(f"Continued in the next comment (part {k + 1} of {n})" in parts[k - 1] for k in range(1, n))
    # Nothing lost: every portfolio section is in exactly one part, in order.
    headings = [h for p in parts for h in re.findall(r"^### (portfolio-\d+)", p, re.M)]
    assert headings == [f"portfolio-{i:04d}" for i in range(60)]


def test_one_huge_portfolio_is_cut_between_lines_with_headers_repeated() -> None:
    plan = big_plan(1, 1500)
    parts = split_comment(blocks(plan))
    assert len(parts) > 1
    assert all(size(p) <= COMMENT_LIMIT for p in parts)
    for p in parts:
        assert p.count("<details>") == p.count("</details>")  # a cut inside <details> closes and reopens it
        lines = p.splitlines()
        for i, line in enumerate(lines):  # every table row is under a header in the same comment
            if line.startswith("| ") and not line.startswith("|---"):
                j = i
                while j > 0 and lines[j - 1].startswith("|"):
                    j -= 1
                assert j + 1 < len(lines), (i, line)
                assert lines[j + 1].startswith("|---"), (i, line)
    rows = sum(len(re.findall(r"^\| 🟢 buy \|", p, re.M)) for p in parts)
    assert rows == 1500


def test_too_many_parts_are_capped_with_a_note() -> None:
    parts = split_comment(blocks(big_plan(60, 25)), max_parts=2)
    assert len(parts) == 2
    assert "do not fit in 2 comments" in parts[-1]
    assert "artifact" in parts[-1]


def test_split_comments_post_to_github_within_its_limit(github: FakeGitHub) -> None:
    parts = split_comment(blocks(big_plan(60, 25)))
    github.add_pull(9)
    with GitHub(GitHubSettings(api_url=github.url, repo=github.repo, token=github.token)) as gh:
        result = upsert_sticky(gh, 9, parts)
    assert len(result.created) == len(parts) == len(github.ours(9))  # the fake refuses bodies over 65,536


def test_results_of_portfolios_without_orders_are_grouped_and_their_sections_posted() -> None:
    """Reproduced: "… and N more, listed under each portfolio below" while those portfolios had no orders, so
    no section below listed them. Results are grouped by policy, and a portfolio a policy names has a
    section."""
    pairs = [
        (desired({"VTI": 1}, name=f"idle-{i:03d}", account=f"acct-{i:03d}"),
         observation({"VTI": "100"}, {"VTI": "10"}, account=f"acct-{i:03d}"))
        for i in range(60)
    ]
    quiet = [
        PolicyResult(policy="stale_target", kind="warn", level="advisory", portfolio=d.name, message="old")
        for d, _ in pairs
    ]
    text = render_markdown(planned(pairs, results=quiet))
    assert (
        "- :warning: `stale_target` · advisory warning · **60 portfolio(s)** (`idle-000`, `idle-001`,"
        " `idle-002` and 57 more: 57 in their sections below), e.g. old" in text
    )
    assert len(re.findall(r"^### idle-\d+ · ", text, re.M)) == 60
