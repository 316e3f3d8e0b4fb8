"""The pull-request comment body, rendered from jinja2 templates shipped in the package.

The comment is a list of blocks (the summary, one per changed portfolio, a footer), each from its own
template, so that a comment past GitHub's size limit can be split between blocks while the summary stays
first.

Text that is not ours (names, symbols, policy messages, refs) is escaped for where it lands, on one line:
- `md`: markdown text (paragraphs, headings, list items, table cells): markdown's punctuation and the table's
  pipe are backslash-escaped, so it can neither format, link, open HTML nor end a table cell;
- `html`: inside an HTML block such as `<details><summary>…</summary>`, where GitHub renders no markdown (a
  backslash there would show): HTML-escaped, so it cannot add a tag or close the <details>;
- `code`: a code span, fenced with more backticks than the text holds (backslashes show in code; not for table
  cells, where GitHub reads a pipe as the cell's end even in code).

The chart is plain text in a code block (render.dots): its labels are symbols cut to a few safe characters.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from reconciler.core import attribution
from reconciler.core.attribution import Cause
from reconciler.core.changes import PolicyFileChange, SettingChange, WhatIfReport
from reconciler.core.envelope import Bound, EnvelopeCheck, envelope_of
from reconciler.core.models import Plan
from reconciler.core.rules import EnvelopeSettings
from reconciler.render.decision import DECISION_ROWS, GROUP_NAMES, NOTE_ROWS, decide, verdict
from reconciler.render.dots import dot_plot
from reconciler.render.fmt import money, pct, points, qty
from reconciler.render.taxes import plan_taxes, tax_lines
from reconciler.render.whatif import chart, dollars, headline, legend, rows

MARKER = "<!-- reconciler:plan -->"
COMMENT_LIMIT = 65536  # GitHub's maximum comment body, in characters
SUMMARY_ROWS = 50  # rows of each summary table before "… and N more"


@functools.cache
def environment() -> Environment:
    """One environment per process: Jinja caches each compiled template in it, and compiling is most of the
    cost of rendering (a fresh environment per comment compiled every template again)."""
    env = Environment(
        loader=PackageLoader("reconciler.render", "templates"),
        undefined=StrictUndefined,
        autoescape=False,  # markdown, not HTML: each value is escaped for where it lands (see above)
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        money=money, pct=pct, qty=qty, md=md_escape, html=html_escape, code=code_span,
        pp=points, weight=_weight, count="{:,}".format, tax_lines=tax_lines, plan_taxes=plan_taxes,
    )
    return env


_LINE_BREAKS = re.compile(r"\r\n?|\n")
_MD_SPECIAL = re.compile(r"([\\|*_`<>\[\]~&])")
_BACKTICKS = re.compile(r"`+")


def _one_line(value: object) -> str:
    """A line break would end a table row, or start a block (a heading, `</details>`) of the text's
    choosing."""
    return _LINE_BREAKS.sub(" ", str(value))


def md_escape(value: object) -> str:
    """Text for markdown: formatting, links, HTML, entities and a table cell's pipe all shown as typed."""
    return _MD_SPECIAL.sub(r"\\\1", _one_line(value))


def html_escape(value: object) -> str:
    """Text inside an HTML block (`<summary>`): GitHub renders no markdown there, so HTML escapes, not
    markdown's."""
    return html.escape(_one_line(value), quote=True)


def code_span(value: object) -> str:
    """A whole code span showing the text as typed: fenced by one backtick more than its longest run of
    them."""
    text = _one_line(value) or " "
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    if text.strip(" ") and (text[0] in "` " or text[-1] in "` "):
        # markdown strips one space each side (not of spaces only): a backtick may start or end
        text = f" {text} "
    return f"{fence}{text}{fence}"


def _weight(d: Decimal | None) -> str:
    return "—" if d is None else pct(d)


@dataclass(frozen=True)
class Proposal:
    """What the comment says besides the plan: the settings and policy files the pull request changes,
    overrides refused, why each portfolio trades (core.attribution; without it, the plan's own target
    changes), and what the new targets would have done against the old (backtest.whatif; None: no section)."""

    settings: Sequence[SettingChange] = ()
    policy_files: Sequence[PolicyFileChange] = ()
    refused_overrides: Sequence[str] = ()
    causes: Mapping[str, Cause] | None = None
    what_if: WhatIfReport | None = None


NO_PROPOSAL = Proposal()


