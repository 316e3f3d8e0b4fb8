"""The raw body of a broker's error answer is kept only when the user opts in (issue 20 §6): `--broker-bodies
FILE` appends it, scrubbed, to FILE; the outputs and the journal still show only status, code, a capped
message, and the size and digest of anything else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Workspace, edit_yaml
from tests.execution.conftest import SECRET_CANARY, Answer, Broker, ForwardingProxy, run_cli

WORDS = "upstream-gateway-said-no"  # in the body only: shown nowhere but the opted-in file


class EchoingRefusals(ForwardingProxy):
    """Every order submission is refused with an HTML page that echoes the request's headers (its
    credentials)."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream, self._refuse)

    def _refuse(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer | None:
        if method == "POST" and path == "/v2/orders":
            echoed = "".join(f"<li>{k}: {v}</li>" for k, v in headers.items())
            page = f"<html><body><h1>{WORDS}</h1><ul>{echoed}</ul></body></html>".encode()
            return 403, {"Content-Type": "text/html"}, page
        return None


@pytest.fixture
def refusing(alpaca: Workspace, emulator: Broker) -> Iterator[Workspace]:
    proxy = EchoingRefusals(emulator.url)

    def through_proxy(doc: Any) -> None:
        doc["broker"]["trading_url"] = proxy.url

    edit_yaml(alpaca.config, through_proxy)
    yield alpaca
    proxy.server.shutdown()


def _journal_text(ws: Workspace) -> str:
    tables = ("intents", "events", "applies")
    return "\n".join(str(row) for table in tables for row in ws.query(f"select * from {table}"))


def test_opted_in_the_bodies_go_to_the_file_scrubbed_and_nowhere_else(
    refusing: Workspace, tmp_path: Path
) -> None:
    kept = tmp_path / "bodies.log"
    r = run_cli(refusing, "--broker-bodies", str(kept), "apply", "--auto-approve")
    text = kept.read_text()
    assert r.returncode == 1, r.stdout + r.stderr
    assert WORDS in text
    assert SECRET_CANARY not in text
    assert WORDS not in r.stdout + r.stderr
    assert WORDS not in _journal_text(refusing)


def test_without_the_opt_in_no_body_is_kept(refusing: Workspace, tmp_path: Path) -> None:
    before = set(refusing.root.rglob("*"))
    r = run_cli(refusing, "apply", "--auto-approve")
    assert r.returncode == 1, r.stdout + r.stderr
    assert [p for p in set(refusing.root.rglob("*")) - before if WORDS in _text(p)] == []


def _text(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else ""


def test_a_bodies_file_that_cannot_be_written_is_refused_before_anything_is_sent(
    refusing: Workspace, emulator: Broker, tmp_path: Path
) -> None:
    r = run_cli(refusing, "--broker-bodies", str(tmp_path), "apply", "--auto-approve")
    assert r.returncode == 1
    assert "--broker-bodies" in r.stderr
    assert "Traceback" not in r.stderr
    assert emulator.orders() == []
