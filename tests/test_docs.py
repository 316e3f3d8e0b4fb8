"""Published artefacts stay in step with the code."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.core.models import Plan

ROOT = Path(__file__).resolve().parent.parent


def test_plan_json_schema_is_current() -> None:
    published = json.loads((ROOT / "docs" / "plan.schema.json").read_text())
    assert published == Plan.model_json_schema(mode="serialization"), "run `make schema` and commit the result"


def test_readme_quick_start_names_make_targets() -> None:
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "make demo" in readme
    assert "make test" in readme
    assert "\ndemo:" in makefile
    assert "\ntest:" in makefile


def test_the_mutation_doc_names_a_make_target_that_exists() -> None:
    assert "make mutate" in (ROOT / "docs" / "mutation.md").read_text()
    assert "\nmutate:" in (ROOT / "Makefile").read_text()
