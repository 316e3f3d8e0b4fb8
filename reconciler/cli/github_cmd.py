"""`reconciler github comment|drift-issue`: post the plan to its pull request, keep the drift issue current."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.gitops.github import GitHubSettings


def add_arguments(p: argparse.ArgumentParser) -> None:
    from reconciler.cli.main import _common

    sub = p.add_subparsers(dest="github_command", metavar="SUBCOMMAND", required=True)
    c = sub.add_parser(
        "comment", help="post or update the plan comment on a pull request",
        description="Post the plan as one sticky comment on the pull request, updated in place on every run"
        " (split into continued comments past GitHub's size limit). Needs GITHUB_TOKEN.",
    )
    c.add_argument("--pr", type=int, required=True, metavar="N", help="pull request number")
    c.add_argument("--plan", metavar="FILE", help="the saved plan to post (default: plan now)")
    c.add_argument("--base", metavar="REF", help="when planning now: git ref to show target changes against")
    c.add_argument("--max-comments", type=int, default=10, metavar="N", help="at most N comments (default 10)")
    d = sub.add_parser(
        "drift-issue", help="open, update or close the drift issue from a status file",
        description="Open or update one issue while any portfolio is OutOfSync; close it when all are back in"
        " sync. Needs GITHUB_TOKEN.",
    )
    d.add_argument("--status", required=True, metavar="FILE", help="output of `reconciler status --format json`")
    d.add_argument("--label", default="reconciler-drift", help="label that marks the issue")
    for q in (c, d):
        q.add_argument("--repo", metavar="OWNER/NAME", help="repository (default: $GITHUB_REPOSITORY)")
        q.add_argument("--api-url", metavar="URL", help="REST API URL (default: $GITHUB_API_URL or github.com)")
        _common(q, argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from reconciler.gitops.github import GitHubSettings

    settings = GitHubSettings.from_env(args.repo, args.api_url)  # missing token or repo: fail before any work
    if args.github_command == "comment":
        return _comment(args, settings)
    return _drift_issue(args, settings)


def _comment(args: argparse.Namespace, settings: GitHubSettings) -> int:
    from pathlib import Path

    from reconciler.cli.common import console, runtime
    from reconciler.errors import ReconcilerError
    from reconciler.gitops.comment import upsert_sticky
    from reconciler.gitops.github import GitHub
    from reconciler.render.markdown import blocks, split_comment

    if args.pr <= 0 or args.max_comments <= 0:
        raise ReconcilerError(
            "--pr and --max-comments must be positive", where="command line", fix="e.g. --pr 42"
        )
    rt = runtime(args)
    if args.plan:
        from reconciler.execution.planfile import read_plan

        plan = read_plan(Path(args.plan))
    else:
        from reconciler.execution.planning import plan_against

        plan, _ = plan_against(rt, args.base)
    bodies = split_comment(blocks(plan, rt.workspace.config.apply.envelope), max_parts=args.max_comments)
    with GitHub(settings) as gh:
        result = upsert_sticky(gh, args.pr, bodies)
    out = console(args)
    out.print(
        f"Plan {plan.content_hash[:12]} on {settings.repo} pull request #{args.pr}: {len(bodies)} comment(s),"
        f" {result.describe()}."
    )
    for url in result.created + result.updated + result.unchanged:
        if url:
            out.print(f"  {url}")
    return 0


def _drift_issue(args: argparse.Namespace, settings: GitHubSettings) -> int:
    import json
    import os
    from pathlib import Path

    from reconciler.cli.common import console
    from reconciler.clock import SYSTEM
    from reconciler.errors import ReconcilerError
    from reconciler.gitops.comment import read_status, sync_drift_issue
    from reconciler.gitops.github import GitHub
    from reconciler.render.markdown import render_drift_issue

    path = Path(args.status)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReconcilerError(
            "status file not found", where=str(path), fix="write it with `reconciler status --format json --out FILE`"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReconcilerError(
            f"cannot read the status file: {exc}", where=str(path),
            fix="pass the output of `reconciler status --format json`",
        ) from None
    rows = read_status(doc, str(path))
    run_url = None
    if os.environ.get("GITHUB_RUN_ID") and os.environ.get("GITHUB_SERVER_URL"):
        run_url = f"{os.environ['GITHUB_SERVER_URL']}/{settings.repo}/actions/runs/{os.environ['GITHUB_RUN_ID']}"
    body = render_drift_issue(doc, run_url)
    with GitHub(settings) as gh:
        outcome = sync_drift_issue(gh, rows, body, label=args.label, now=SYSTEM.now())
    console(args).print(outcome.describe())
    return 0
