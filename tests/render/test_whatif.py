"""The what-if section as rendered: figures side by side with the change, a new portfolio alone, a note where
it did not run, and a comment that stays within GitHub's limit however many portfolios carry one."""

from __future__ import annotations

import re

from reconciler.core.changes import WhatIfReport, WhatIfResult, WhatIfSide
from reconciler.render.markdown import COMMENT_LIMIT, Proposal, plan_comment, size, what_if_blocks
from reconciler.render.whatif import chart
from tests.gitops.test_comment_render import big_plan


def side(label: str, value: float, *, points: int = 60) -> WhatIfSide:
    path = tuple(100_000 + (value - 100_000) * k / (points - 1) for k in range(points))
    return WhatIfSide(label=label, final_value=value, after_tax_value=value - 1_000, cagr=0.05,
                      volatility=0.1, max_drawdown=-0.2, turnover=0.04, rebalances=7, costs=120.0,
                      taxes=900.0, path=path)


def report(*results: WhatIfResult, **fields: object) -> WhatIfReport:
    base: dict[str, object] = dict(source="closes.csv", rule="threshold", start="2015-01-02",
                                   end="2024-12-31", rows=2_515, cash=100_000.0, costs="slippage 5 bps",
                                   taxes="none")
    return WhatIfReport(portfolios=results, **{**base, **fields})  # type: ignore[arg-type]


def test_both_sides_and_their_difference_are_in_one_row() -> None:
    text = "".join(what_if_blocks(report(WhatIfResult("p", sides=(side("old targets", 150_000.0),
                                                                   side("new targets", 162_345.4))))))
    assert "| final value | $150,000 | $162,345 | +$12,345 |" in text


def test_a_new_portfolio_shows_its_new_targets_alone() -> None:
    text = "".join(what_if_blocks(report(WhatIfResult("p", sides=(side("new targets", 120_000.0),)))))
    assert "| | new targets |\n|---|---:|\n| final value | $120,000 |" in text


def test_a_portfolio_that_did_not_run_is_one_line_saying_why() -> None:
    text = "".join(what_if_blocks(report(WhatIfResult("p", missing=("GLD",), note="no prices for GLD"))))
    assert text == "- :information_source: What if for `p`: no prices for GLD\n\n"


def test_a_note_from_outside_is_escaped() -> None:
    text = "".join(what_if_blocks(WhatIfReport(note="not run: <img src=x> [link](http://x)")))
    assert "\\<img src=x\\> \\[link\\](http://x)" in text


def test_the_chart_draws_one_line_per_side_in_whole_dollars() -> None:
    result = WhatIfResult("p", sides=(side("old targets", 150_000.0), side("new targets", 170_000.5)))
    lines = chart(report(result), result).splitlines()
    assert [len(re.findall(r"\d+", line)) for line in lines if line.startswith("  line [")] == [60, 60]


def many() -> WhatIfReport:
    sides = (side("old targets", 150_000.0), side("new targets", 160_000.0))
    return report(*(WhatIfResult(f"portfolio-{k:04d}", sides=sides) for k in range(40)))


def test_many_portfolios_with_a_what_if_stay_within_githubs_limit() -> None:
    bodies = plan_comment(big_plan(40, 10), proposal=Proposal(what_if=many()))
    assert len(bodies) > 1  # the what-ifs took it past one comment
    assert max(size(b) for b in bodies) <= COMMENT_LIMIT


def test_the_what_ifs_come_after_every_portfolio_and_before_the_footer() -> None:
    whole = "".join(plan_comment(big_plan(40, 10), proposal=Proposal(what_if=many())))
    assert whole.rindex("\n### portfolio-") < whole.index("<details><summary>What if:")
    assert whole.rindex("</details>") < whole.rindex("<sub>plan ")
