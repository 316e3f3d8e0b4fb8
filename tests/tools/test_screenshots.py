"""tools/screenshots.py without a browser: the comment page renders like GitHub (GFM tables, emoji shortcodes,
mermaid drawn only when its script is given) and the terminal picture is as wide as the terminal."""

from __future__ import annotations

import re
from pathlib import Path

from tools import screenshots

TABLE = "| side | qty |\n|---|---:|\n| buy | 124 |\n"
MERMAID = "```mermaid\nxychart-beta\n  bar [1, 2]\n```\n"


def test_the_comment_page_renders_gfm_tables() -> None:
    assert "<table>" in screenshots.markdown_page(TABLE, None)


def test_the_comment_page_turns_shortcodes_into_emoji() -> None:
    assert "\u26a0\ufe0f max_turnover" in screenshots.markdown_page(":warning: max_turnover\n", None)


def test_without_mermaid_js_the_chart_shows_as_code() -> None:
    assert '<code class="language-mermaid">' in screenshots.markdown_page(MERMAID, None)


def test_with_mermaid_js_the_chart_is_drawn_by_the_inlined_script(tmp_path: Path) -> None:
    js = tmp_path / "mermaid.min.js"
    js.write_text("/* mermaid */")
    page = screenshots.markdown_page(MERMAID, js)
    assert re.search(
        r'<pre class="mermaid">xychart-beta.*</pre>.*<script>/\* mermaid \*/</script>', page, re.DOTALL
    )


def _svg_width(svg: str) -> float:
    found = re.search(r'viewBox="0 0 ([\d.]+) ', svg)
    assert found is not None
    return float(found.group(1))


def test_the_terminal_picture_is_as_wide_as_its_terminal() -> None:
    ansi = "\x1b[1m# portfolio 'alice-ira'\x1b[0m " + "x" * 150
    assert _svg_width(screenshots.terminal_svg(ansi, 100, "t")) < _svg_width(
        screenshots.terminal_svg(ansi, 120, "t")
    )
