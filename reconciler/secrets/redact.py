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

from reconciler.errors import OutputError

MASK = "***"
# Shorter values would mask ordinary words in every output ("secret", "admin"); no real API key or token is this
# short.
_MIN_LENGTH = 8
_lock = threading.Lock()
_forms: set[str] = set()
_by_length: dict[int, set[str]] = {}
_ordered: list[str] = []  # _forms, longest first; rebuilt after a registration
# Up to this many forms, each is looked for in the text. Beyond (an apply over thousands of accounts registers two
# keys each, in seven forms), every window of the text is looked up among the forms of its length instead: work
# in the text's length and the number of distinct lengths, not in the number of secrets, so scrubbing each log
# line does not make a run quadratic in accounts.
_FEW = 64


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
        for form in forms:
            if len(form) >= _MIN_LENGTH and form not in _forms:
                _forms.add(form)
                _by_length.setdefault(len(form), set()).add(form)
                _ordered.clear()


def scrub(text: str) -> str:
    """`text` with every registered secret form replaced by ***; longest first, so a form containing another
    is masked whole."""
    if not _forms or not text:
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
        try:
            self._stream.write(scrub(text))
        except BrokenPipeError:
            raise
        except OSError as exc:  # /dev/full, an I/O error: one kind the CLI reports, whatever the writer was
            raise OutputError(exc.errno, exc.strerror) from None
        return len(text)

    def flush(self) -> None:
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
