"""Apply on merge for a sequence of merges: the commits since the last applied one, each with its reviewed
plan.

The folder comes from `reconciler github reviewed-plans`; the sequence itself is computed here again from the
journal and git, so a commit the folder does not list counts as one without a reviewed plan (docs/gitops.md).
"""

from __future__ import annotations

from pathlib import Path

from reconciler.core.sequence import Landed
from reconciler.execution.judge import read_judged_plan
from reconciler.execution.services import Services
from reconciler.gitops.sequence import changed_portfolios, read_manifest, unapplied


def landed_since_applied(rt: Services, folder: Path, tip: str) -> list[Landed]:
    """The first-parent commits after the last commit applied in full, up to `tip`, with their reviewed
    plans."""
    manifest = read_manifest(folder)
    _, _, commits = unapplied(rt.journal, rt.workspace.root, tip)
    by_commit = {e.commit: e for e in manifest.commits}
    out = []
    for commit in commits:
        changed = changed_portfolios(rt.workspace.config_path, commit)
        entry = by_commit.get(commit)
        if entry is None:
            out.append(Landed(commit, changed, why="the reviewed-plans folder does not list it"))
        elif entry.plan is None:
            out.append(Landed(commit, changed, None, entry.pr, entry.why))
        else:
            out.append(Landed(commit, changed, read_judged_plan(folder / entry.plan, rt), entry.pr))
    return out
