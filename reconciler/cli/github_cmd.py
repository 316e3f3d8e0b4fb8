"""`reconciler github comment|apply-result|reviewed-plans|overrides|drift-issue|doctor`: post the plan and
then the apply's outcome to the pull request, fetch the reviewed plans apply on merge checks against, read
override comments, keep the drift issue current, check the repository's settings."""

from __future__ import annotations

import argparse
import os
import re
from contextlib import nullcontext
from pathlib import Path

from reconciler import files, shown, strict_json
from reconciler.cli.common import console, runtime
from reconciler.cli.main import _common
from reconciler.clock import SYSTEM
from reconciler.errors import ReconcilerError
from reconciler.execution.planfile import read_plan
from reconciler.gitops.comment import (
    COMMENT_KEY_ENV,
    Seal,
    apply_result_body,
    read_status,
    sync_drift_issue,
    upsert_apply_result,
    upsert_sticky,
)
from reconciler.gitops.github import GitHub, GitHubSettings
from reconciler.gitops.overrides import read_overrides
from reconciler.gitops.proposal_changes import policy_file_changes, setting_changes
from reconciler.render.markdown import Proposal, plan_comment, render_drift_issue
from reconciler.secrets.redact import register


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the GitHub subcommands (comment, apply-result, reviewed-plans, overrides, drift-issue, doctor);
    main builds the parser from each command's."""
    sub = p.add_subparsers(dest="github_command", metavar="SUBCOMMAND", required=True)
    c = sub.add_parser(
        "comment", help="post or update the plan comment on a pull request",
        description="Post the plan as one sticky comment on the pull request, updated in place on every run"
        " (split into continued comments past GitHub's size limit). The comment is the token's own comment"
        " carrying the plan marker; anyone else's is never edited. Needs GITHUB_TOKEN.",
    )
    c.add_argument("--pr", type=int, required=True, metavar="N", help="pull request number")
    c.add_argument("--plan", metavar="FILE", help="the saved plan to post (default: plan now)")
    c.add_argument("--base", metavar="REF", help="when planning now: git ref to show target changes against")
    c.add_argument("--max-comments", type=int, default=10, metavar="N", help="at most N comments (default"
                   " 10)")
    c.add_argument(
        "--overrides", metavar="FILE", help="show the overrides refused (from `github overrides --out FILE`)",
    )
    c.add_argument(
        "--head", metavar="SHA",
        help="the pull request's head commit, signed into the comment's marker with $RECONCILER_COMMENT_KEY"
        " (default: the plan's commit)",
    )
    c.add_argument(
        "--proposed", metavar="REF",
        help="the settings (apply envelope) and, when planning now, the targets as this git ref proposes them"
        " (see `reconciler plan --proposed`)",
    )
    a = sub.add_parser(
        "apply-result", help="post the apply's outcome on the pull request it applied",
        description="Post the apply job's summary (filled / refused / partial / nothing to do) as one sticky"
        " comment on the merged pull request, beside the plan comment, with a link to the run. Needs"
        " GITHUB_TOKEN.",
    )
    a.add_argument("--pr", type=int, required=True, metavar="N", help="pull request number")
    a.add_argument(
        "--summary", required=True, metavar="FILE", help="the file `apply --summary-file` wrote",
    )
    r = sub.add_parser(
        "reviewed-plans", help="download the reviewed plan of every commit merged since the last applied one",
        description="For each first-parent commit of the checked-out branch after the last commit the journal"
        " applied in full: its merged pull request, the plan plan.yml reviewed on it (checked against the"
        " artifact's digest), written into a folder for `reconciler apply --envelope FOLDER`. A commit"
        " without one is listed with the reason. Needs GITHUB_TOKEN (actions: read, pull-requests: read) and"
        " the journal.",
    )
    r.add_argument("--out", required=True, metavar="FOLDER", help="where to write the plans and"
                   " reviewed.json")
    o = sub.add_parser(
        "overrides", help="read `/reconciler override POLICY: reason` comments by the policies' code owners",
        description="List the pull request's `/reconciler override POLICY: reason` comments; each counts when"
        " its author is a code owner of the policy's file in this checkout's CODEOWNERS (the default"
        " branch's), and is refused otherwise. Writes FILE for `plan --overrides` and `github comment"
        " --overrides`. Needs GITHUB_TOKEN.",
    )
    o.add_argument("--pr", type=int, required=True, metavar="N", help="pull request number")
    o.add_argument("--out", required=True, metavar="FILE", help="where to write the overrides (JSON)")
    d = sub.add_parser(
        "drift-issue", help="open, update or close the drift issue from a status file",
        description="Open or update one issue while any portfolio is OutOfSync; close it when all are back in"
        " sync. Needs GITHUB_TOKEN.",
    )
    d.add_argument("--status", required=True, metavar="FILE", help="output of `reconciler status --format"
                   " json`")
    d.add_argument("--label", default="reconciler-drift", help="label that marks the issue")
    doc = sub.add_parser(
        "doctor", help="check the repository settings the credential boundary rests on",
        description="Read through the GitHub API the settings nothing in git verifies: the observe and"
        " production environments deploy from the default branch only, production has required reviewers, no"
        " repository or organisation secret shares an environment secret's name, branch protection requires"
        " the plan and validate checks and code owners' review, CODEOWNERS owns reconciler.yaml and"
        " policies/. Prints each as pass or fail with the fix; exit 1 on any failure, or on a setting the"
        " token may not read. Needs GITHUB_TOKEN with read access to administration, environments, secrets,"
        " actions and contents.",
    )
    m = sub.add_parser(
        "merge-group",
        help="check a merge queue's batch: every portfolio it changes is covered by a reviewed plan",
        description="Read the merge queue's temporary branch as data (git objects, nothing of it runs): for"
        " each commit after --base up to --head, its pull request and the plan plan.yml reviewed on it,"
        " written into FOLDER as `github reviewed-plans` does. Exit 1 when a portfolio the batch changes is"
        " covered by no reviewed plan with the targets the batch gives it: apply on merge would refuse it."
        " Needs GITHUB_TOKEN (actions: read, pull-requests: read); no journal, no broker.",
    )
    m.add_argument("--base", required=True, metavar="SHA", help="the queue's base commit"
                   " (merge_group.base_sha)")
    m.add_argument("--head", required=True, metavar="REF", help="the queue's tip (merge_group.head_sha),"
                   " fetched")
    m.add_argument("--base-branch", default="main", metavar="NAME", help="the branch the queue merges into")
    m.add_argument("--out", required=True, metavar="FOLDER", help="where to write the plans and"
                   " reviewed.json")
    m.add_argument("--summary-file", metavar="FILE", help="append the verdict as markdown (the job summary)")
    for q in (c, a, r, o, d, doc, m):
        q.add_argument("--repo", metavar="OWNER/NAME", help="repository (default: $GITHUB_REPOSITORY)")
        q.add_argument("--api-url", metavar="URL", help="REST API URL (default: $GITHUB_API_URL or"
                       " github.com)")
        q.add_argument(
            "--bot-login", metavar="LOGIN",
            help="the login the token comments as, e.g. github-actions[bot]; only comments and issues it"
            " wrote are ever edited (default: $RECONCILER_GITHUB_LOGIN, else asked from GitHub)",
        )
        _common(q, argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Run one GitHub subcommand; the token comes from GITHUB_TOKEN only."""
    if args.github_command == "doctor" and not os.environ.get("GITHUB_TOKEN", "").strip():
        raise ReconcilerError(
            "GITHUB_TOKEN is not set: the doctor reads branch protection, environments and secrets' names",
            where="environment",
            fix="in apply.yml map `GITHUB_TOKEN: ${{ secrets.RECONCILER_DOCTOR_TOKEN }}` (a"
            " read-only token of the production environment, see docs/gitops.md); from a shell export such a"
            " token",
        )
    settings = GitHubSettings.from_env(args.repo, args.api_url, args.bot_login)  # fail before any work
    if args.github_command == "comment":
        return _comment(args, settings)
    if args.github_command == "apply-result":
        return _apply_result(args, settings)
    if args.github_command == "reviewed-plans":
        return _reviewed_plans(args, settings)
    if args.github_command == "overrides":
        return _overrides(args, settings)
    if args.github_command == "doctor":
        return _doctor(args, settings)
    if args.github_command == "merge-group":
        return _merge_group(args, settings)
    return _drift_issue(args, settings)


def _run_url(settings: GitHubSettings) -> str | None:
    """This workflow run's page, in GitHub Actions."""
    if os.environ.get("GITHUB_RUN_ID") and os.environ.get("GITHUB_SERVER_URL"):
        return f"{os.environ['GITHUB_SERVER_URL']}/{settings.repo}/actions/runs/{os.environ['GITHUB_RUN_ID']}"
    return None


def _apply_result(args: argparse.Namespace, settings: GitHubSettings) -> int:
    if args.pr <= 0:
        raise ReconcilerError("--pr must be positive", where="command line", fix="e.g. --pr 42")
    path = Path(args.summary)
    try:
        summary = files.read_text(path, files.SUMMARY)
    except ReconcilerError as exc:
        raise ReconcilerError(
            f"cannot read the apply summary: {exc.message}", where=exc.where, fix=exc.fix
        ) from None
    if not summary.strip():
        raise ReconcilerError(
            "the apply summary is empty (the apply did not run)", where=str(path),
            fix="post the result only after `reconciler apply --summary-file FILE` ran",
        )
    with GitHub(settings) as gh:
        result = upsert_apply_result(gh, args.pr, apply_result_body(summary, _run_url(settings)))
    console(args).print(f"Apply result on {settings.repo} pull request #{args.pr}: {result.describe()}.")
    return 0


def _comment(args: argparse.Namespace, settings: GitHubSettings) -> int:
    # Only here: planning brings the runtime (SQLAlchemy, the policy engine, the brokers), which
    # `apply-result` and `drift-issue` never use.
    from reconciler.cli.whatif import what_if_report
    from reconciler.execution.planning import causes_of, plan_against
    from reconciler.runtime import proposed_runtime

    if args.pr <= 0 or args.max_comments <= 0:
        raise ReconcilerError(
            "--pr and --max-comments must be positive", where="command line", fix="e.g. --pr 42"
        )
    # planning now only reads the journal, like `plan` without --record
    trusted = runtime(args, read_only=True)
    with proposed_runtime(trusted, args.proposed) if args.proposed else nullcontext(trusted) as rt:
        base = None
        if args.plan:
            plan = read_plan(Path(args.plan))
        else:
            plan, base = plan_against(rt, args.base, record=False)
        causes = causes_of(rt, plan, base)
        envelope = rt.workspace.config.apply.envelope
        # What the proposal changes besides targets, against the trusted checkout (the default branch), shown
        # first.
        changed = setting_changes(trusted.config, rt.config) if args.proposed else []
        policy_files = policy_file_changes(
            trusted.root / trusted.config.policies.dir, rt.root / rt.config.policies.dir,
            rt.config.policies.dir,
        ) if args.proposed else []
        what_if = what_if_report(trusted, rt, plan, base)  # while the proposal's files exist
    refused = read_overrides(Path(args.overrides)).refused if args.overrides else []
    proposal = Proposal(changed, policy_files, refused, causes, what_if)
    bodies = plan_comment(plan, envelope, proposal, max_parts=args.max_comments)
    seal = _seal(args.head or plan.git_commit)
    with GitHub(settings) as gh:
        result = upsert_sticky(gh, args.pr, bodies, seal)
    out = console(args)
    out.print(
        f"Plan {plan.content_hash[:12]} on {settings.repo} pull request #{args.pr}: {len(bodies)} comment(s),"
        f" {result.describe()}."
    )
    for url in result.created + result.updated + result.unchanged:
        if url:
            out.print(f"  {url}")
    return 0


def _reviewed_plans(args: argparse.Namespace, settings: GitHubSettings) -> int:
    from reconciler.gitops.reviewed import fetch_reviewed
    from reconciler.gitops.sequence import unapplied

    rt = runtime(args, read_only=True)  # the last applied commit is read, nothing written
    since, tip, commits = unapplied(rt.journal, rt.workspace.root)
    out = console(args)
    out.print(
        f"{len(commits)} commit(s) to apply up to {tip[:12]}"
        + (f", after {since[:12]} (the last applied in full):" if since else " (nothing applied yet):")
    )
    with GitHub(settings) as gh:
        fetch_reviewed(gh, commits, since, tip, Path(args.out), say=lambda line: out.print(f"  {line}"))
    return 0


def _overrides(args: argparse.Namespace, settings: GitHubSettings) -> int:
    from reconciler.gitops.overrides import find_overrides, read_codeowners
    from reconciler.gitops.refs import open_repo

    if args.pr <= 0:
        raise ReconcilerError("--pr must be positive", where="command line", fix="e.g. --pr 42")
    rt = runtime(args, read_only=True)
    top = Path(str(open_repo(rt.root).working_tree_dir)).resolve()
    policies = (rt.root / rt.config.policies.dir).resolve().relative_to(top).as_posix()
    with GitHub(settings) as gh:
        found = find_overrides(gh, args.pr, read_codeowners(top), policies, rt.policies.overridable())
    out = Path(args.out)
    out.write_text(found.model_dump_json(indent=2) + "\n", encoding="utf-8")
    say = console(args)
    for o in found.accepted:
        say.print(f"override {o.policy} by @{o.login}: {o.reason}")
    for refusal in found.refused:
        say.print(f"refused: {refusal}")
    if not found.accepted and not found.refused:
        say.print("no override on this pull request")
    return 0


def _doctor(args: argparse.Namespace, settings: GitHubSettings) -> int:
    from reconciler.gitops.doctor import CHECKS, diagnose, read_setup

    with GitHub(settings) as gh:
        report = diagnose(read_setup(gh))
    out = console(args)
    titles = {c.name: c.title for c in CHECKS}
    out.print(f"Setup of {settings.repo}:")
    for f in report.findings:
        out.print(f"  {'PASS' if f.ok else 'FAIL'}  {titles[f.check]}: {f.detail}")
        if not f.ok:
            out.print(f"        fix: {f.fix}")
    failed = sum(not f.ok for f in report.findings)
    out.print(f"{failed} of {len(report.findings)} checks failed." if failed else "Every check passed.")
    return 1 if failed else 0


def _merge_group(args: argparse.Namespace, settings: GitHubSettings) -> int:
    from reconciler.core.sequence import batch_uncovered
    from reconciler.execution.merge_queue import landed_in_batch
    from reconciler.gitops.merge_group import fetch_batch
    from reconciler.gitops.refs import open_repo, resolve

    config = Path(getattr(args, "config", None) or "reconciler.yaml")
    root = config.resolve().parent
    repo = open_repo(root)
    base, head = resolve(repo, args.base), resolve(repo, args.head)
    out = console(args)
    out.print(f"Merge queue batch {base[:12]}..{head[:12]} into {args.base_branch}:")
    folder = Path(args.out)
    with GitHub(settings) as gh:
        fetch_batch(gh, root, base, head, args.base_branch, folder, say=lambda line: out.print(f"  {line}"))
    landed, tip = landed_in_batch(config, folder)
    covered, uncovered = batch_uncovered(landed, tip)
    lines = [f"{c.portfolio}: within the plan reviewed on {c.by.label}" for c in covered if c.by is not None]
    lines += [f"{c.portfolio}: no reviewed plan covers it: {c.reason}" for c in uncovered]
    for line in lines:
        out.print(f"  {line}")
    verdict = (f"refused: {len(uncovered)} portfolio(s) this batch changes are covered by no reviewed plan;"
               " apply on"
               " merge would refuse them. Remove the pull request from the queue, or re-run its plan check on"
               " top of the others (update its branch), then queue it again") if uncovered else (
               "every portfolio this batch changes is covered by the plan reviewed on the pull request that"
               " last changed it; apply on merge checks each within its envelope")
    out.print(verdict)
    if args.summary_file:
        body = "\n".join(
            ["## reconciler: merge queue batch", "", *(f"- {line}" for line in lines), "", verdict]
        )
        files.write_text(
            Path(args.summary_file), shown.markdown(body) + "\n", files.SUMMARY, "--summary-file", append=True
        )
    return 1 if uncovered else 0


def _seal(head: str | None) -> Seal | None:
    """The key binding plan comments to this workflow: required in CI, where every workflow comments as the
    same bot; without it (a shell) comments are told apart by marker and author only."""
    key = os.environ.get(COMMENT_KEY_ENV, "").strip()
    in_ci = os.environ.get("CI", "").strip().lower() in ("true", "1")
    if not key:
        if in_ci:
            raise ReconcilerError(
                f"{COMMENT_KEY_ENV} is not set: in CI the plan comment is signed, so that a comment another"
                " workflow"
                " wrote as the same github-actions[bot] is never taken for it", where="environment",
                fix=f"add a random secret {COMMENT_KEY_ENV} to the observe environment (e.g. `openssl rand"
                f" -hex 32`) and map it to the comment step: env: {COMMENT_KEY_ENV}: ${{{{"
                f" secrets.{COMMENT_KEY_ENV} }}}}",
            )
        return None
    if not head or not re.fullmatch(r"[0-9a-f]{40}", head):
        raise ReconcilerError(
            f"the head commit {head!r} is not a full commit sha", where="--head",
            fix="pass --head with the pull request's head sha (github.event.pull_request.head.sha)",
        )
    register(key)
    return Seal(key.encode(), head)


def _drift_issue(args: argparse.Namespace, settings: GitHubSettings) -> int:
    path = Path(args.status)
    text = files.read_text(path, files.STATUS, missing_fix="write it with `reconciler status --format json"
                           " --out FILE`")
    try:
        doc = strict_json.loads(text)
    except ValueError as exc:
        raise ReconcilerError(
            f"cannot read the status file: {exc}", where=str(path),
            fix="pass the output of `reconciler status --format json`",
        ) from None
    rows = read_status(doc, str(path))
    run_url = _run_url(settings)
    body = render_drift_issue(doc, run_url)
    with GitHub(settings) as gh:
        outcome = sync_drift_issue(gh, rows, body, label=args.label, now=SYSTEM.now())
    console(args).print(outcome.describe())
    return 0
