"""The GitOps loop end to end, in a temporary git repository, against a fake GitHub on loopback.

Commit targets; a branch changes weights; `plan --base main` shows the weight diff and the orders; the comment
is posted and then updated in place (still one comment); merge; apply; apply again sends nothing; an external
trade makes `status` exit 2 with OutOfSync; prices moved beyond the envelope make apply refuse.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from reconciler.brokers.base import OrderRequest
from reconciler.runtime import Runtime
from tests.conftest import Workspace, edit_yaml
from tests.gitops.conftest import Git
from tests.gitops.fake_github import FakeGitHub


def set_targets(ws: Workspace, name: str, **weights: float) -> None:
    def change(doc: Any) -> None:
        for symbol, weight in weights.items():
            doc["spec"]["targets"][symbol] = weight

    edit_yaml(ws.root / "portfolios" / f"{name}.yaml", change)


def test_gitops_loop(workspace: Workspace, git_repo: Git, github: FakeGitHub, tmp_path: Path) -> None:
    git = git_repo
    # The accounts start from their seeds: bring main's targets in first, so the pull request shows only its
    # own.
    r = workspace.run("apply", "--auto-approve")
    assert r.code == 0, r.err

    # A pull request changes weights.
    git("checkout", "-q", "-b", "more-bonds")
    set_targets(workspace, "bob-taxable", VTI=0.40, BND=0.30)
    git.commit_all("bob-taxable: more bonds")
    reviewed = tmp_path / "plan.json"
    r = workspace.run("plan", "--base", "main", "--out", str(reviewed), "--detailed-exitcode")
    assert r.code == 2, r.err
    assert "Target changes since main" in r.out
    assert "VTI          50.00% →   40.00%  -10.00 pp" in r.out
    assert "BND          20.00% →   30.00%  +10.00 pp" in r.out
    assert "# portfolio 'bob-taxable'" in r.out
    assert "sell" in r.out
    assert "buy" in r.out
    assert "alice-ira" not in r.out.split("Target changes")[1].split("Reconciler will")[0]  # only bob changed
    plan = json.loads(reviewed.read_text())
    assert plan["base_ref"] == "main"
    assert plan["base_commit"] == git.sha("main")
    assert plan["git_commit"] == git.sha("HEAD")
    assert plan["git_dirty"] is False
    assert [c["portfolio"] for c in plan["target_changes"]] == ["bob-taxable"]

    # CI posts the plan on the pull request ...
    github.add_pull(7)
    github.add_comment(7, "Looks good, but what about VXUS?")
    r = workspace.run("github", "comment", "--pr", "7", "--plan", str(reviewed))
    assert r.code == 0, r.err
    ours = github.ours(7)
    assert len(ours) == 1
    comment_id = ours[0]["id"]
    body = ours[0]["body"]
    assert body.startswith("<!-- reconciler:plan -->")
    assert "| bob-taxable | VTI | 50.00% | 40.00% | -10.00 pp |" in body
    assert "```text\n" in body  # the dot chart: now, after and target with the band
    assert "<details>" in body

    # ... and a second push updates the same comment in place.
    set_targets(workspace, "bob-taxable", VTI=0.38, BND=0.32)
    git.commit_all("bob-taxable: a little more")
    reviewed = tmp_path / "plan2.json"
    r = workspace.run("plan", "--base", "main", "--out", str(reviewed))
    assert r.code == 0, r.err
    r = workspace.run("github", "comment", "--pr", "7", "--plan", str(reviewed))
    assert r.code == 0, r.err
    assert "1 updated" in r.out
    ours = github.ours(7)
    assert len(ours) == 1
    assert ours[0]["id"] == comment_id
    assert "| bob-taxable | VTI | 50.00% | 38.00% | -12.00 pp |" in ours[0]["body"]
    assert len(github.comments[7]) == 2  # the reviewer's comment is untouched
    assert github.token not in r.out + r.err

    # Merge, then apply on merge: plan again, check against the reviewed envelope, apply.
    git("checkout", "-q", "main")
    git("merge", "-q", "--no-ff", "more-bonds", "-m", "Merge pull request #7 from acme/more-bonds")
    merged = git.sha("HEAD")
    before = workspace.paper_order_count()
    summary = tmp_path / "summary.md"
    r = workspace.run("apply", "--envelope", str(reviewed), "--auto-approve", "--summary-file", str(summary))
    assert r.code == 0, r.out + r.err
    assert "within the reviewed plan's envelope" in r.out
    sent = workspace.paper_order_count()
    assert sent > before
    applies = workspace.query("select git_commit, status from applies order by started_at")
    assert applies[-1] == (merged, "succeeded")
    assert f"| commit | `{merged[:12]}` |" in summary.read_text()

    # Applying the same commit again sends nothing.
    r = workspace.run("apply", "--envelope", str(reviewed), "--auto-approve")
    assert r.code == 0, r.err
    assert f"commit {merged[:12]} was applied already" in r.out
    assert workspace.paper_order_count() == sent

    r = workspace.run("status")
    assert r.code == 0, r.out + r.err
    assert "OutOfSync" not in r.out

    # Someone sells in the account outside reconciler: status sees the drift. The proceeds settle tomorrow, so
    # nothing can be bought back today: Progressing, not an alarm (exit 0), with the lines outside their
    # bands.
    broker = Runtime(config_path=workspace.config).broker
    state = broker.submit(
        "paper-taxable",
        OrderRequest(client_order_id="manual-1", symbol="VTI", side="sell", quantity=Decimal(40)),
    )
    assert state.status == "filled"
    r = workspace.run("status")
    assert r.code == 0, r.out + r.err
    bob = next(line for line in r.out.splitlines() if line.startswith("bob-taxable"))
    assert "Progressing" in bob
    assert "sale proceeds settling" in r.out
    assert "VTI" in r.out.split("bob-taxable: outside the bands")[1]
    r = workspace.run("drift", "--format", "json")
    assert r.code == 0
    statuses = {p["portfolio"]: p["status"] for p in json.loads(r.out)["portfolios"]}
    assert statuses == {"alice-ira": "Synced", "bob-taxable": "Progressing", "college-fund": "Synced"}
    # Someone also buys by hand what the targets do not hold: now an order would trade (sell it): OutOfSync.
    state = broker.submit(
        "paper-taxable",
        OrderRequest(client_order_id="manual-2", symbol="GLD", side="buy", quantity=Decimal(20)),
    )
    r = workspace.run("drift", "--format", "json")
    assert r.code == 2, r.out + r.err
    statuses = {p["portfolio"]: p["status"] for p in json.loads(r.out)["portfolios"]}
    assert statuses["bob-taxable"] == "OutOfSync"

    # A second pull request is reviewed and merged, but prices move far before apply: apply refuses.
    git("checkout", "-q", "-b", "more-intl")
    set_targets(workspace, "bob-taxable", VXUS=0.25, VNQ=0.04)
    git.commit_all("bob-taxable: more international")
    reviewed = tmp_path / "plan3.json"
    assert workspace.run("plan", "--base", "main", "--out", str(reviewed)).code == 0
    git("checkout", "-q", "main")
    git("merge", "-q", "--no-ff", "more-intl", "-m", "Merge pull request #8")
    portfolios = json.loads(reviewed.read_text())["portfolios"]
    reviewed_orders = {a["symbol"]: a["side"] for p in portfolios for a in p["actions"]}
    assert reviewed_orders.get("VNQ") == "sell"
    # VNQ up 19% since the review (inside the kill switch's 20%): its sell grows far outside the ±10%
    # envelope.
    edit_yaml(workspace.config, lambda d: d["broker"]["prices"]["static"]["VNQ"].__setitem__("price", 104.66))
    sent = workspace.paper_order_count()
    r = workspace.run("apply", "--envelope", str(reviewed), "--auto-approve")
    assert r.code == 1
    assert "leave the envelope approved with the reviewed plan" in r.err
    assert "bob-taxable VNQ: sell" in r.err
    assert "outside ±10%" in r.err
    assert "re-plan on a new pull request" in r.err
    assert "Traceback" not in r.err
    assert workspace.paper_order_count() == sent


def test_an_old_apply_job_run_again_never_undoes_a_later_commit(
    workspace: Workspace, git_repo: Git, tmp_path: Path
) -> None:
    """Reproduced: a change's apply was refused (the market was closed), its revert merged and applied, then
    the change's job re-run sold and bought what the revert had undone. A commit older than the last applied
    one is refused now, before anything is observed or sent."""
    git = git_repo
    assert workspace.run("apply", "--auto-approve").code == 0  # main's targets, applied at main's commit
    set_targets(workspace, "bob-taxable", VTI=0.40, BND=0.30)
    change = git.commit_all("bob-taxable: more bonds")
    reviewed = tmp_path / "change.json"
    assert workspace.run("plan", "--out", str(reviewed)).code == 0
    # Its apply does not happen (say the market was closed). The change is reverted and the revert applied.
    git("revert", "--no-edit", change)
    revert_plan = tmp_path / "revert.json"
    assert workspace.run("plan", "--out", str(revert_plan)).code == 0
    r = workspace.run("apply", "--envelope", str(revert_plan), "--auto-approve")
    assert r.code == 0, r.out + r.err
    orders = workspace.paper_order_count()
    # Someone re-runs the change's apply job: its commit checked out, its reviewed plan.
    git("checkout", "-q", change)
    summary = tmp_path / "summary.md"
    r = workspace.run("apply", "--envelope", str(reviewed), "--auto-approve", "--summary-file", str(summary))
    assert r.code == 1
    assert f"commit {change[:12]} is older than commit {git.sha('main')[:12]}" in r.err
    assert "fix:" in r.err
    assert workspace.paper_order_count() == orders  # nothing sent
    assert "not the current commit" in summary.read_text()


def test_ancestry_of_commits(workspace: Workspace, git_repo: Git, tmp_path: Path) -> None:
    from reconciler.gitops.repo import is_ancestor

    first = git_repo.sha("HEAD")
    set_targets(workspace, "bob-taxable", VTI=0.40, BND=0.30)
    second = git_repo.commit_all("more bonds")
    assert is_ancestor(workspace.root, first, second) is True
    assert is_ancestor(workspace.root, second, first) is False
    assert is_ancestor(workspace.root, "0" * 40, second) is False  # not in this full history: rewritten away
    shallow = tmp_path / "shallow"
    Git(tmp_path)("clone", "-q", "--depth", "1", f"file://{workspace.root}", str(shallow))
    assert is_ancestor(shallow, first, second) is None  # a shallow clone cannot tell
    assert is_ancestor(tmp_path / "nowhere", first, second) is None


def test_parallel_pull_requests_for_different_portfolios_both_apply(
    workspace: Workspace, git_repo: Git, tmp_path: Path
) -> None:
    """Reproduced: two pull requests planned from the same base, merged one after the other; the second one's
    reviewed plan was refused because the first had changed the (whole) targets hash, and its change sat on
    main unapplied. With per-portfolio hashes each applies; a third planned from the old base that changes a
    portfolio already changed since (other lines of the same file, so git merges it cleanly) is still refused:
    what main now holds for it is neither reviewed plan's targets."""
    git = git_repo
    assert workspace.run("apply", "--auto-approve").code == 0  # main applied
    plans = {}
    for branch, name, weights in (("bonds", "bob-taxable", {"VTI": 0.40, "VXUS": 0.30}),
                                  # alice-ira's model
                                  ("ira", "models/balanced-60-40", {"VTI": 0.24, "VXUS": 0.36}),
                                  ("reits", "bob-taxable", {"VNQ": 0.04, "BNDX": 0.05})):
        git("checkout", "-q", "-b", branch, "main")
        set_targets(workspace, name, **weights)
        git.commit_all(f"{name}: {weights}")
        plans[branch] = tmp_path / f"{branch}.json"
        assert workspace.run("plan", "--base", "main", "--out", str(plans[branch])).code == 0
    git("checkout", "-q", "main")
    for branch in ("ira", "bonds"):
        git("merge", "-q", "--no-ff", "-m", f"merge {branch}", branch)
        r = workspace.run("apply", "--envelope", str(plans[branch]), "--auto-approve")
        assert r.code == 0, r.out + r.err
        assert "filled" in r.out
    assert workspace.run("plan", "--detailed-exitcode").code == 0  # both changes applied: in sync
    # other lines of the same file: merges cleanly
    git("merge", "-q", "--no-ff", "-m", "merge reits", "reits")
    orders = workspace.paper_order_count()
    r = workspace.run("apply", "--envelope", str(plans["reits"]), "--auto-approve")
    assert r.code == 1
    assert "bob-taxable: its targets at this commit differ from the reviewed change" in r.err, r.err
    assert workspace.paper_order_count() == orders
