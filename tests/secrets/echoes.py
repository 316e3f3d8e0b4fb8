"""Generated echoes of a request's credentials, as a hostile or careless broker (or a proxy before it) may
send them back: the header block in an encoding, cut at any point, inside JSON, HTML or plain text. Shared by
the tests of the broker refusals and of the CLI's outputs."""

from __future__ import annotations

import base64
import html
import json
import random
import string
from collections.abc import Callable, Iterator
from urllib.parse import quote, quote_plus

ALPHABET = string.ascii_letters + string.digits


def secret(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(length))


def fragments(value: str, n: int = 6) -> set[str]:
    """Every run of `n` characters of `value`: none may leave in any output."""
    return {value[i:i + n] for i in range(len(value) - n + 1)}


def leaks(text: str, secrets: list[str], n: int = 6) -> list[str]:
    return sorted(f for s in secrets for f in fragments(s, n) if f in text)


ENCODINGS: dict[str, Callable[[str], str]] = {
    "raw": lambda t: t,
    "base64": lambda t: base64.b64encode(t.encode()).decode(),
    "base64url": lambda t: base64.urlsafe_b64encode(t.encode()).decode().rstrip("="),
    "base64-mime": lambda t: base64.encodebytes(t.encode()).decode(),
    "hex": lambda t: t.encode().hex(),
    "HEX": lambda t: t.encode().hex().upper(),
    "url": lambda t: quote(t, safe=""),
    "url-plus": quote_plus,
    "json": lambda t: json.dumps(t)[1:-1],
    "html": lambda t: html.escape(t),
    "repr": repr,
}


def bodies(text: str, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    """The same echoed text in the kinds of body a broker answers with."""
    yield "json-message", json.dumps({"code": 40110000, "message": text}).encode()
    yield "json-msg", json.dumps({"code": -2015, "msg": text}).encode()
    yield "json-code", json.dumps({"code": text[:64], "message": "forbidden"}).encode()
    yield "json-nested", json.dumps({"message": "denied", "request": {"headers": text}}).encode()
    yield "html", f"<html><body><h1>403</h1><pre>{html.escape(text)}</pre></body></html>".encode()
    yield "plain", text.encode()
    yield "json-cut", json.dumps({"message": text}).encode()[: rng.randint(10, 200)]


def echoes(key_id: str, secret_key: str, seed: int, count: int) -> Iterator[tuple[str, bytes]]:
    """`count` generated (name, body) echoes of a request carrying `key_id` and `secret_key`."""
    rng = random.Random(seed)
    block = (f"POST /v2/orders HTTP/1.1\r\nHost: broker\r\nAPCA-API-KEY-ID: {key_id}\r\n"
             f"APCA-API-SECRET-KEY: {secret_key}\r\nContent-Type: application/json\r\n\r\n")
    names = sorted(ENCODINGS)
    at = block.index(secret_key)
    for i in range(count):
        encoding = names[i % len(names)]
        if i % 2:  # the block cut inside the secret, at an arbitrary point, then encoded
            encoded = ENCODINGS[encoding](block[rng.randint(0, at): at + rng.randint(6, len(secret_key))])
        else:
            encoded = ENCODINGS[encoding](block[rng.randint(0, 40):])
        start = rng.randint(0, max(0, len(encoded) - 12))
        # and the encoding cut at arbitrary points
        cut = encoded[start: start + rng.randint(12, max(12, len(encoded)))]
        for kind, body in bodies(rng.choice(("", "you sent: ", "invalid credentials ")) + cut, rng):
            yield f"{i}-{encoding}-{kind}", body
