"""A broker's error body is untrusted: what a refusal shows keeps the status, the broker's code and a JSON
message, capped and scrubbed, else only the body's size and digest. Proved on generated echoes of the
request's headers (every encoding, cut at arbitrary points, JSON, HTML and plain bodies): no run of 6
characters of a credential is ever shown."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import ccxt
import pytest

from reconciler.brokers.refusals import MESSAGE_LIMIT, exception_text, fingerprint, keep_raw_bodies, refusal
from reconciler.secrets.redact import register
from tests.secrets.echoes import echoes, leaks, secret

RNG = random.Random(20)
KEY_ID, SECRET, SHORT = secret(RNG, 20), secret(RNG, 40), secret(RNG, 7)


def credentials() -> list[str]:
    for value in (KEY_ID, SECRET, SHORT):
        register(value)
    return [KEY_ID, SECRET, SHORT]


def test_generated_echoes_never_show_a_fragment_of_a_credential() -> None:
    secrets = credentials()
    shown = {name: refusal(403, body) for name, body in echoes(KEY_ID, SECRET, seed=1, count=400)}
    leaked = {name: leaks(text, secrets) for name, text in shown.items() if leaks(text, secrets)}
    assert leaked == {}


def test_a_short_secret_echoed_in_the_message_is_not_shown() -> None:
    secrets = credentials()
    text = refusal(403, json.dumps({"code": 1, "message": f"bad key {SHORT} for this account"}).encode())
    assert leaks(text, secrets) == []


def test_generated_echoes_in_ccxt_exceptions_never_show_a_fragment() -> None:
    secrets = credentials()
    shown = [exception_text(ccxt.InvalidOrder("binance " + body.decode(errors="replace")))
             for _, body in echoes(KEY_ID, SECRET, seed=2, count=200)]
    assert [t for t in shown if leaks(t, secrets)] == []


def test_the_brokers_code_and_message_are_kept() -> None:
    credentials()
    text = refusal(403, json.dumps({"code": 40310000, "message": "insufficient buying power"}).encode())
    assert text == "HTTP 403, code 40310000: insufficient buying power"


def test_a_message_is_capped() -> None:
    text = refusal(422, json.dumps({"message": "word " * 500}).encode())
    assert len(text) < MESSAGE_LIMIT + 40


def test_an_html_body_is_only_measured() -> None:
    body = b"<html><body>Service Unavailable</body></html>"
    assert refusal(503, body).startswith(f"HTTP 503, a body of {len(body)} bytes, sha256 ")


def test_a_ccxt_error_keeps_the_exchanges_code_and_message() -> None:
    exc = ccxt.InsufficientFunds('binance {"code":-2010,"msg":"Account has insufficient balance"}')
    assert exception_text(exc) == "InsufficientFunds: code -2010: Account has insufficient balance"


@pytest.fixture
def kept(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "bodies.log"
    keep_raw_bodies(path)
    yield path
    keep_raw_bodies(None)


def test_without_the_opt_in_no_body_is_kept_anywhere(tmp_path: Path) -> None:
    credentials()
    refusal(403, b"<html>" + SECRET.encode() + b"</html>")
    assert list(tmp_path.iterdir()) == []


def test_an_opted_in_debug_file_keeps_each_body_under_the_digest_its_message_shows(kept: Path) -> None:
    credentials()
    body = b"<html><body>upstream said: no</body></html>"
    said = refusal(502, body)
    assert f"--- HTTP 502, a body of {fingerprint(body)}\n" in kept.read_text()
    assert fingerprint(body) in said


def test_an_opted_in_debug_file_keeps_the_bodys_words(kept: Path) -> None:
    refusal(502, b"<html><body>upstream said: no</body></html>")
    assert "upstream said: no" in kept.read_text()


def test_generated_echoes_in_the_debug_file_never_show_a_fragment_of_a_credential(kept: Path) -> None:
    secrets = credentials()
    for _, body in echoes(KEY_ID, SECRET, seed=3, count=120):
        refusal(403, body)
    for _, body in echoes(KEY_ID, SECRET, seed=4, count=40):
        exception_text(ccxt.InvalidOrder("binance " + body.decode(errors="replace")))
    text = kept.read_text()
    assert text.count("--- ") >= 160
    assert leaks(text, secrets) == []


def test_a_debug_file_that_cannot_be_written_never_changes_what_a_refusal_says(tmp_path: Path) -> None:
    keep_raw_bodies(tmp_path)  # a folder: the writer refuses it
    try:
        said = refusal(403, json.dumps({"code": 40310000, "message": "insufficient buying power"}).encode())
    finally:
        keep_raw_bodies(None)
    assert said == "HTTP 403, code 40310000: insufficient buying power"
