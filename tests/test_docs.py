"""Published artefacts stay in step with the code."""

from __future__ import annotations

import json
import re
from pathlib import Path

from reconciler.core.models import Plan

ROOT = Path(__file__).resolve().parent.parent


def test_plan_json_schema_is_current() -> None:
    published = json.loads((ROOT / "docs" / "plan.schema.json").read_text())
    assert published == Plan.model_json_schema(mode="serialization"), ("run `make schema` and commit the"
                                                                       " result")


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


IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")


def _images(doc: Path) -> list[Path]:
    links = [a or b for a, b in IMAGE_LINK.findall(doc.read_text())]
    return [(doc.parent / link).resolve() for link in links if "://" not in link]


def test_every_picture_the_docs_show_exists() -> None:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    missing = [str(p.relative_to(ROOT)) for doc in docs for p in _images(doc) if not p.is_file()]
    assert missing == [], "run `make screenshots` (tools/screenshots.py) and commit docs/images/"


def test_the_readme_shows_the_plan_comment_and_the_backtest_report() -> None:
    shown = {p.name for p in _images(ROOT / "README.md")}
    assert {"plan-comment.png", "backtest-report.png"} <= shown


def test_every_screenshot_is_made_by_the_script_and_stays_small() -> None:
    script = (ROOT / "tools" / "screenshots.py").read_text()
    for png in sorted((ROOT / "docs" / "images").glob("*.png")):
        assert png.name.removesuffix(".png").split("-")[0] in script, (f"{png.name}: not made by"
                                                                       " tools/screenshots.py")
        assert png.stat().st_size < 300_000, f"{png.name}: {png.stat().st_size:,} bytes"


def test_the_screenshots_have_a_make_target() -> None:
    assert "\nscreenshots:" in (ROOT / "Makefile").read_text()
