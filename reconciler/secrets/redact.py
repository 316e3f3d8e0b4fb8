"""One redaction layer: every secret value this process resolved is scrubbed from every string that leaves it.

`Secret` masks itself, but a secret can still come back as plain text: a broker's error page that echoes the
request's headers, an exception from the HTTP library quoting a header value. So the resolver registers each value
here, with the forms it travels in (base64, URL-encoded, JSON-escaped), and the exits — logs, the CLI's output and
errors, the journal, job summaries and pull-request comments — pass their text through `scrub`.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
# Shorter values would mask ordinary words in every output ("secret", "admin"); no real API key or token is this
# short.
_MIN_LENGTH = 8
_lock = threading.Lock()
_forms: set[str] = set()


def register(value: str) -> None:
    """Remember a secret and the encodings it may be echoed in."""
    if len(value) < _MIN_LENGTH:
        return
    raw = value.encode()
    forms = {
        value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1],
        base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
    }
    with _lock:
        _forms.update(f for f in forms if len(f) >= _MIN_LENGTH)


def scrub(text: str) -> str:
    """`text` with every registered secret form replaced by ***; longest first, so a form containing another
    is masked whole."""
    if not _forms or not text:
        return text
    with _lock:
        forms = sorted(_forms, key=len, reverse=True)
    for form in forms:
        if form in text:
            text = text.replace(form, MASK)
    return text


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
    """A text stream that scrubs what is written to it: the CLI puts one in front of stdout and stderr, so logs,
    rendered output and error messages all pass through the same layer."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(scrub(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding, ... of the real stream
        return getattr(self._stream, name)


def forget_all() -> None:
    """For tests that resolve many canaries in one process."""
    with _lock:
        _forms.clear()
