"""Regenerate the pictures in docs/images/ as their readers see them: the plan comment rendered like GitHub
renders it, `reconciler plan` in a terminal 100 and 120 columns wide, and the backtest report in a browser.

    make screenshots        # or: .venv/bin/python -m tools.screenshots [--only NAME] [--prices FILE]

Needs headless Chromium (`apt-get install -y chromium`; CI does not run this) and the [dev] extra
(markdown-it-py comes with rich; the backtest needs numpy, pandas, matplotlib and skfolio's bundled prices, or
--prices). The content is the demo workspace's (reconciler.yaml, portfolios/, the paper broker) planned on a
fresh journal in a temporary folder, so the repository's own journal is never touched; the backtest is the
README's command.

Mermaid: GitHub draws ```mermaid blocks with mermaid.js, which no Python package ships. Given its file, the
page inlines it and Chromium draws the charts offline; without it the blocks show as code:

    npm install --prefix /tmp/mermaid mermaid@11
    make screenshots SCREENSHOT_ARGS="--mermaid-js /tmp/mermaid/node_modules/mermaid/dist/mermaid.min.js"
"""

from __future__ import annotations

import argparse
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
RECONCILER = [sys.executable, "-m", "reconciler.cli.main"]
MAX_BYTES = 300_000
GITHUB_COMMENT_WIDTH = 780  # px: the comment column of a pull request on a desktop screen
BACKTEST = [
    "-c", "examples/backtest/reconciler.yaml", "backtest", "sp500-20", "--start", "2000-01-01",
    "--strategy", "never", "--strategy", "calendar:quarterly", "--strategy", "threshold:rel=0.25",
    "--strategy", "calendar-threshold:annual,rel=0.25", "--strategy", "opportunistic",
    "--cash", "100000", "--contribution", "500", "--every", "monthly", "--tax-short", "0.35", "--tax-long",
    "0.15",
    "--lots", "hifo", "--no-progress",
]

# A compact stand-in for GitHub's markdown stylesheet (primer's markdown-body): fonts, tables, code, details.
GITHUB_CSS = """
body { margin: 0; background: #fff; }
.comment { width: %(width)spx; margin: 16px; border: 1px solid #d0d7de; border-radius: 6px; }
.comment-header { background: #f6f8fa; border-bottom: 1px solid #d0d7de; padding: 8px 16px; color: #57606a;
  font: 14px -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; }
.markdown-body { padding: 16px; color: #1f2328; font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI",
  "Noto Sans", Helvetica, Arial, sans-serif; word-wrap: break-word; overflow-x: auto; }
.markdown-body h1, .markdown-body h2, .markdown-body h3 {
  margin: 24px 0 16px; font-weight: 600; line-height: 1.25; }
.markdown-body h1 { font-size: 2em; padding-bottom: .3em; border-bottom: 1px solid #d0d7de; }
.markdown-body h2 { font-size: 1.5em; padding-bottom: .3em; border-bottom: 1px solid #d0d7de; }
.markdown-body h3 { font-size: 1.25em; }
.markdown-body > :first-child { margin-top: 0; }
.markdown-body p, .markdown-body ul, .markdown-body ol, .markdown-body table, .markdown-body pre,
.markdown-body details, .markdown-body blockquote { margin: 0 0 16px; }
.markdown-body ul, .markdown-body ol { padding-left: 2em; }
.markdown-body table { border-spacing: 0; border-collapse: collapse; display: block; width: max-content;
  max-width: 100%%; overflow: auto; font-variant: tabular-nums; }
.markdown-body table th { font-weight: 600; }
.markdown-body table th, .markdown-body table td { padding: 6px 13px; border: 1px solid #d0d7de; }
.markdown-body table tr { background: #fff; border-top: 1px solid #d1d9e0b3; }
.markdown-body table tr:nth-child(2n) { background: #f6f8fa; }
.markdown-body code { padding: .2em .4em; font-size: 85%%; background: #818b981f; border-radius: 6px;
  font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace; }
.markdown-body pre { padding: 16px; overflow: auto; font-size: 85%%; line-height: 1.45; background: #f6f8fa;
  border-radius: 6px; }
.markdown-body pre code { padding: 0; background: transparent; font-size: 100%%; }
.markdown-body blockquote { padding: 0 1em; color: #59636e; border-left: .25em solid #d0d7de; }
.markdown-body summary { cursor: pointer; display: list-item; }
.markdown-body hr { height: .25em; padding: 0; margin: 24px 0; background: #d0d7de; border: 0; }
.markdown-body a { color: #0969da; text-decoration: none; }
"""


