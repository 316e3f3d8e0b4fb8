"""What may be shown of a broker's error answer. Its body is untrusted data: a broker (or a proxy before it) may echo
the request back, headers and credentials included, in any encoding and cut at any point. So a refusal keeps only
what a broker documents as its error — the HTTP status, its error code and a message field of a JSON body (Alpaca:
`code` and `message`, per its API reference; Binance: `code` and `msg`, per its error-code page) — each capped and
passed through `redact.untrusted`; of any other body, only its size and digest, which match a capture of it."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from reconciler.secrets.redact import untrusted

CODE_LIMIT = 40
MESSAGE_LIMIT = 200
_CODE_KEYS = ("code", "error_code")
_MESSAGE_KEYS = ("message", "msg", "error_description", "error")
_SPACE = re.compile(r"\s+")


def _shown(value: Any, limit: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return untrusted(_SPACE.sub(" ", str(value)).strip(), limit) or None


def fingerprint(body: bytes) -> str:
    """A body's size and digest: enough to match it with a capture, nothing of what it says."""
    return f"{len(body)} bytes, sha256 {hashlib.sha256(body).hexdigest()[:16]}"


def body_text(body: bytes) -> str:
    """`code N: message` from a JSON error body, else `a body of N bytes, sha256 …` (nothing of its words)."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        doc = None
    if isinstance(doc, dict):
        code = next((c for k in _CODE_KEYS if (c := _shown(doc.get(k), CODE_LIMIT))), None)
        said = next((m for k in _MESSAGE_KEYS if (m := _shown(doc.get(k), MESSAGE_LIMIT))), None)
        if code or said:
            return ": ".join(x for x in (f"code {code}" if code else None, said) if x)
    return f"a body of {fingerprint(body)} (not shown: a broker's text may echo credentials)"


def refusal(status: int, body: bytes) -> str:
    """`HTTP 403, code 40310000: insufficient buying power` — what a broker's error answer may show."""
    return f"HTTP {status}, {body_text(body)}"


def exception_text(exc: BaseException) -> str:
    """An exception from a broker library (ccxt puts the exchange's raw body in its message): its type, and the
    body's JSON code and message when the message carries one, else only the size and digest of its text."""
    text = str(exc)
    start = text.find("{")
    if start >= 0:
        said = body_text(text[start:].encode())
        if not said.startswith("a body of"):
            return f"{type(exc).__name__}: {said}"
    return f"{type(exc).__name__}, message of {fingerprint(text.encode())}"
