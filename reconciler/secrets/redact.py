"""One redaction layer: every secret value this process resolved is scrubbed from every string that leaves it.

`Secret` masks itself, but a secret can still come back as plain text: a broker's error page that echoes the
request's headers, an exception from the HTTP library quoting a header value. So the resolver registers each
value here, with the forms it travels in (base64, URL-encoded, JSON-escaped), and the exits — logs, the CLI's
output and errors, the journal, plan files, job summaries and pull-request comments — pass their text through
`scrub`.

A secret shorter than `_MIN_LENGTH` is scrubbed too, but only as a whole token (`abc1234` is masked in
`key=abc1234`, not inside `xabc1234y`): masked inside words it would eat ordinary text. Text a broker wrote
(an error's message) can carry a secret in forms no list foresees — cut at any point, base64 of a whole header
block at any alignment, hex — so `untrusted` also masks every token that shares `FRAGMENT` characters with any
of those forms.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus

from reconciler import shown
from reconciler.errors import OutputError

MASK = "***"
# Shorter values would mask ordinary words in every output ("secret", "admin"); no real API key or token is
# this short.
_MIN_LENGTH = 8
FRAGMENT = 6  # no run of this many characters of a secret (or of an encoding of it) leaves in untrusted text
_lock = threading.Lock()
_short: set[str] = set()  # secrets under _MIN_LENGTH: masked as whole tokens only
_short_pattern: list[re.Pattern[str]] = []  # compiled from _short; rebuilt after a registration
_raw: set[str] = set()  # every registered value, to derive fragments from when untrusted text is checked
_fragments: set[str] = set()  # FRAGMENT-long windows of every value's forms, casefolded; built on first use
_TOKEN = re.compile(r"[A-Za-z0-9+/=_%.~-]+")
_forms: set[str] = set()
_by_length: dict[int, set[str]] = {}
_ordered: list[str] = []  # _forms, longest first; rebuilt after a registration
# Up to this many forms, each is looked for in the text. Beyond (an apply over thousands of accounts registers
# two keys each, in seven forms), every window of the text is looked up among the forms of its length instead:
# work in the text's length and the number of distinct lengths, not in the number of secrets, so scrubbing
# each log line does not make a run quadratic in accounts.
_FEW = 64


def register(value: str) -> None:
    """Remember a secret and the encodings it may be echoed in."""
    if not value:
        return
    with _lock:
        _raw.add(value)
        _fragments.clear()
        if len(value) < _MIN_LENGTH:
            _short.add(value)
            _short_pattern.clear()
            return
    raw = value.encode()
    forms = {
        value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1],
        base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
    }
    with _lock:
        for form in forms:
            if len(form) >= _MIN_LENGTH and form not in _forms:
                _forms.add(form)
                _by_length.setdefault(len(form), set()).add(form)
                _ordered.clear()


def scrub(text: str) -> str:
    """`text` with every registered secret form replaced by ***; longest first, so a form containing another
    is masked whole."""
    if not text:
        return text
    if _short:
        text = _scrub_short(text)
    if not _forms:
        return text
    with _lock:
        if len(_forms) <= _FEW:
            if not _ordered:
                _ordered.extend(sorted(_forms, key=len, reverse=True))
            present = [form for form in _ordered if form in text]
        else:
            buckets = [(n, _by_length[n]) for n in _by_length if n <= len(text)]
            found = {text[i:i + n] for n, bucket in buckets for i in range(len(text) - n + 1)
                     if text[i:i + n] in bucket}
            present = sorted(found, key=len, reverse=True)
    for form in present:
        text = text.replace(form, MASK)
    return text


# A whole token starts after a character that is not a letter or digit, or after one written escaped: a URL's
# `%2C` (symbols=BND%2CSECRET%2CVTI, as httpx logs a request) or JSON's `\n` and `\u0020` end in a letter or
# digit that is not part of the token.
_AFTER_SEPARATOR = r"(?:(?<![A-Za-z0-9])|(?<=%[0-9A-Fa-f]{2})|(?<=\\[nrtbf])|(?<=\\u[0-9A-Fa-f]{4}))"


def _scrub_short(text: str) -> str:
    with _lock:
        if not _short_pattern:
            alternatives = "|".join(re.escape(v) for v in sorted(_short, key=len, reverse=True))
            _short_pattern.append(re.compile(rf"{_AFTER_SEPARATOR}(?:{alternatives})(?![A-Za-z0-9])"))
        pattern = _short_pattern[0]
    return pattern.sub(MASK, text)


def _encodings(value: str) -> list[str]:
    """The forms a secret may be echoed in by a broker, as they sit inside a longer encoded text: base64 of
    the value at each of the three alignments a surrounding block can give it (only the characters that do not
    depend on its neighbours), hex, and URL encoding."""
    raw = value.encode()
    out = [value, raw.hex(), quote(value, safe=""), json.dumps(value)[1:-1]]
    for shift in range(3):  # characters k whose six bits all come from the value's bytes
        encoded = base64.b64encode(bytes(shift) + raw + bytes(2)).decode()
        out.append(encoded[-(-8 * shift // 6): (8 * (shift + len(raw)) - 6) // 6 + 1])
    return out


def _fragment_set() -> set[str]:
    with _lock:
        if not _fragments and _raw:
            for value in _raw:
                for form in _encodings(value):
                    folded = form.casefold().replace("-", "+").replace("_", "/")
                    _fragments.update(folded[i:i + FRAGMENT] for i in range(len(folded) - FRAGMENT + 1))
                if len(value) < FRAGMENT:
                    _fragments.add(value.casefold())
        return _fragments


def untrusted(text: str, limit: int = 200) -> str:
    """Text a counterpart wrote, made safe to show: cut to `limit` characters, every secret form scrubbed, and
    every token that holds FRAGMENT characters of a secret in any encoding masked whole."""
    text = scrub(text[:limit])
    fragments = _fragment_set()
    if not fragments:
        return text

    def token(m: re.Match[str]) -> str:
        word = m.group(0)
        folded = word.casefold().replace("-", "+").replace("_", "/")
        if folded in fragments:
            return MASK
        hit = any(folded[i:i + FRAGMENT] in fragments for i in range(len(folded) - FRAGMENT + 1))
        return MASK if hit else word

    return _TOKEN.sub(token, text)


def scrub_value(value: Any) -> Any:
    """`scrub` through the strings of a JSON-like value (a journal event's data)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: scrub_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_value(v) for v in value]
    return value


class ScrubbedStream:
    """A text stream that scrubs what is written to it and shows it as text (`shown.terminal`): the CLI puts
    one in front of stdout and stderr, so logs, rendered output and error messages all pass through the same
    layer."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._line_start = True
        # Our renderer's colour codes are kept where it writes them: a terminal, or wherever FORCE_COLOR asks.
        try:
            self._colour = bool(stream.isatty()) or bool(os.environ.get("FORCE_COLOR"))
        except (AttributeError, ValueError):  # no isatty, or a closed stream
            self._colour = False

    def write(self, text: str) -> int:
        """Write the text with every known secret scrubbed and terminal controls made visible."""
        try:
            self._stream.write(
                shown.terminal(scrub(text), keep_colour=self._colour, line_start=self._line_start)
            )
        except BrokenPipeError:
            raise
        except OSError as exc:  # /dev/full, an I/O error: one kind the CLI reports, whatever the writer was
            raise OutputError(exc.errno, exc.strerror) from None
        if text:
            self._line_start = text.endswith("\n")
        return len(text)

    def flush(self) -> None:
        """Flush the stream underneath."""
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(exc.errno, exc.strerror) from None

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding, ... of the real stream
        return getattr(self._stream, name)


def forget_all() -> None:
    """For tests that resolve many canaries in one process."""
    with _lock:
        _forms.clear()
        _by_length.clear()
        _ordered.clear()
        _short.clear()
        _short_pattern.clear()
        _raw.clear()
        _fragments.clear()
