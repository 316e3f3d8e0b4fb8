"""Text that is not ours shows as typed wherever it lands, and a plan cut to --max-comments keeps its footer.

The comments are rendered by markdown-it-py (a CommonMark renderer, with GitHub's tables and strikethrough),
so the tests see what a reader sees: inside `<details><summary>` (an HTML block) no markdown is rendered, so a
markdown escape there would show as a backslash.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

from reconciler.core.models import Holding, Plan, PolicyResult
from reconciler.gitops.comment import part_of
from reconciler.render.dots import dot_plot
from reconciler.render.markdown import (
    blocks,
    code_span,
    md_escape,
    render_drift_issue,
    render_markdown,
    size,
    split_comment,
)
from tests.gitops.test_comment_render import big_plan

GITHUB_LIKE = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
HOSTILE = "bob_x<script>alert(1)</script></summary></details>"
# Any text on one line: letters, digits, punctuation, symbols, spaces (no control characters).
ONE_LINE = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40)


def named(name: str, message: str = "turnover is fine") -> Plan:
    """A plan of two changed portfolios, the first called `name` with one policy warning carrying
    `message`."""
    plan = big_plan(2, 3)
    first = plan.portfolios[0].model_copy(update={"name": name})
    result = PolicyResult(
        policy="max_turnover", kind="warn", level="advisory", portfolio=name, message=message
    )
    return plan.model_copy(update={"portfolios": [first, *plan.portfolios[1:]], "policy_results": [result]})


def summary_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("<details><summary>")]


# ---- where each text lands ----

def test_a_name_in_a_details_summary_shows_as_typed() -> None:
    text = render_markdown(named("bob_x"))
    first = summary_lines(text)[0]
    assert first.startswith("<details><summary>Details of bob_x: prices, commissions")
    assert "\\" not in first
    html = GITHUB_LIKE.render(text)
    assert "<summary>Details of bob_x: prices" in html
    assert "<h3>bob_x · acct-0000 · 3 order(s)</h3>" in html  # markdown context: escaped, and shown as typed


def test_html_in_a_details_summary_is_escaped_and_cannot_close_it() -> None:
    text = render_markdown(named(HOSTILE))
    first = summary_lines(text)[0]
    assert first.startswith(
        "<details><summary>Details of"
        " bob_x&lt;script&gt;alert(1)&lt;/script&gt;&lt;/summary&gt;&lt;/details&gt;:"
    )
    html = GITHUB_LIKE.render(text)  # a code span may hold "<script>": it shows as typed
    assert "<script" not in html
    assert html.count("<details>") == 2
    assert html.count("</details>") == 2
    assert html.count("</summary>") == 2


def test_markdown_text_cannot_link_format_or_leave_its_block() -> None:
    message = (
        "see [the fix](https://evil.example) ![x](https://evil.example/p.png) <img src=x onerror=alert(1)>"
        " ~~gone~~ &lt;b&gt;\n\n</details>\n\n# Approved\n"
    )
    text = render_markdown(named("bob_x", message))
    html = GITHUB_LIKE.render(text)
    assert "<a " not in html
    assert "<img" not in html
    assert "<del>" not in html
    assert "<h1>" not in html
    assert html.count("</details>") == 2
    assert "see [the fix](https://evil.example)" in html  # shown as typed, on one line
    assert "&amp;lt;b&amp;gt;" in html  # an entity shows as typed, not as the character


def test_a_table_cell_keeps_its_row() -> None:
    doc: dict[str, Any] = {
        "generated_at": "2031-03-04T05:06:00+00:00", "git_commit": "c" * 40,
        "portfolios": [{
            "portfolio": "bob_x<b>", "account": "acct|1", "status": "OutOfSync", "max_drift": "0.1",
            "orders": 1,
            "message": "x | y\n| injected | row | | | |\n[link](https://evil.example)",
            "rows": [{"symbol": "VT|I", "weight": "0.6", "target": "0.5", "drift": "0.1", "band": "0.05",
                      "outside": True}],
        }],
    }
    text = render_drift_issue(doc)
    html = GITHUB_LIKE.render(text)
    assert html.count("<tr>") == 4  # the two headers, the portfolio and the symbol: no injected row
    assert "<td>acct|1</td>" in html
    assert "<td>VT|I</td>" in html
    assert "<a " not in html
    assert "<summary><b>bob_x&lt;b&gt;</b>: 1 line(s) outside their bands</summary>" in text
    assert "<td>bob_x&lt;b&gt;</td>" in html


def test_names_in_code_spans_show_as_typed() -> None:
    plan = named("bob_x")
    note = "$5.00 of unsettled cash is not spent until it settles"
    quiet = plan.portfolios[1].model_copy(update={"name": "carol_y", "actions": [], "notes": [note]})
    plan = plan.model_copy(update={
        "portfolios": [plan.portfolios[0], quiet], "base_ref": "feature_`x`", "base_commit": "b" * 40,
    })
    html = GITHUB_LIKE.render(render_markdown(plan))
    assert "<li><code>carol_y</code>: $5.00 of unsettled cash is not spent until it settles</li>" in html
    assert "<code>feature_`x`</code>" in html
    assert "<code>max_turnover</code>" in html


def test_a_name_cannot_break_the_chart() -> None:
    text = render_markdown(named('a"b`c<d>\n```'))
    chart = text.split("```text\n", 1)[1].split("\n```\n", 1)[0]
    assert "a\"b" not in chart  # the chart holds symbols and numbers, never the portfolio's name


def test_a_symbol_cannot_break_the_chart() -> None:
    half = Decimal("0.5")
    held = Holding(symbol="X`<\n", price=Decimal(1), quantity_before=Decimal(1), quantity_after=Decimal(1),
                   weight_before=half, weight_target=half, weight_after=half, band=Decimal("0.05"))
    pp = named("p").portfolios[0].model_copy(update={"holdings": [held]})
    assert dot_plot(pp).splitlines()[1].startswith("X???  ")


@given(ONE_LINE)
def test_md_escape_shows_any_text_as_typed(text: str) -> None:
    assert GITHUB_LIKE.renderInline(md_escape(text)) == escapeHtml(text)


@given(ONE_LINE)
def test_a_code_span_shows_any_text_as_typed(text: str) -> None:
    assert GITHUB_LIKE.renderInline(code_span(text)) == f"<code>{escapeHtml(text)}</code>"


def test_line_breaks_become_spaces() -> None:
    assert md_escape("a\r\nb\nc\rd") == "a b c d"
    assert code_span("a\nb") == "`a b`"


# ---- --max-comments ----

def headings(parts: list[str]) -> list[str]:
    return [h for p in parts for h in re.findall(r"^### (portfolio-\d+)", p, re.M)]


def test_max_comments_keeps_the_footer_and_numbers_the_comments_posted() -> None:
    plan = big_plan(60, 25).model_copy(update={
        "git_commit": "c" * 40, "base_ref": "origin/main", "base_commit": "b" * 40,
    })
    made = blocks(plan)
    footer = made[-1]
    assert footer.startswith("<sub>plan `")
    parts = split_comment(made, max_parts=2)
    assert len(parts) == 2
    assert parts[-1].endswith(footer)
    assert footer not in parts[0]
    assert all(size(p) <= 65536 for p in parts)
    assert [part_of(p) for p in parts] == [1, 2]
    assert [re.findall(r"part=(\d+/\d+)", p) for p in parts] == [["1/2"], ["2/2"]]
    assert "Continued in the next comment (part 2 of 2)" in parts[0]
    assert "continued, part 2 of 2" in parts[1]
    shown = headings(parts)
    left_out = re.search(r"\*(\d+) more section\(s\) do not fit in 2 comments", parts[-1])
    assert left_out is not None
    assert len(shown) + int(left_out.group(1)) == 60


def test_one_comment_only_still_ends_with_the_footer() -> None:
    made = blocks(big_plan(60, 25))
    (only,) = split_comment(made, max_parts=1)
    assert only.startswith("<!-- reconciler:plan part=1/1 -->\n## reconciler plan\n")
    assert only.endswith(made[-1])
    assert "do not fit in 1 comment and" in only
    assert size(only) <= 65536


def test_without_a_cut_the_footer_ends_the_last_comment_once() -> None:
    made = blocks(big_plan(60, 25))
    parts = split_comment(made)
    assert parts[-1].endswith(made[-1])
    assert sum(p.count("<sub>plan `") for p in parts) == 1
    assert headings(parts) == [f"portfolio-{i:04d}" for i in range(60)]
    assert "do not fit" not in parts[-1]


@given(
    portfolios=st.integers(1, 6), holdings=st.integers(1, 30), max_parts=st.integers(1, 4),
    limit=st.integers(4000, 12000),
)
def test_split_invariants(portfolios: int, holdings: int, max_parts: int, limit: int) -> None:
    """Any plan, any limit: each comment fits, parts are numbered 1..N of the N posted, the footer ends the
    last, and every portfolio section is shown, in order, or counted as left out."""
    made = blocks(big_plan(portfolios, holdings))
    assume(size(made[0]) + size(made[-1]) < limit - 700)  # the summary fits in the first comment
    parts = split_comment(made, limit=limit, max_parts=max_parts)
    n = len(parts)
    assert 1 <= n <= max_parts
    assert all(size(p) <= limit for p in parts)
    assert parts[-1].endswith(made[-1])
    assert [part_of(p) for p in parts] == list(range(1, n + 1))
    if n > 1:
        assert all(p.startswith(f"<!-- reconciler:plan part={k}/{n} -->\n") for k, p in enumerate(parts, 1))
    shown = headings(parts)
    assert shown == [f"portfolio-{i:04d}" for i in range(len(shown))]
    note = re.search(r"\*(\d+) more section\(s\) do not fit in \d+ comments?( \(the first of them only in"
                     r" part\))?",
                     parts[-1])
    if note is None:
        assert len(shown) == portfolios
    else:
        assert int(note.group(1)) == portfolios - len(shown) + (1 if note.group(2) else 0)
