"""The GitHub Actions workflows: actionlint (with shellcheck) and zizmor find nothing; the GitOps rules
hold."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
# Releases that run on the node24 runtime (GitHub retired node20 for actions; upload-artifact v5 and
# download-artifact v5/v6 still defaulted to node20). Each SHA checked against the release it is labelled
# with.
NODE24 = {
    "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1": "v7.0.1",
    "actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97": "v7.0.0",
    "actions/upload-artifact@043fb46d1a93c77aae656e7c1c64a875d1fc6a0a": "v7.0.1",
    "actions/download-artifact@3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c": "v8.0.1",
}


def tool(name: str) -> str:
    found = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert found, f"{name} is not installed: `pip install -e '.[dev]'` installs it"
    return found


def load(name: str) -> dict[str, Any]:
    data = YAML(typ="safe").load((WORKFLOWS / name).read_text())
    assert isinstance(data, dict)
    return data


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for job in workflow["jobs"].values() for s in job["steps"]]


def test_actionlint_finds_nothing() -> None:
    # shellcheck for run: scripts
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [tool("actionlint"), "-no-color", *sorted(str(p) for p in WORKFLOWS.glob("*.yml"))],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert tool("shellcheck")


@pytest.mark.parametrize("persona", ["regular", "pedantic"])
def test_zizmor_finds_nothing(persona: str) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "GH_TOKEN", "ZIZMOR_GITHUB_TOKEN")
    }
    done = subprocess.run(
        [
            tool("zizmor"),
            "--offline",
            "--no-progress",
            "--color",
            "never",
            "--persona",
            persona,
            str(WORKFLOWS),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout


def test_the_five_workflows_exist() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == [
        "apply.yml", "drift.yml", "plan-queue.yml", "plan.yml", "validate.yml"
    ]


@pytest.mark.parametrize("name", ["plan.yml", "plan-queue.yml", "apply.yml", "drift.yml", "validate.yml"])
def test_actions_pinned_by_sha_and_least_privilege(name: str) -> None:
    wf = load(name)
    for step in steps(wf):
        if "uses" in step:
            assert PINNED.match(step["uses"]), step["uses"]
            assert step["uses"] in NODE24, f"{step['uses']}: pin a release that runs on node24"
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
    assert wf["permissions"] == {}  # nothing by default; each job asks for what it uses
    for job in wf["jobs"].values():
        assert set(job["permissions"].values()) <= {"read", "write"}
        assert "contents" in job["permissions"]
        assert job["timeout-minutes"] <= 30


@pytest.mark.parametrize("name", ["plan.yml", "plan-queue.yml", "apply.yml", "validate.yml", "drift.yml"])
def test_every_workflow_installs_from_the_hashed_lock_file(name: str) -> None:
    runs = " ".join(s.get("run", "") for s in steps(load(name)))
    assert "pip install --require-hashes --no-deps -r requirements/ci.lock" in runs
    assert re.findall(r"pip install[^\n]*", runs)
    assert all(
        "--require-hashes" in line or "--no-deps" in line for line in re.findall(r"pip install[^\n]*", runs)
    )


def test_the_lock_file_pins_every_dependency_with_hashes() -> None:
    """What pyproject.toml asks for (with the extras a broker may need) is in the lock, pinned and hashed."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in ("calendars", "secrets", "crypto", "notify"):
        wanted += project["optional-dependencies"][extra]
    lock = (ROOT / "requirements" / "ci.lock").read_text()
    pinned = {m.group(1).lower().replace("_", "-").replace(".", "-"): m.group(2)
              for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", lock, re.MULTILINE)}
    for requirement in [*wanted, "setuptools"]:
        name = re.split(r"[<>=\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")
        assert name in pinned, f"{name} is not in requirements/ci.lock: run `make lock`"
    blocks = re.split(r"^(?=[A-Za-z0-9])", lock, flags=re.MULTILINE)
    assert all("--hash=sha256:" in b for b in blocks if "==" in b)


def test_validate_workflow_holds_no_credential() -> None:
    """It installs and runs the pull request's own code: nothing it could reach may be worth stealing."""
    wf = load("validate.yml")
    text = (WORKFLOWS / "validate.yml").read_text()
    assert "secrets." not in text
    assert "github.token" not in text
    assert "pull_request" in wf["on"]
    assert "merge_group" in wf["on"]
    (job,) = wf["jobs"].values()
    assert "environment" not in job
    assert job["permissions"] == {"contents": "read"}
    assert "reconciler validate" in " ".join(s.get("run", "") for s in job["steps"])


def test_plan_workflow_runs_only_default_branch_code_with_the_credential() -> None:
    wf = load("plan.yml")
    assert list(wf["on"]) == ["pull_request_target"]  # the workflow definition comes from the base branch
    paths = wf["on"]["pull_request_target"]["paths"]
    assert {"portfolios/**", "policies/**", "reconciler.yaml", "reconciler/**", "pyproject.toml"} <= set(
        paths
    )
    job = wf["jobs"]["plan"]
    assert job["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert job["environment"] == "observe"
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    names = [s["name"] for s in job["steps"]]
    checkouts = [s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    trusted, proposal = checkouts
    assert "ref" not in trusted.get("with", {})  # pull_request_target's default: the base branch
    assert proposal["with"]["ref"] == "refs/pull/${{ github.event.pull_request.number }}/merge"
    assert proposal["with"]["path"] == ".proposed"
    install = next(s for s in job["steps"] if "pip install" in s.get("run", ""))
    assert names.index(install["name"]) < names.index(proposal["name"])  # installed before the PR is on disk
    # The pull request's files are only ever a git ref handed to reconciler: fetched as objects, then deleted.
    for step in job["steps"]:
        if ".proposed" in step.get("run", ""):
            assert step["run"].count(".proposed") == 2
            assert 'git fetch --no-tags --quiet ./.proposed "+HEAD:refs/reconciler/proposed"' in step["run"]
            assert "rm -rf ./.proposed" in step["run"]
    runs = " ".join(s.get("run", "") for s in job["steps"])
    assert "reconciler plan --proposed refs/reconciler/proposed" in runs
    assert "--out plan.json" in runs
    assert "reconciler github comment --pr" in runs
    assert "--proposed refs/reconciler/proposed" in runs
    secret_steps = [s for s in job["steps"] if "secrets." in str(s.get("env", {}))]
    assert [s["name"] for s in secret_steps] == [
        "Plan what the pull request proposes", "Post the plan on the pull request"
    ]
    # The comment step holds the comment key only, never the journal or broker credentials.
    assert [v for v in secret_steps[1]["env"].values() if "secrets." in v] == [
        "${{ secrets.RECONCILER_COMMENT_KEY }}"
    ]
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["overwrite"] is True  # re-running the plan job works
    assert upload["with"]["name"] == "reconciler-plan-${{ github.event.pull_request.head.sha }}"


def test_the_plan_comment_is_signed_with_a_key_only_the_plan_job_has() -> None:
    wf = load("plan.yml")
    post = next(s for s in steps(wf) if "reconciler github comment" in s.get("run", ""))
    assert post["env"]["RECONCILER_COMMENT_KEY"] == "${{ secrets.RECONCILER_COMMENT_KEY }}"
    assert '--head "$HEAD_SHA"' in post["run"]
    assert post["env"]["HEAD_SHA"] == "${{ github.event.pull_request.head.sha }}"
    others = [s for name in ("apply.yml", "drift.yml", "validate.yml") for s in steps(load(name))]
    assert not any("RECONCILER_COMMENT_KEY" in str(s) for s in others)


def test_the_plan_reads_code_owner_overrides_before_planning() -> None:
    job = load("plan.yml")["jobs"]["plan"]
    names = [s["name"] for s in job["steps"]]
    read = next(s for s in job["steps"] if "reconciler github overrides" in s.get("run", ""))
    assert "secrets." not in str(read.get("env", {}))
    assert names.index(read["name"]) < names.index("Plan what the pull request proposes")
    plan = next(s for s in job["steps"] if s["name"] == "Plan what the pull request proposes")
    assert "--overrides overrides.json" in plan["run"]
    post = next(s for s in job["steps"] if "reconciler github comment" in s.get("run", ""))
    assert "--overrides overrides.json" in post["run"]


def test_a_fork_gets_a_red_plan_check_never_a_green_one() -> None:
    fork = load("plan.yml")["jobs"]["fork"]
    assert fork["name"] == "plan"  # the same check name as a planned pull request's
    assert fork["if"] == "github.event.pull_request.head.repo.full_name != github.repository"
    assert "environment" not in fork
    (step,) = fork["steps"]
    assert "plan unavailable for forks" in step["run"]
    assert "exit 1" in step["run"]
    assert "GITHUB_STEP_SUMMARY" in step["run"]
    assert "${{ secrets." not in str(fork)


def test_apply_workflow() -> None:
    wf = load("apply.yml")
    assert wf["on"]["push"]["branches"] == ["main"]
    assert wf["concurrency"] == {"group": "reconciler-apply", "cancel-in-progress": False, "queue": "max"}
    (job,) = wf["jobs"].values()
    assert job["environment"] == "production"
    runs = " ".join(s.get("run", "") for s in job["steps"])
    assert "reconciler apply --envelope" in runs
    assert '--summary-file "$SUMMARY"' in runs
    # The outcome goes back to the pull request, even when the apply failed or refused.
    post = next(s for s in job["steps"] if "reconciler github apply-result" in s.get("run", ""))
    assert post["if"].startswith("always()")
    assert 'cat "$SUMMARY" >> "$GITHUB_STEP_SUMMARY"' in post["run"]
    assert job["permissions"]["pull-requests"] == "write"
    # The journal records who started or re-ran the run, and who approved the environment.
    apply = next(s for s in job["steps"] if s["name"] == "Apply within the reviewed envelope")
    assert apply["env"]["RECONCILER_ACTOR"] == "${{ steps.who.outputs.actor }}"
    who = next(s for s in job["steps"] if s.get("id") == "who")
    assert who["env"]["TRIGGERING_ACTOR"] == "${{ github.triggering_actor }}"
    assert "/approvals" in who["run"]
    # A soft-mandatory denial's reviewed override path: a dispatched run of the protected environment.
    inputs = wf["on"]["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"override", "reason"}
    assert apply["env"]["OVERRIDE"] == "${{ inputs.override }}"
    assert '--override "$policy"' in apply["run"]
    assert '--reason "$REASON"' in apply["run"]
    assert "${{" not in apply["run"]  # inputs reach the shell as data
    # The tip of main is applied, with every change merged since the last apply (docs/gitops.md, "A sequence
    # of merges"); a commit older than the last applied one is refused by `apply --envelope` itself.
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["ref"] == "main"
    assert checkout["with"]["fetch-depth"] == 0
    find = next(s for s in job["steps"] if s.get("id") == "reviewed")
    assert 'reconciler github reviewed-plans --out "$REVIEWED"' in find["run"]
    assert find["env"]["REVIEWED"] == apply["env"]["REVIEWED"]
    assert '--envelope "$REVIEWED"' in apply["run"]
    names = [s["name"] for s in job["steps"]]
    assert names.index(find["name"]) < names.index("Apply within the reviewed envelope")
    # Plans are downloaded by reconciler (one per merged pull request), each archive checked against its
    # digest.
    assert not any(s.get("uses", "").startswith("actions/download-artifact@") for s in job["steps"])


def test_the_merge_queue_check_holds_no_credential_and_reads_the_batch_as_data() -> None:
    """A merge_group run takes its workflow file from the queue's branch: the job has no environment and no
    secret, runs the base's reconciler, and hands it the queue's tip as a git ref only. Its own file: plan.yml
    never runs on the queue's branch, so no skipped job there reports a `plan` check."""
    wf = load("plan-queue.yml")
    assert list(wf["on"]) == ["merge_group"]
    assert wf["on"]["merge_group"] == {"types": ["checks_requested"]}
    assert "merge_group" not in load("plan.yml")["on"]
    (job,) = wf["jobs"].values()
    assert job["name"] == "plan"  # the check branch protection requires, in the queue too
    assert "if" not in job
    assert "environment" not in job
    assert job["permissions"] == {"contents": "read", "actions": "read", "pull-requests": "read"}
    assert "secrets." not in str(job)
    trusted, queued = [s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")]
    assert trusted["with"]["ref"] == "${{ github.event.merge_group.base_sha }}"
    assert queued["with"]["path"] == ".queue"
    names = [s["name"] for s in job["steps"]]
    install = next(s for s in job["steps"] if "pip install" in s.get("run", ""))
    assert names.index(install["name"]) < names.index(queued["name"])  # installed before the batch is on disk
    keep = next(s for s in job["steps"] if ".queue" in s.get("run", ""))
    assert "rm -rf ./.queue" in keep["run"]
    check = next(s for s in job["steps"] if "reconciler github merge-group" in s.get("run", ""))
    assert "--head refs/reconciler/queue" in check["run"]
    assert "${{" not in check["run"]  # the event's values reach the shell as data


def test_apply_checks_the_setup_before_anything_else() -> None:
    job = load("apply.yml")["jobs"]["apply"]
    runs = [s for s in job["steps"] if "reconciler " in s.get("run", "")]
    assert runs[0]["run"] == "reconciler github doctor"
    assert runs[0]["env"] == {"GITHUB_TOKEN": "${{ secrets.RECONCILER_DOCTOR_TOKEN }}"}
    assert "if" not in runs[0]  # a failure stops the job: nothing is observed or sent


def test_apply_trusts_only_the_plan_workflow_artifact() -> None:
    """`github reviewed-plans` takes the artifact plan.yml names after the head commit, from plan.yml's runs
    on pull_request_target only: the constants it checks are this repository's workflow."""
    from reconciler.gitops.reviewed import PLAN_WORKFLOW, artifact_name

    wf = load(Path(PLAN_WORKFLOW).name)
    assert (ROOT / PLAN_WORKFLOW).is_file()
    assert "pull_request_target" in wf["on"]
    upload = next(s for s in steps(wf) if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["name"] == artifact_name("${{ github.event.pull_request.head.sha }}")
    assert upload["with"]["path"] == "plan.json"


def test_drift_workflow() -> None:
    wf = load("drift.yml")
    assert "schedule" in wf["on"]
    assert wf["on"]["schedule"][0]["cron"]
    (job,) = wf["jobs"].values()
    assert job["permissions"] == {"contents": "read", "issues": "write"}
    runs = " ".join(s.get("run", "") for s in job["steps"])
    assert "reconciler status --out" in runs
    assert "reconciler github drift-issue --status" in runs


def test_the_drift_schedule_falls_inside_the_us_session_in_winter_and_summer() -> None:
    """GitHub's cron is UTC; New York moves between UTC-5 and UTC-4. Reproduced: 14:23 UTC was 09:23 in
    winter, before the 09:30 open, so drift was measured on the previous close with the market shut."""
    from datetime import UTC, datetime, time
    from zoneinfo import ZoneInfo

    (entry,) = load("drift.yml")["on"]["schedule"]
    minute, hour, _, _, weekdays = entry["cron"].split()
    assert weekdays == "1-5"
    for day in (datetime(2026, 1, 14, tzinfo=UTC), datetime(2026, 7, 15, tzinfo=UTC)):  # EST, then EDT
        at = day.replace(hour=int(hour), minute=int(minute)).astimezone(ZoneInfo("America/New_York"))
        assert time(9, 30) < at.time() < time(16, 0), at


def test_pre_commit_hooks_run_commands_that_exist() -> None:
    hooks = YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hooks] == ["reconciler-validate", "reconciler-fmt"]
    from reconciler.cli.main import COMMANDS

    for h in hooks:
        assert h["language"] == "python"
        assert h["entry"].split()[0] == "reconciler"
        assert h["entry"].split()[1] in COMMANDS
        re.compile(h["files"])
    assert re.search(hooks[0]["files"], "portfolios/models/balanced-60-40.yaml")
    assert re.search(hooks[0]["files"], "reconciler.yaml")
    assert re.search(hooks[0]["files"], "policies/x.rego")
