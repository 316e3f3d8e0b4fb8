"""Find the plan reviewed on each commit's pull request through the GitHub API, and keep it in a folder.

For each first-parent commit of main since the last applied one: the merged pull request GitHub associates
with it (none for a direct push), the newest artifact `reconciler-plan-<head sha>` whose run is plan.yml on
`pull_request_target` and succeeded (an artifact of the same name from a workflow a pull request added is
never taken), its zip downloaded and checked against the SHA-256 digest GitHub recorded at upload, and its
plan.json.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler import files
from reconciler.gitops.github import GitHub, GitHubError
from reconciler.gitops.sequence import ReviewedEntry, ReviewedManifest, write_manifest

PLAN_WORKFLOW = ".github/workflows/plan.yml"
PLAN_MEMBER = "plan.json"
MAX_PLAN_BYTES = 256 * 1024 * 1024  # as execution/planfile.py reads at most


def artifact_name(head: str) -> str:
    """The name plan.yml gives the plan it reviewed for a pull request's head commit."""
    return f"reconciler-plan-{head}"


def fetch_reviewed(
    gh: GitHub, commits: list[str], since: str | None, tip: str, out: Path,
    say: Callable[[str], None] = lambda _: None,
) -> ReviewedManifest:
    """Look up every commit's reviewed plan, write the plans and the manifest into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for sha in commits:
        entry = _one(gh, sha, out)
        say(f"{sha[:12]} " + (f"#{entry.pr} " if entry.pr else "") + (entry.plan or "no reviewed plan:"
            f" {entry.why}"))
        entries.append(entry)
    manifest = ReviewedManifest(tip=tip, since=since, commits=entries)
    write_manifest(out, manifest)
    return manifest


def _one(gh: GitHub, sha: str, out: Path) -> ReviewedEntry:
    merged = [p for p in gh.pulls_of_commit(sha) if p.get("merged_at")]
    if not merged:
        return ReviewedEntry(commit=sha, why="pushed to main without a pull request")
    pull = next((p for p in merged if p.get("merge_commit_sha") == sha), merged[0])
    return reviewed_entry(gh, sha, int(pull["number"]), str((pull.get("head") or {}).get("sha", "")), out)


def reviewed_entry(gh: GitHub, sha: str, number: int, head: str, out: Path) -> ReviewedEntry:
    """Commit `sha` of pull request `number` whose head was `head`: the plan plan.yml reviewed on it, kept in
    `out`, or why there is none."""
    name = artifact_name(head)
    candidates = sorted(
        (a for a in gh.artifacts(name) if a.get("name") == name and not a.get("expired")),
        key=lambda a: str(a.get("created_at", "")), reverse=True,  # newest first: a re-run's plan wins
    )
    artifact = next((a for a in candidates if _trusted_run(gh, a)), None)
    if artifact is None:
        return ReviewedEntry(
            commit=sha, pr=number,
            why=f"no successful plan.yml run planned its head {head[:12]} (a fork's pull request is never"
            " planned;"
            " an artifact expires after 30 days)",
        )
    plan = _plan_from(gh, artifact, f"pull request #{number}")
    file = f"plan-{sha}.json"
    files.write_bytes(out / file, plan, files.PLAN, "--out")
    return ReviewedEntry(commit=sha, pr=number, plan=file)


def _trusted_run(gh: GitHub, artifact: dict[str, Any]) -> bool:
    """Only plan.yml on pull_request_target runs the default branch's definition with the observe
    credentials."""
    run_id = (artifact.get("workflow_run") or {}).get("id")
    if not isinstance(run_id, int):
        return False
    run = gh.workflow_run(run_id)
    return bool(
        run.get("event") == "pull_request_target" and run.get("path") == PLAN_WORKFLOW
        and run.get("conclusion") == "success"
    )


def _plan_from(gh: GitHub, artifact: dict[str, Any], what: str) -> bytes:
    """The artifact's plan.json, after checking the archive against the digest GitHub recorded at upload."""
    where = f"artifact {artifact.get('name')} ({what})"
    digest = str(artifact.get("digest") or "")
    if not digest.startswith("sha256:"):
        raise GitHubError(
            "the artifact has no SHA-256 digest to check it against", where=where,
            fix="re-run the plan workflow (actions/upload-artifact v4 or later records the digest), then this"
            " job",
        )
    data = gh.download_artifact(int(artifact["id"]))
    if hashlib.sha256(data).hexdigest() != digest.removeprefix("sha256:"):
        raise GitHubError(
            "the downloaded archive does not match the digest GitHub recorded at upload; nothing was applied",
            where=where,
            fix="re-run this job; if it happens again, report it: the artifact may have been altered",
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo(PLAN_MEMBER)
            if info.file_size > MAX_PLAN_BYTES:
                raise GitHubError(f"{PLAN_MEMBER} is {info.file_size:,} bytes", where=where, fix="re-run the"
                                  " plan")
            return archive.read(info)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise GitHubError(
            f"the artifact holds no readable {PLAN_MEMBER} ({exc})", where=where,
            fix="re-run the plan workflow for the pull request, then this job",
        ) from None
