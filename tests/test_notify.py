"""Notifications through apprise, delivered to a real webhook on 127.0.0.1: an apply that fails or refuses,
and drift, reach the configured targets; the URL (it holds the token) is never printed; a target that cannot
be reached is a warning, never a change to what was applied or to the exit code."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Workspace, edit_yaml

TOKEN = "s3cr3t-hook-token"


class _Hook(ThreadingHTTPServer):
    received: list[dict[str, Any]]


class _Handler(BaseHTTPRequestHandler):
    server: _Hook

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.received.append({"path": self.path, **json.loads(body)})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[_Hook]:
    server = _Hook(("127.0.0.1", 0), _Handler)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _subscribe(workspace: Workspace, monkeypatch: pytest.MonkeyPatch, url: str, events: list[str]) -> None:
    monkeypatch.setenv("RC_TEST_HOOK", url)
    edit_yaml(workspace.config, lambda d: d.update(
        {"notifications": {"timeout_seconds": 5, "targets": [{"url": "env:RC_TEST_HOOK", "events": events}]}}
    ))


def test_a_refused_apply_is_notified_and_the_url_never_printed(
    workspace: Workspace, hook: _Hook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _subscribe(workspace, monkeypatch, f"json://127.0.0.1:{hook.server_port}/hook/{TOKEN}", ["apply_failed"])
    reviewed = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(reviewed)).code == 0
    edit_yaml(workspace.root / "portfolios" / "college-fund.yaml",
              lambda d: d["spec"]["targets"].update({"VTI": 0.6, "BND": 0.4}))
    r = workspace.run("apply", "--envelope", str(reviewed), "--auto-approve")
    assert r.code == 1
    (sent,) = hook.received
    assert sent["path"] == f"/hook/{TOKEN}"
    assert sent["title"] == "reconciler apply: refused: outside the reviewed envelope"
    assert "college-fund" in sent["message"]
    assert sent["type"] == "failure"
    assert TOKEN not in r.out + r.err
    assert workspace.paper_order_count() == 0
    # A successful apply notifies nobody.
    assert workspace.run("apply", "--auto-approve").code == 0
    assert len(hook.received) == 1


def test_drift_is_notified_only_when_asked_and_only_to_its_subscribers(
    workspace: Workspace, hook: _Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    _subscribe(workspace, monkeypatch, f"json://127.0.0.1:{hook.server_port}/drift/{TOKEN}", ["drift"])
    assert workspace.run("status").code == 2  # the example accounts are out of sync
    assert hook.received == []
    r = workspace.run("status", "--notify")
    assert r.code == 2
    (sent,) = hook.received
    assert sent["title"] == "reconciler: 3 portfolio(s) out of sync"
    assert sent["type"] == "warning"
    assert "alice-ira (paper-ira)" in sent["message"]
    r = workspace.run("apply", "--envelope", "/nonexistent/plan.json", "--auto-approve")
    assert r.code == 1
    assert len(hook.received) == 1  # a drift-only target hears nothing of applies


def test_an_unreachable_target_is_a_warning_not_a_failure(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # port 9: nobody listens
    _subscribe(workspace, monkeypatch, f"json://127.0.0.1:9/hook/{TOKEN}", ["drift"])
    r = workspace.run("status", "--notify")
    assert r.code == 2  # what status says, not what the notification did
    assert "notification not delivered" in r.err
    assert "Traceback" not in r.err
    assert TOKEN not in r.out + r.err
    monkeypatch.setenv("RC_TEST_HOOK", "nonsense")
    r = workspace.run("status", "--notify")
    assert r.code == 2
    assert "does not hold a URL apprise knows" in r.err
    monkeypatch.delenv("RC_TEST_HOOK")
    r = workspace.run("status", "--notify")
    assert r.code == 2
    assert "environment variable RC_TEST_HOOK is not set" in r.err
