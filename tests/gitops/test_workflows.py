"""The GitHub Actions workflows: actionlint (with shellcheck) and zizmor find nothing; the GitOps rules hold."""

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
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # shellcheck for run: scripts
    done = subprocess.run(
        [tool("actionlint"), "-no-color", *sorted(str(p) for p in WORKFLOWS.glob("*.yml"))],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert tool("shellcheck")


@pytest.mark.parametrize("persona", ["regular", "pedantic"])
def test_zizmor_finds_nothing(persona: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "GH_TOKEN", "ZIZMOR_GITHUB_TOKEN")}
    done = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", "--color", "never", "--persona", persona, str(WORKFLOWS)],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout


def test_the_three_workflows_exist() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == ["apply.yml", "drift.yml", "plan.yml"]


@pytest.mark.parametrize("name", ["plan.yml", "apply.yml", "drift.yml"])
def test_actions_pinned_by_sha_and_least_privilege(name: str) -> None:
    wf = load(name)
    for step in steps(wf):
        if "uses" in step:
            assert PINNED.match(step["uses"]), step["uses"]
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
    assert wf["permissions"] == {}  # nothing by default; each job asks for what it uses
    for job in wf["jobs"].values():
        assert set(job["permissions"].values()) <= {"read", "write"} and "contents" in job["permissions"]
        assert job["timeout-minutes"] <= 30


def test_plan_workflow() -> None:
    wf = load("plan.yml")
    assert wf["on"]["pull_request"]["paths"] == ["portfolios/**", "policies/**", "reconciler.yaml"]
    (job,) = wf["jobs"].values()
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    runs = " ".join(s.get("run", "") for s in job["steps"])
    assert "reconciler validate" in runs and "reconciler plan --base" in runs and "--out plan.json" in runs
    assert "reconciler github comment --pr" in runs
    assert any(s.get("uses", "").startswith("actions/upload-artifact@") for s in job["steps"])
    fork = next(s for s in job["steps"] if "fork" in s["name"].lower())
    assert fork["if"] == "github.event.pull_request.head.repo.full_name != github.repository"
    assert "no secrets" in fork["run"] and "GITHUB_STEP_SUMMARY" in fork["run"]
    assert "plan unavailable for forks" in fork["run"] and "exit 1" in fork["run"]  # never green without a plan
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["overwrite"] is True  # re-running the plan job works
    secret_steps = [s for s in job["steps"] if "secrets." in str(s.get("env", {}))]
    assert secret_steps and all(s["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
                                for s in secret_steps)


def test_apply_workflow() -> None:
    wf = load("apply.yml")
    assert wf["on"]["push"]["branches"] == ["main"]
    assert wf["concurrency"] == {"group": "reconciler-apply", "cancel-in-progress": False, "queue": "max"}
    (job,) = wf["jobs"].values()
    assert job["environment"] == "production"
    runs = " ".join(s.get("run", "") for s in job["steps"])
    assert "reconciler apply --envelope" in runs and '--summary-file "$GITHUB_STEP_SUMMARY"' in runs
    assert any(s.get("uses", "").startswith("actions/download-artifact@") for s in job["steps"])
    # Only the current commit is applied: the tip of main, and never one older than the last applied.
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    tip = next(s for s in job["steps"] if "tip of main" in s["name"])
    assert 'gh api "repos/$REPO/commits/main"' in tip["run"] and "exit 1" in tip["run"]
    names = [s["name"] for s in job["steps"]]
    assert names.index(tip["name"]) < names.index("Apply within the reviewed envelope")


def test_drift_workflow() -> None:
    wf = load("drift.yml")
    assert "schedule" in wf["on"] and wf["on"]["schedule"][0]["cron"]
    (job,) = wf["jobs"].values()
    assert job["permissions"] == {"contents": "read", "issues": "write"}
    runs = " ".join(s.get("run", "") for s in job["steps"])
    assert "reconciler status --out" in runs and "reconciler github drift-issue --status" in runs


def test_pre_commit_hooks_run_commands_that_exist() -> None:
    hooks = YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hooks] == ["reconciler-validate", "reconciler-fmt"]
    from reconciler.cli.main import COMMANDS

    for h in hooks:
        assert h["language"] == "python" and h["entry"].split()[0] == "reconciler"
        assert h["entry"].split()[1] in COMMANDS
        re.compile(h["files"])
    assert re.search(hooks[0]["files"], "portfolios/models/balanced-60-40.yaml")
    assert re.search(hooks[0]["files"], "reconciler.yaml") and re.search(hooks[0]["files"], "policies/x.rego")