def blocks(
    plan: Plan, envelope: EnvelopeSettings | None = None, proposal: Proposal = NO_PROPOSAL,
    posted: Collection[str] | None = None,
) -> list[str]:
    """The comment as blocks: the decision (starting with the sticky marker, then the settings and policy
    files the pull request changes, the target changes), one per portfolio worth a section (worst and largest
    first), footer. `posted`: the portfolios whose sections are posted, which the opening block may point to
    (all by default)."""
    env = environment()
    bounds: dict[tuple[str, str], Bound] = {}
    if envelope is not None:
        bounds = {(b.portfolio, b.symbol): b for b in envelope_of(plan, envelope)}
    causes = proposal.causes if proposal.causes is not None else attribution.causes(plan, None)
    decision = decide(plan, envelope, causes, posted)
    ctx = {
        "plan": plan, "envelope": envelope, "bounds": bounds, "decision": decision,
        "verdict": verdict(decision),
        "limit": SUMMARY_ROWS, "decision_rows": DECISION_ROWS, "group_names": GROUP_NAMES,
        "note_rows": NOTE_ROWS,
        "setting_changes": list(proposal.settings), "policy_file_changes": list(proposal.policy_files),
        "refused_overrides": list(proposal.refused_overrides),
    }
    out = [env.get_template("summary.md.j2").render(ctx)]
    portfolio = env.get_template("portfolio.md.j2")
    for r in decision.sections:
        holding = {h.symbol: h for h in r.pp.holdings}
        out.append(portfolio.render(ctx, r=r, chart=dot_plot(r.pp), holding=holding))
    if proposal.what_if is not None:
        out += what_if_blocks(proposal.what_if)
    out.append(env.get_template("footer.md.j2").render(ctx))
    return out


def what_if_blocks(report: WhatIfReport) -> list[str]:
    """The what-if section as blocks, one per portfolio (each a folded <details>, or a line saying why it did
    not run), after the portfolios' own: past GitHub's limit, the splitter leaves them out first."""
    notes = [f"- :information_source: What if: {md_escape(report.note)}\n\n"] if report.note else []
    if report.left_out:
        notes.append(
            f"- :information_source: What if: {len(report.left_out)} more portfolio(s) not backtested"
            f" (what\\_if.max\\_portfolios): {md_escape(', '.join(report.left_out))}\n\n"
        )
    template = environment().get_template("whatif.md.j2")
    made = [
        template.render(
            report=report, r=r, rows=rows(r.sides), chart=chart(report, r), legend=legend(r),
            headline=headline(r) if r.sides else "", cash=dollars(report.cash),
        )
        for r in report.portfolios
    ]
    return made + notes


def render_markdown(
    plan: Plan, envelope: EnvelopeSettings | None = None, proposal: Proposal = NO_PROPOSAL
) -> str:
    """The whole comment in one piece (what `plan --format markdown` prints)."""
    return "".join(blocks(plan, envelope, proposal))


def plan_comment(
    plan: Plan, envelope: EnvelopeSettings | None = None, proposal: Proposal = NO_PROPOSAL, *,
    limit: int = COMMENT_LIMIT, max_parts: int = 10,
) -> list[str]:
    """The comment's bodies, split past GitHub's limit, whose opening block points only to sections that are
    posted.

    Which sections fit in `max_parts` comments depends on the opening block's size, which depends on what it
    points to: render, split, and render again pointing only to what was posted, until everything it points to
    is posted (pointing to nothing is always true, and ends the search)."""
    claimed: set[str] | None = None
    for _ in range(4):
        made = blocks(plan, envelope, proposal, claimed)
        bodies = split_comment(made, limit, max_parts)
        posted = _posted(plan, bodies)
        if claimed is not None and claimed <= posted:
            return bodies
        if claimed is None and len(bodies) < max_parts and "do not fit" not in bodies[-1]:
            return bodies  # nothing left out: every section is posted
        claimed = posted if claimed is None else claimed & posted
    return split_comment(blocks(plan, envelope, proposal, set()), limit, max_parts)


def _posted(plan: Plan, bodies: list[str]) -> set[str]:
    """The portfolios whose section heading opens a line of one of the bodies."""
    headings = [line for body in bodies for line in body.splitlines() if line.startswith("### ")]
    return {
        p.name for p in plan.portfolios
        if any(h.startswith(f"### {md_escape(p.name)} · {md_escape(p.account)} · ") for h in headings)
    }


def render_apply_summary(
    title: str,
    message: str,
    *,
    commit: str | None = None,
    plan: Plan | None = None,
    reviewed: Plan | None = None,
    check: EnvelopeCheck | None = None,
    band: Decimal | None = None,
    record: dict[str, Any] | None = None,
) -> str:
    """Markdown of an apply's outcome for the CI job summary ($GITHUB_STEP_SUMMARY)."""
    return environment().get_template("apply-summary.md.j2").render(
        title=title, message=message, commit=commit, plan=plan, reviewed=reviewed, check=check, band=band,
        record=record,
    )


