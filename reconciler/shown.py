"""Text from outside (policy messages, portfolio names, symbols, a broker's words) is shown as text: one
escaper per kind of output, applied where that output leaves the process, so no value can reach it unescaped.

- terminal (stdout and stderr, which are also CI's log): control characters — ANSI escapes, C0 and C1
  controls, bidirectional overrides and isolates — are written as visible escapes (`\\x1b`, `\\u202e`), and a
  line that GitHub Actions would read as a workflow command (`::set-output`, `::add-mask`, `::error` after
  optional blanks, per the runner's ActionCommand.TryParseV2, or `##[` anywhere in the line, its v1 form) is
  broken by a backslash. On a real terminal the colour codes our renderer adds (SGR, `ESC [ … m`) are kept;
  elsewhere nothing of ESC is.
- log records: the text formatter writes each record's message through `terminal` (the JSON formatter needs
  nothing: JSON escapes every control and non-ASCII character, and a line starting with `{` is no command).
- markdown (pull-request comments, issues and the job summary): the same control characters become visible
  escapes, and a mention (`@team`) or a reference (`#123`, `GH-123`) gets a zero-width space after its sign,
  so GitHub neither notifies nor links (its autolinking runs on the rendered text, which backslash escapes do
  not survive).
"""

from __future__ import annotations

import re

# C0 but tab and newline, DEL, C1, and the Unicode format characters that reorder or hide text.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]"
)
_SGR = re.compile(r"\x1b\[[0-9;]*m")
_COMMAND = re.compile(r"(?m)^([ \t]*):(?=:)")
_V1_COMMAND = re.compile(r"##\[")
_MENTION = re.compile(r"(?<!\w)(?:@(?=[A-Za-z0-9_-])|#(?=\d)|GH-(?=\d))", re.IGNORECASE)
ZWSP = "\u200b"


def _visible(m: re.Match[str]) -> str:
    c = m.group(0)
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def controls(text: str) -> str:
    """Every control and format character written as a visible escape; tab and newline kept."""
    return _CONTROL.sub(_visible, text.replace("\r\n", "\n"))


def terminal(text: str, *, keep_colour: bool = False, line_start: bool = True) -> str:
    """Text for a terminal or a CI log. `keep_colour`: keep SGR colour codes (ours, on a real terminal).
    `line_start`: whether `text` begins a line (a stream is written a line in pieces)."""
    if keep_colour:
        codes = _SGR.findall(text)
        parts = [controls(p) for p in _SGR.split(text)]
        text = "".join(p + c for p, c in zip(parts, [*codes, ""], strict=True))
    else:
        text = controls(text)
    text = _V1_COMMAND.sub("#\\#[", text)
    if line_start:
        return _COMMAND.sub(r"\1\\:", text)
    head, sep, rest = text.partition("\n")  # the first piece continues a line: no command can start there
    return head + sep + _COMMAND.sub(r"\1\\:", rest)


def _inert(m: re.Match[str]) -> str:
    return m.group(0) + ZWSP


def markdown(text: str) -> str:
    """A markdown body for GitHub (comment, issue, job summary): controls visible, mentions and references
    inert."""
    return _MENTION.sub(_inert, controls(text))
