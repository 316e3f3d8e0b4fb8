"""A merge queue's batch before it merges, as `github merge-group` wrote its folder: each commit with what it
changed and the plan reviewed on its pull request (docs/gitops.md, "Merge queues"). Never an apply path: the
queue's job holds no credential, observes nothing and sends nothing, so its plans are read intact (read_plan),
not judged; apply on merge judges each one (merge_sequence.py).
"""

from __future__ import annotations

from pathlib import Path

from reconciler.core.sequence import Landed
from reconciler.execution.planfile import read_plan
from reconciler.gitops.refs import targets_at
from reconciler.gitops.sequence import changed_portfolios, read_manifest
from reconciler.workspace.loader import portfolio_hash


def landed_in_batch(config_path: Path, folder: Path) -> tuple[list[Landed], dict[str, str]]:
    """A merge queue's batch as the folder `github merge-group` wrote lists it, with the tip's portfolio
    hashes."""
    manifest = read_manifest(folder)
    landed = [
        Landed(e.commit, changed_portfolios(config_path, e.commit),
               read_plan(folder / e.plan) if e.plan else None, e.pr, e.why)
        for e in manifest.commits
    ]
    tip = {p.name: portfolio_hash(p) for p in targets_at(config_path, manifest.tip).portfolios}
    return landed, tip
