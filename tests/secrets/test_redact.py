"""Scrubbing masks every registered form of every secret, longest first — with a handful of secrets and with
thousands (an apply over many accounts), where it looks windows of the text up instead of every secret in
turn."""

from __future__ import annotations

import base64
import itertools
import json
import random
import string
from urllib.parse import quote, quote_plus

from reconciler.secrets import redact
from reconciler.secrets.redact import MASK, forget_all, register, scrub


def reference(text: str, forms: set[str]) -> str:
    """The rule, written the plain way: every form, longest first."""
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, MASK)
    return text


def secrets(rng: random.Random, n: int) -> list[str]:
    alphabet = string.ascii_letters + string.digits + "+/=_-"
    return ["".join(rng.choice(alphabet) for _ in range(rng.choice((12, 20, 40)))) for _ in range(n)]


def texts(rng: random.Random, values: list[str]) -> list[str]:
    out = []
    for _ in range(60):
        parts = []
        for _ in range(rng.randint(1, 5)):
            v = rng.choice(values)
            shown = rng.choice(
                (v, base64.b64encode(v.encode()).decode(), v.replace("/", "%2F"), v[:7], v + v[:9])
            )
            parts.append(rng.choice(("key=", " Bearer ", "\n", "", '"')) + shown)
        out.append("".join(parts) + " trailing words")
    return out


def test_few_and_many_secrets_are_masked_the_same_way() -> None:
    rng = random.Random(7)
    for count in (3, redact._FEW * 5):  # the plain loop, then the windowed look-up
        forget_all()
        values = secrets(rng, count)
        values.append(values[0] + "SUFFIX42")  # a secret containing another: masked whole
        for v in values:
            register(v)
        forms = set(redact._forms)
        for text in texts(rng, values):
            assert scrub(text) == reference(text, forms)
    forget_all()


def test_a_secret_in_a_long_text_among_thousands_is_masked() -> None:
    forget_all()
    rng = random.Random(3)
    values = secrets(rng, 4000)
    for v in values:
        register(v)
    text = "x" * 5000 + values[1234] + "y" * 5000 + base64.b64encode(values[17].encode()).decode()
    assert scrub(text) == "x" * 5000 + MASK + "y" * 5000 + MASK
    forget_all()


SEPARATORS = " \t\n\r,;:&=?/\\\"'()[]{}<>|+*!#$@^`~"


def test_a_short_secret_is_masked_as_a_whole_token_however_its_separators_are_written() -> None:
    """A secret under the whole-token threshold, between any two separators, in the forms text carries them
    in: as it is, URL-encoded (a query string httpx logs: symbols=BND%2CSECRET%2CVTI) and JSON-escaped (a log
    line)."""
    forget_all()
    short = "Ud8Wf2w"
    register(short)
    encodings = {"raw": lambda t: t, "url": lambda t: quote(t, safe=""), "url-plus": quote_plus,
                 "json": lambda t: json.dumps(t)[1:-1]}
    for name, encode in encodings.items():
        for before, after in itertools.product(SEPARATORS, repeat=2):
            text = "BND" + encode(before) + short + encode(after) + "VTI"
            assert short not in scrub(text), (name, text)


def test_a_short_secret_inside_a_word_is_left_alone() -> None:
    forget_all()
    register("Ud8Wf2w")
    assert scrub("xUd8Wf2wy") == "xUd8Wf2wy"