def render_drift_issue(doc: dict[str, Any], run_url: str | None = None) -> str:
    """The drift issue body from a `reconciler status --format json` document."""
    rows = []
    for r in doc["portfolios"]:
        drifts = [
            {**d, **{k: Decimal(str(d[k])) for k in ("weight", "target", "drift", "band")}}
            for d in r.get("rows", []) if d.get("outside")
        ]
        rows.append({**r, "max_drift": Decimal(str(r.get("max_drift", "0"))), "outside_rows": drifts})
    return environment().get_template("drift-issue.md.j2").render(doc=doc, rows=rows, run_url=run_url)


# ---- splitting a comment past GitHub's limit ----

def size(text: str) -> int:
    """Length as GitHub may count it: UTF-16 code units, never fewer than characters (emoji count twice)."""
    return len(text.encode("utf-16-le")) // 2


def part_marker(k: int, n: int) -> str:
    """The hidden marker of one part of a split plan comment, so each part is found and updated."""
    return f"<!-- reconciler:plan part={k}/{n} -->"


def split_comment(parts_in: list[str], limit: int = COMMENT_LIMIT, max_parts: int = 10) -> list[str]:
    """Bodies of at most `limit`, each opening with a marker: the first keeps the summary (the first block),
    the last ends with the footer (the last block: which plan, which commit), also when sections are left out.

    Blocks are kept whole when they fit; a block larger than a comment is cut between lines, repeating the
    table header and reopening a <details> it was cut inside. Past `max_parts` the sections that do not fit
    are left out with a note; `part=K/N` and "part K of N" count the comments posted.
    """
    whole = "".join(parts_in)
    if size(whole) <= limit:
        return [whole]
    footer = parts_in[-1] if len(parts_in) > 1 else ""
    # Room in every comment for the markers, the continuation header, the note and the footer: whichever
    # comment ends up last can take the footer.
    budget = limit - 600 - size(footer)
    sections = [parts_in[0].removeprefix(MARKER + "\n"), *parts_in[1:-1]]
    pieces: list[tuple[int, str]] = []  # (section, text): a section cut in pieces has several
    for i, block in enumerate(sections):
        pieces += [(i, block)] if size(block) <= budget else [(i, cut) for cut in _cut(block, budget)]
    chunks: list[list[tuple[int, str]]] = [[]]
    used = 0
    for piece in pieces:
        n = size(piece[1])
        if chunks[-1] and used + n > budget:
            chunks.append([])
            used = 0
        chunks[-1].append(piece)
        used += n
    posted, left_out = chunks[:max_parts], [p for c in chunks[max_parts:] for p in c]
    total = len(posted)
    bodies = []
    for k, chunk in enumerate(posted, start=1):
        head = part_marker(k, total) + "\n"
        if k > 1:
            head += f"## reconciler plan (continued, part {k} of {total})\n\n"
        text = "".join(piece for _, piece in chunk)
        if k < total:
            bodies.append(f"{head}{text}\n---\n*Continued in the next comment (part {k + 1} of {total}).*\n")
            continue
        note = ""
        if left_out:
            dropped = {i for i, _ in left_out}
            partly = (
                " (the first of them only in part)" if dropped & {i for c in posted for i, _ in c} else ""
            )
            comments = f"{max_parts} comment" + ("s" if max_parts != 1 else "")
            note = (
                f"\n---\n*{len(dropped)} more section(s) do not fit in {comments}{partly} and are left out;"
                " the full plan is in the plan file (the workflow's `reconciler-plan` artifact).*\n\n"
            )
        bodies.append(head + text + note + footer)
    return bodies


def _cut(block: str, budget: int) -> list[str]:
    """Cut one oversized block between lines into pieces of at most `budget`."""
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    header: list[str] = []  # the header and separator of the table the cut lands in
    details: str | None = None  # the <details> line the cut lands in
    lines = block.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            header = [line, lines[i + 1]]
        elif not line.startswith("|"):
            header = []
        if line.startswith("<details>"):
            details = line
        n = size(line)
        if current and used + n > budget:
            reopen_details = details is not None
            if reopen_details:
                current.append("\n</details>\n")
            pieces.append("".join(current))
            current, used = [], 0
            if reopen_details and details is not None:
                current.append(details.replace("</summary>", " (continued)</summary>", 1) + "\n")
            if header and line.startswith("|") and not line.startswith("|---") and line not in header:
                current += header
            used = sum(size(x) for x in current)
        if n > budget:  # a single line longer than a comment: cut it hard
            line = line[: max(budget - used - 20, 0)] + " … (cut)\n"
            n = size(line)
        current.append(line)
        used += n
        if line.startswith("</details>"):
            details = None
    if current:
        pieces.append("".join(current))
    return pieces
