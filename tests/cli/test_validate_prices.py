"""`validate` warns about a symbol the configured price source has never seen (issue 27, section 1): a typo
such as VNQQ passed validate, and plan then blocked the portfolio."""

from __future__ import annotations

from tests.conftest import Workspace


def _typo(workspace: Workspace) -> None:
    path = workspace.root / "portfolios" / "college-fund.yaml"
    path.write_text(path.read_text().replace("BND: 0.30", "VNQQ: 0.30"))


def test_validate_names_a_target_the_price_source_has_never_seen(workspace: Workspace) -> None:
    _typo(workspace)
    r = workspace.run("validate")
    assert "college-fund.yaml): VNQQ has no price in broker.prices" in r.out


def test_an_unpriced_symbol_is_a_warning_not_an_error(workspace: Workspace) -> None:
    _typo(workspace)
    assert workspace.run("validate").code == 0


def test_validate_says_nothing_of_prices_when_every_symbol_has_one(workspace: Workspace) -> None:
    assert "no price" not in workspace.run("validate").out
