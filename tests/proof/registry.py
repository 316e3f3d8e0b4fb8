"""Every axis the proof mutates the workspace along, in one list: adding an axis is adding one entry here.

tests/proof/test_invariant.py draws its cases from AXES (each case picks an axis, then a mutation from it) and
fails when an axis was never drawn in a run.
"""

from __future__ import annotations

from tests.proof import axes, axes_judged
from tests.proof.workspace import Axis

YAMLS = tuple(axes.YAML_FILES)
AXES: list[Axis] = [
    Axis("file-kind", "1", tuple(axes.FILES), axes.file_kind()),
    Axis("file-size", "1", tuple(axes.FILES), axes.file_size()),
    Axis("encoding", "1", tuple(axes.FILES), axes.encoding()),
    Axis("config-path", "1", ("reconciler.yaml",), axes.config_path()),
    Axis("yaml-nesting", "2", YAMLS, axes.yaml_nesting()),
    Axis("yaml-alias", "2", YAMLS, axes.yaml_alias()),
    Axis("yaml-coerced-key", "2", YAMLS, axes.yaml_coerced_key()),
    Axis("yaml-duplicate-key", "2", YAMLS, axes.yaml_duplicate_key()),
    Axis("yaml-long-key", "2", YAMLS, axes.yaml_long_key()),
    Axis("yaml-value", "2", YAMLS, axes.yaml_value()),
    Axis("yaml-noop", "2", YAMLS, axes.yaml_noop()),
    Axis("csv-prices", "2", ("prices.csv",), axes.csv_rows()),
    Axis("plan-duplicate-key", "2", ("saved-plan.json",), axes_judged.plan_json()),
    Axis("plan-types", "2", ("saved-plan.json",), axes_judged.plan_types()),
    Axis("quote", "3", ("reconciler.yaml",), axes_judged.quote()),
    Axis("plan-verdict", "4", ("saved-plan.json",), axes_judged.plan_verdict()),
    Axis("policy", "5", ("policies/proof.rego",), axes_judged.policy()),
    Axis("hostile-text", "6", ("portfolios/alpha.yaml", "portfolios/beta.yaml", "reconciler.yaml",
                               "policies/deny_list.rego"), axes_judged.hostile_text()),
]
