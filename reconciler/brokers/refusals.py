"""What may be shown of a broker's error answer. Its body is untrusted data: a broker (or a proxy before it)
may echo the request back, headers and credentials included, in any encoding and cut at any point. So a
refusal keeps only what a broker documents as its error — the HTTP status, its error code and a message field
of a JSON body (Alpaca: `code` and `message`, per its API reference; Binance: `code` and `msg`, per its
error-code page) — each capped and passed through `redact.untrusted`; of any other body, only its size and
digest, which match a capture of it.

The capture is the user's to ask for: `--broker-bodies FILE` (keep_raw_bodies) appends each error body, whole
but passed through `redact.untrusted` like every other broker text, to FILE through the one writer (files.py),
under the same size and digest the message shows. Without it, no body is kept anywhere."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from pathlib import Path
from typing import Any

from reconciler import files
from reconciler.errors import ReconcilerError
from reconciler.secrets.redact import untrusted

log = logging.getLogger("reconciler.broker")

CODE_LIMIT = 40
MESSAGE_LIMIT = 200
_CODE_KEYS = ("code", "error_code")
_MESSAGE_KEYS = ("message", "msg", "error_description", "error")
_SPACE = re.compile(r"\s+")
# of one body, this much is kept in the debug file (its size and digest are of all of it)
BODY_LIMIT = 64 * 1024
_bodies: list[Path] = []  # where raw error bodies go, when the user asked (--broker-bodies)
_bodies_mutex = threading.Lock()  # worker threads append one at a time


def keep_raw_bodies(path: Path | None) -> None:
    """Opt in (a path) or out (None) of keeping raw error bodies, scrubbed, in a debug file."""
    _bodies[:] = [path] if path is not None else []


def _keep(status: int | None, body: bytes) -> None:
    if not _bodies:
        return
    head = f"HTTP {status}, " if status is not None else ""
    text = untrusted(body.decode("utf-8", "replace"), BODY_LIMIT)
    record = f"--- {head}a body of {fingerprint(body)}\n{text}\n"
    with _bodies_mutex:
        try:
            files.write_text(_bodies[0], record, files.BODIES, "--broker-bodies", append=True)
        except ReconcilerError as exc:  # a debug aid: it never turns a broker's answer into another outcome
            log.warning("broker body not kept: %s", exc.message)


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
    _keep(status, body)
    return f"HTTP {status}, {body_text(body)}"


def exception_text(exc: BaseException) -> str:
    """An exception from a broker library (ccxt puts the exchange's raw body in its message): its type, and
    the body's JSON code and message when the message carries one, else only the size and digest of its
    text."""
    text = str(exc)
    _keep(None, text.encode())
    start = text.find("{")
    if start >= 0:
        said = body_text(text[start:].encode())
        if not said.startswith("a body of"):
            return f"{type(exc).__name__}: {said}"
    return f"{type(exc).__name__}, message of {fingerprint(text.encode())}"
