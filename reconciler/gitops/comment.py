"""One sticky plan comment per pull request, and one drift issue per repository, kept up to date in place.

Both are found by a hidden HTML marker on their first line, never by author: the same code works with the
Actions token (github-actions[bot]) and with a person's token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from reconciler.core.drift import StatusReport
from reconciler.errors import ReconcilerError
from reconciler.gitops.github import GitHub
from reconciler.render.markdown import MARKER

PART = re.compile(r"<!-- reconciler:plan part=(\d+)/(\d+) -->")
DRIFT_MARKER = "<!-- reconciler:drift -->"
DRIFT_LABEL = "reconciler-drift"


@dataclass
class StickyResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: int = 0

    def describe(self) -> str:
        said = [f"{len(v)} {k}" for k, v in (("created", self.created), ("updated", self.updated),
                                               ("unchanged", self.unchanged)) if v]
        if self.deleted:
            said.append(f"{self.deleted} left over deleted")
        return ", ".join(said) or "nothing to do"


def part_of(body: str) -> int | None:
    """The part number of one of our comments (1 for a single comment), or None for anyone else's."""
    first = body.split("\n", 1)[0].strip()
    if first == MARKER:
        return 1
    found = PART.fullmatch(first)
    return int(found.group(1)) if found else None


def upsert_sticky(gh: GitHub, number: int, bodies: list[str]) -> StickyResult:
    """Make the pull request's plan comments equal `bodies`: update in place, create what is missing, delete extras."""
    mine: dict[int, dict[str, Any]] = {}
    extras: list[dict[str, Any]] = []
    for c in sorted(gh.list_comments(number), key=lambda c: int(c["id"])):
        k = part_of(str(c.get("body") or ""))
        if k is None:
            continue
        if k in mine:  # two runs raced and both created: keep the oldest
            extras.append(c)
        else:
            mine[k] = c
    result = StickyResult()
    for k, body in enumerate(bodies, start=1):
        existing = mine.pop(k, None)
        if existing is None:
            result.created.append(str(gh.create_comment(number, body).get("html_url", "")))
        elif existing.get("body") != body:
            result.updated.append(str(gh.update_comment(int(existing["id"]), body).get("html_url", "")))
        else:
            result.unchanged.append(str(existing.get("html_url", "")))
    for c in [*mine.values(), *extras]:  # the plan got shorter: fewer parts than last time
        gh.delete_comment(int(c["id"]))
        result.deleted += 1
    return result


# ---- the drift issue ----

def read_status(doc: object, where: str) -> list[dict[str, Any]]:
    """The portfolios of a `reconciler status --format json` document, checked against the model that wrote it."""
    try:
        report = StatusReport.model_validate(doc)
    except ValidationError:
        raise ReconcilerError(
            "not a status file", where=where, fix="pass the output of `reconciler status --format json`"
        ) from None
    return [row.model_dump(mode="json") for row in report.portfolios]


@dataclass(frozen=True)
class DriftOutcome:
    action: str  # opened | updated | closed | none
    number: int | None = None
    url: str = ""

    def describe(self) -> str:
        if self.action == "none":
            return "no drift issue needed"
        return f"drift issue #{self.number} {self.action}" + (f": {self.url}" if self.url else "")


def sync_drift_issue(
    gh: GitHub, rows: list[dict[str, Any]], body: str, *, label: str = DRIFT_LABEL, now: datetime
) -> DriftOutcome:
    """Open or update one issue while any portfolio is OutOfSync; close it once all are back in sync."""
    open_issues = [i for i in gh.list_issues(label=label) if str(i.get("body") or "").startswith(DRIFT_MARKER)]
    issue = min(open_issues, key=lambda i: int(i["number"])) if open_issues else None
    out_of_sync = [r for r in rows if r["status"] == "OutOfSync"]
    unknown = [r for r in rows if r["status"] == "Unknown"]
    if out_of_sync:
        title = f"reconciler: {len(out_of_sync)} portfolio(s) out of sync with their targets"
        if issue is None:
            made = gh.create_issue(title, body, [label])
            return DriftOutcome("opened", int(made["number"]), str(made.get("html_url", "")))
        if issue.get("body") != body or issue.get("title") != title:
            gh.update_issue(int(issue["number"]), title=title, body=body)
        return DriftOutcome("updated", int(issue["number"]), str(issue.get("html_url", "")))
    if issue is None or unknown:  # nothing open, or some accounts could not be observed: cannot say "in sync"
        return DriftOutcome("none")
    stamp = now.strftime("%Y-%m-%d %H:%M UTC")
    rest = body.removeprefix(DRIFT_MARKER + "\n")
    closed_body = f"{DRIFT_MARKER}\n**Every portfolio is back in sync with its targets** ({stamp}).\n\n{rest}"
    gh.update_issue(int(issue["number"]), body=closed_body, state="closed", state_reason="completed")
    return DriftOutcome("closed", int(issue["number"]), str(issue.get("html_url", "")))
