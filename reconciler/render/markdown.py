"""The pull-request comment body, rendered from jinja2 templates shipped in the package.

The comment is a list of blocks (the summary, one per changed portfolio, a footer), each from its own template,
so that a comment past GitHub's size limit can be split between blocks while the summary stays first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from reconciler.core.envelope import Bound, EnvelopeCheck, envelope_of
from reconciler.core.models import Plan, PolicyResult, PortfolioPlan
from reconciler.core.numbers import ZERO
from reconciler.core.rules import EnvelopeSettings
from reconciler.render.fmt import money, pct, qty

MARKER = "<!-- reconciler:plan -->"
COMMENT_LIMIT = 65536  # GitHub's maximum comment body, in characters
SUMMARY_ROWS = 50  # rows of each summary table before "… and N more"
CHART_SYMBOLS = 20  # bars per chart before the rest is grouped as "other"


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("reconciler.render", "templates"),
        undefined=StrictUndefined,
        autoescape=False,  # markdown, not HTML; symbols and messages are escaped with the md filter
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(money=money, pct=pct, qty=qty, md=_md_escape, pp=_points, weight=_weight)
    return env


def _md_escape(value: object) -> str:
    text = str(value)
    for ch in ("\\", "|", "*", "_", "`", "<", ">", "[", "]"):
        text = text.replace(ch, "\\" + ch)
    return text


def _weight(d: Decimal | None) -> str:
    return "—" if d is None else pct(d)


def _points(d: Decimal) -> str:
    """A weight difference in percentage points, signed."""
    return f"{d * 100:+.2f} pp"


@dataclass(frozen=True)
class Summary:
    """The numbers the comment opens with."""

    changed: list[PortfolioPlan]
    orders: int
    buys: int
    buy_notional: Decimal
    sell_notional: Decimal
    commissions: Decimal
    turnover: Decimal
    denies: list[PolicyResult]
    warns: list[PolicyResult]

    @classmethod
    def of(cls, plan: Plan) -> Summary:
        changed = [p for p in plan.portfolios if p.actions]
        actions = [a for p in plan.portfolios for a in p.actions]
        equity = sum((p.equity for p in changed), ZERO)
        buy = sum((p.buy_notional for p in plan.portfolios), ZERO)
        sell = sum((p.sell_notional for p in plan.portfolios), ZERO)
        return cls(
            changed=changed,
            orders=len(actions),
            buys=sum(1 for a in actions if a.side == "buy"),
            buy_notional=buy,
            sell_notional=sell,
            commissions=sum((a.est_commission for a in actions), ZERO),
            turnover=(buy + sell) / equity if equity > 0 else ZERO,
            denies=[r for r in plan.policy_results if r.kind == "deny"],
            warns=[r for r in plan.policy_results if r.kind == "warn"],
        )


def chart(pp: PortfolioPlan, top: int = CHART_SYMBOLS) -> dict[str, Any]:
    """Data of the mermaid bar chart: weight now (bars) and target (line), in percent."""
    rows = sorted(pp.holdings, key=lambda h: (-max(h.weight_before, h.weight_target), h.symbol))
    shown, rest = rows[:top], rows[top:]
    labels = [h.symbol for h in shown]
    now = [h.weight_before for h in shown]
    target = [h.weight_target for h in shown]
    if rest:
        labels.append("other")
        now.append(sum((h.weight_before for h in rest), ZERO))
        target.append(sum((h.weight_target for h in rest), ZERO))
    labels.append("cash")
    now.append(pp.cash_weight_before)
    target.append(pp.cash_weight_target)
    peak = max([*now, *target, Decimal("0.01")]) * 100
    return {
        "labels": ", ".join(f'"{label}"' for label in labels),
        "now": ", ".join(f"{w * 100:.2f}" for w in now),
        "target": ", ".join(f"{w * 100:.2f}" for w in target),
        "ymax": min(100, max(10, math.ceil(float(peak) / 10) * 10)),
    }


def _context(plan: Plan, envelope: EnvelopeSettings | None) -> dict[str, Any]:
    bounds: dict[tuple[str, str], Bound] = {}
    if envelope is not None:
        bounds = {(b.portfolio, b.symbol): b for b in envelope_of(plan, envelope)}
    return {
        "plan": plan,
        "summary": Summary.of(plan),
        "envelope": envelope,
        "bounds": bounds,
        "limit": SUMMARY_ROWS,
    }


def blocks(plan: Plan, envelope: EnvelopeSettings | None = None) -> list[str]:
    """The comment as blocks: summary (starting with the sticky marker), one per changed portfolio, footer."""
    env = environment()
    ctx = _context(plan, envelope)
    out = [env.get_template("summary.md.j2").render(ctx)]
    portfolio = env.get_template("portfolio.md.j2")
    for p in ctx["summary"].changed:
        results = [r for r in plan.policy_results if r.portfolio == p.name]
        out.append(portfolio.render(ctx, p=p, chart=chart(p), results=results))
    out.append(env.get_template("footer.md.j2").render(ctx))
    return out


def render_markdown(plan: Plan, envelope: EnvelopeSettings | None = None) -> str:
    """The whole comment in one piece (what `plan --format markdown` prints)."""
    return "".join(blocks(plan, envelope))


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
    return f"<!-- reconciler:plan part={k}/{n} -->"


def split_comment(parts_in: list[str], limit: int = COMMENT_LIMIT, max_parts: int = 10) -> list[str]:
    """Bodies of at most `limit`, each opening with a marker; the first keeps the summary (the first block).

    Blocks are kept whole when they fit; a block larger than a comment is cut between lines, repeating the
    table header and reopening a <details> it was cut inside. Past `max_parts` the rest is left out with a note.
    """
    whole = "".join(parts_in)
    if size(whole) <= limit:
        return [whole]
    budget = limit - 600  # room for the markers, the continuation header and trailer
    summary = parts_in[0].removeprefix(MARKER + "\n")
    pieces: list[str] = []
    for block in [summary, *parts_in[1:]]:
        pieces += [block] if size(block) <= budget else _cut(block, budget)
    chunks: list[list[str]] = [[]]
    used = 0
    for piece in pieces:
        n = size(piece)
        if chunks[-1] and used + n > budget:
            chunks.append([])
            used = 0
        chunks[-1].append(piece)
        used += n
    dropped = 0
    if len(chunks) > max_parts:
        dropped = sum(len(c) for c in chunks[max_parts:])
        chunks = chunks[:max_parts]
    total = len(chunks)
    bodies = []
    for k, chunk in enumerate(chunks, start=1):
        head = part_marker(k, total) + "\n"
        if k > 1:
            head += f"## reconciler plan (continued, part {k} of {total})\n\n"
        tail = ""
        if k < total:
            tail = f"\n---\n*Continued in the next comment (part {k + 1} of {total}).*\n"
        elif dropped:
            tail = (
                f"\n---\n*{dropped} more section(s) do not fit in {max_parts} comments and are left out;"
                " the full plan is in the plan file (the workflow's `reconciler-plan` artifact).*\n"
            )
        bodies.append(head + "".join(chunk) + tail)
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
