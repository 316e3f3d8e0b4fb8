"""What-if in the plan comment: a pull request's old and new targets, read at its base and head commits of a
real git repository, backtested side by side on the prices `what_if` configures; missing symbols, no price
source, no numpy, a price file outside the repository: the plan is posted all the same."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from reconciler.backtest.data import load_prices
from reconciler.backtest.whatif import Change, compare
from reconciler.gitops.refs import targets_at
from reconciler.render.markdown import what_if_blocks
from reconciler.workspace.loader import load_config, load_workspace
from tests.builders import price_csv
from tests.conftest import Workspace, edit_yaml
from tests.gitops.conftest import Git
from tests.gitops.fake_github import FakeGitHub

SYMBOLS = ("VTI", "VXUS", "BND", "BNDX", "VNQ", "GLD")
MODEL = "portfolios/models/balanced-60-40.yaml"


def configure(workspace: Workspace, **what_if: object) -> None:
    edit_yaml(workspace.config, lambda d: d.__setitem__("what_if", dict(what_if)))


def tilt(workspace: Workspace) -> None:
    """The pull request: ten points from bonds to stocks in the model alice-ira follows."""
    edit_yaml(workspace.root / MODEL, lambda d: d["spec"]["targets"].update({"VTI": 0.46, "BND": 0.18}))


@pytest.fixture
def changed(workspace: Workspace, git_repo: Git) -> Git:
    """Prices in the repository and a what_if on them at the base commit; the head commit tilts the model."""
    price_csv(workspace.root / "closes.csv", SYMBOLS, days=600)
    configure(workspace, prices="closes.csv", years=2, tax_short=0.35, tax_long=0.15)
    git_repo.commit_all("what-if prices")
    tilt(workspace)
    git_repo.commit_all("alice: more stocks")
    return git_repo


def expected_section(workspace: Workspace) -> str:
    """The section computed here from the targets at HEAD~1 (old) and in the working tree (new), by the same
    backtest and renderer: the command must have read the same commits."""
    config = load_config(workspace.config)
    old = next(d for d in targets_at(workspace.config, "HEAD~1").portfolios if d.name == "alice-ira")
    new = next(d for d in load_workspace(workspace.config).portfolios if d.name == "alice-ira")
    table = load_prices(workspace.root / "closes.csv")
    from dataclasses import replace

    from reconciler.runtime import Runtime

    costs = Runtime(config_path=workspace.config, read_only=True).costs
    table = replace(table, source="closes.csv")
    report = compare([Change("alice-ira", old, new)], table, config.what_if, costs)
    return "".join(what_if_blocks(report))


def test_the_comment_backtests_the_base_commits_targets_against_the_heads(
    workspace: Workspace, changed: Git
) -> None:
    r = workspace.run("plan", "--base", "HEAD~1", "--format", "markdown")
    assert r.code in (0, 1), r.err
    assert expected_section(workspace) in r.out


def test_old_and_new_targets_give_different_figures(workspace: Workspace, changed: Git) -> None:
    r = workspace.run("plan", "--base", "HEAD~1", "--format", "markdown")
    cagr = next(line for line in r.out.splitlines() if line.startswith("| CAGR |"))
    old, new = cagr.split("|")[2:4]
    assert old.strip() != new.strip()


def test_the_section_is_folded_with_a_mermaid_chart_of_both_paths(workspace: Workspace, changed: Git) -> None:
    r = workspace.run("plan", "--base", "HEAD~1", "--format", "markdown")
    section = r.out.split("<details><summary>What if: <b>alice-ira</b>", 1)[1].split("</details>", 1)[0]
    chart = section.split("```mermaid\n", 1)[1].split("```", 1)[0]
    kinds = [line.split()[0] for line in chart.splitlines()[1:]]
    assert kinds == ["xychart-beta", "x-axis", "y-axis", "line", "line"]


def test_the_chart_spans_the_configured_window_in_years(workspace: Workspace, changed: Git) -> None:
    r = workspace.run("plan", "--base", "HEAD~1", "--format", "markdown")
    axis = next(line for line in r.out.splitlines() if line.startswith('  x-axis "year" '))
    first, _, last = axis.removeprefix('  x-axis "year" ').partition(" --> ")
    assert round(float(last) - float(first), 1) == 2.0  # what_if.years


def test_only_portfolios_whose_targets_change_are_backtested(workspace: Workspace, changed: Git) -> None:
    r = workspace.run("plan", "--base", "HEAD~1", "--format", "markdown")
    assert r.out.count("<details><summary>What if:") == 1


def test_the_github_comment_carries_the_section(
    workspace: Workspace, changed: Git, github: FakeGitHub, tmp_path: Path
) -> None:
    made = tmp_path / "plan.json"
    assert workspace.run("plan", "--base", "HEAD~1", "--out", str(made)).code in (0, 1)
    github.add_pull(4)
    r = workspace.run("github", "comment", "--pr", "4", "--plan", str(made))
    assert r.code == 0, r.err
    assert expected_section(workspace) in github.ours(4)[0]["body"]


def test_a_proposal_is_backtested_with_the_trusted_checkouts_prices_and_settings(
    workspace: Workspace, git_repo: Git
) -> None:
    """The pull request's own what_if (a file that exists nowhere) is never used: the default branch's is."""
    price_csv(workspace.root / "closes.csv", SYMBOLS, days=600)
    configure(workspace, prices="closes.csv", years=2)
    git_repo.commit_all("what-if prices")
    git_repo("checkout", "-q", "-b", "pr")
    tilt(workspace)
    configure(workspace, prices="elsewhere.csv", years=1)
    git_repo.commit_all("alice: more stocks, and another price file")
    git_repo("checkout", "-q", "main")
    r = workspace.run("plan", "--proposed", "pr", "--base", "main", "--format", "markdown")
    assert r.code in (0, 1), r.err
    assert "of `closes.csv` through the planner" in r.out


def test_missing_symbols_are_named_and_the_plan_still_posts(
    workspace: Workspace, git_repo: Git, github: FakeGitHub, tmp_path: Path
) -> None:
    price_csv(workspace.root / "closes.csv", ("VTI", "BND", "VNQ"), days=300)
    configure(workspace, prices="closes.csv", years=1)
    git_repo.commit_all("what-if prices without VXUS and BNDX")
    tilt(workspace)
    git_repo.commit_all("alice: more stocks")
    made = tmp_path / "plan.json"
    assert workspace.run("plan", "--base", "HEAD~1", "--out", str(made)).code in (0, 1)
    github.add_pull(5)
    assert workspace.run("github", "comment", "--pr", "5", "--plan", str(made)).code == 0
    assert ("- :information_source: What if for `alice-ira`: no prices for BNDX, VXUS in closes.csv: add a"
            " column per symbol to backtest it") in github.ours(5)[0]["body"]


def test_without_a_price_source_there_is_no_section_and_no_warning(
    workspace: Workspace, git_repo: Git
) -> None:
    tilt(workspace)
    git_repo.commit_all("alice: more stocks")
    r = workspace.run("plan", "--base", "HEAD~1", "--format", "markdown")
    assert r.code in (0, 1), r.err
    assert "What if" not in r.out
    assert "what-if" not in r.err.lower()


def test_without_numpy_the_section_is_one_line(
    workspace: Workspace, changed: Git, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "numpy", None)  # what `import numpy` meets without the extra
    r = workspace.run("plan", "--base", "HEAD~1", "--format", "markdown")
    assert r.code in (0, 1), r.err
    assert ("- :information_source: What if: not run: the backtest needs numpy and pandas (numpy is not"
            " installed); pip install 'reconciler\\[backtest\\]' in the plan job") in r.out


def test_a_price_file_outside_the_repository_is_refused_and_the_plan_still_posts(
    workspace: Workspace, git_repo: Git, tmp_path: Path
) -> None:
    price_csv(tmp_path / "outside.csv", SYMBOLS, days=300)
    (workspace.root / "closes.csv").symlink_to(tmp_path / "outside.csv")
    configure(workspace, prices="closes.csv", years=1)
    git_repo.commit_all("what-if prices, through a link")
    tilt(workspace)
    git_repo.commit_all("alice: more stocks")
    r = workspace.run("plan", "--base", "HEAD~1", "--format", "markdown")
    assert r.code in (0, 1), r.err
    assert "- :information_source: What if: not run: resolves to " in r.out
