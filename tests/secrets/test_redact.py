"""Scrubbing masks every registered form of every secret, longest first — with a handful of secrets and with
thousands (an apply over many accounts), where it looks windows of the text up instead of every secret in turn."""

from __future__ import annotations

import base64
import random
import string

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
            shown = rng.choice((v, base64.b64encode(v.encode()).decode(), v.replace("/", "%2F"), v[:7], v + v[:9]))
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