def run_cli(argv: list[str], env: dict[str, str], ok: tuple[int, ...] = (0, 1, 2)) -> str:
    """Run the CLI as a user would (a new process, from the repository's root) and return its output."""
    done = subprocess.run(
        [*RECONCILER, *argv], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode not in ok or not done.stdout.strip():
        sys.exit(f"reconciler {' '.join(argv)} exited {done.returncode}:\n{done.stderr}")
    return done.stdout


def run_in_terminal(argv: list[str], env: dict[str, str], columns: int, rows: int = 50) -> str:
    """Run the CLI with its stdout on a pseudo-terminal of the given size; return what it wrote (ANSI
    included)."""
    import fcntl
    import struct
    import termios

    main, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    term_env = {**env, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows)}
    term_env.pop("NO_COLOR", None)
    proc = subprocess.Popen([*RECONCILER, *argv], cwd=ROOT, env=term_env, stdout=secondary,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    os.close(secondary)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(main)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("headless Chromium is needed: apt-get install -y chromium")


def screenshot(page: Path, out: Path, width: int, height: int, wait_ms: int = 0) -> None:
    """Render `page` in headless Chromium at width × height, crop the blank bottom, write a small PNG."""
    with tempfile.TemporaryDirectory() as profile:
        argv = [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--no-first-run", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
            f"--user-data-dir={profile}", f"--window-size={width},{height}", f"--screenshot={out}",
        ]
        if wait_ms:
            argv.append(f"--virtual-time-budget={wait_ms}")
        subprocess.run([*argv, page.as_uri()], check=True, capture_output=True, timeout=180)
    _shrink(out)


def _shrink(path: Path) -> None:
    """Crop the white below the content and store with a palette (screenshots have few colours)."""
    from PIL import Image, ImageChops

    image = Image.open(path).convert("RGB")
    box = ImageChops.difference(image, Image.new("RGB", image.size, (255, 255, 255))).getbbox()
    if box is not None:
        image = image.crop((0, 0, image.width, min(image.height, box[3] + 16)))
    small = image.quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    size = path.stat().st_size
    if size > MAX_BYTES:
        print(f"warning: {path.name} is {size:,} bytes (over {MAX_BYTES:,})", file=sys.stderr)


def demo_env(work: Path) -> dict[str, str]:
    """The demo workspace on a fresh journal of its own: the paper broker's books start as reconciler.yaml
    says."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS")}
    env["RECONCILER_JOURNAL_URL"] = f"sqlite:///{work / 'journal.db'}"
    return env


# GitHub turns these shortcodes into emoji; the comment uses these (reconciler/render, reconciler/gitops).
EMOJI = {
    "warning": "\u26a0\ufe0f", "x": "\u274c", "lock": "\U0001f512", "unlock": "\U0001f513",
    "white_check_mark": "\u2705", "no_entry": "\u26d4", "information_source": "\u2139\ufe0f",
    "hourglass_flowing_sand": "\u23f3", "grey_question": "\u2754",
}


def markdown_page(markdown: str, mermaid_js: Path | None) -> str:
    """The comment as GitHub renders it: CommonMark with GFM tables and strikethrough, HTML blocks allowed."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    body = re.sub(r":([a-z_]+):", lambda m: EMOJI.get(m.group(1), m.group(0)), md.render(markdown))
    script = ""
    if mermaid_js is not None:
        body = re.sub(
            r'<pre><code class="language-mermaid">(.*?)</code></pre>',
            lambda m: f'<pre class="mermaid">{m.group(1)}</pre>',
            body,
            flags=re.DOTALL,
        )
        script = (f"<script>{mermaid_js.read_text()}</script>"
                  "<script>mermaid.initialize({startOnLoad: true, theme: 'default'});</script>")
    css = GITHUB_CSS % {"width": GITHUB_COMMENT_WIDTH}
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><style>{css}</style></head><body>"
        f"<div class='comment'><div class='comment-header'><b>github-actions</b> bot commented</div>"
        f"<div class='markdown-body'>{body}</div></div>{script}</body></html>"
    )


def terminal_svg(ansi: str, columns: int, title: str) -> str:
    """Terminal output (ANSI) as rich draws a terminal window in SVG."""
    import io

    from rich.console import Console
    from rich.text import Text

    console = Console(
        record=True, width=columns, file=io.StringIO(), force_terminal=True, color_system="truecolor"
    )
    console.print(Text.from_ansi(ansi), soft_wrap=True)
    return console.export_svg(title=title)


def shoot_comment(work: Path, args: argparse.Namespace) -> None:
    markdown = run_cli(["plan", "--format", "markdown"], demo_env(work))
    page = work / "comment.html"
    page.write_text(markdown_page(markdown, args.mermaid_js))
    screenshot(page, IMAGES / "plan-comment.png", GITHUB_COMMENT_WIDTH + 40, 4000,
               wait_ms=5000 if args.mermaid_js else 0)


def shoot_terminal(work: Path, args: argparse.Namespace) -> None:
    for columns in (100, 120):
        ansi = run_in_terminal(["plan"], demo_env(work), columns)
        svg = terminal_svg(ansi, columns, f"reconciler plan ({columns} columns)")
        width = int(float(re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"',
                                    svg).group(1)))  # type: ignore[union-attr]
        page = work / f"terminal-{columns}.html"
        page.write_text(f"<!doctype html><html><body style='margin:0;background:#fff'>{svg}</body></html>")
        screenshot(page, IMAGES / f"plan-terminal-{columns}.png", width, 2400)


def shoot_backtest(work: Path, args: argparse.Namespace) -> None:
    source = ["--prices", str(args.prices)] if args.prices else ["--dataset", "sp500"]
    report = work / "backtest.html"
    run_cli([*BACKTEST, *source, "--report", str(report)], demo_env(work), ok=(0,))
    screenshot(report, IMAGES / "backtest-report.png", 1280, 5000)


SHOTS: dict[str, Callable[[Path, argparse.Namespace], None]] = {
    "comment": shoot_comment,
    "terminal": shoot_terminal,
    "backtest": shoot_backtest,
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=sorted(SHOTS), action="append", help="one picture (repeatable); default"
                   " all")
    p.add_argument("--prices", type=Path, help="price CSV for the backtest (default: skfolio's bundled"
                   " sp500)")
    p.add_argument("--mermaid-js", type=Path, help="mermaid.min.js to draw the comment's chart (default: as"
                   " code)")
    args = p.parse_args()
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="reconciler-shots-") as tmp:
        for name in args.only or list(SHOTS):
            SHOTS[name](Path(tmp), args)
            print(f"{name}: done")
    for png in sorted(IMAGES.glob("*.png")):
        print(f"{png.relative_to(ROOT)}  {png.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
