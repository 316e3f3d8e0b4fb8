"""The Alpaca adapter against the broker emulator: a real HTTP server on 127.0.0.1 in this test process."""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from reconciler.emulator import Emulator, EmulatorServer, Faults
from tests.conftest import Workspace, edit_yaml

PRICES = {
    "VTI": {"price": 289.41, "previous_close": 288.90},
    "VXUS": {"price": 64.12, "previous_close": 64.30},
    "BND": {"price": 72.85, "previous_close": 72.80},
    "BNDX": {"price": 49.37, "previous_close": 49.35},
    "VNQ": {"price": 88.20, "previous_close": 87.95},
    "AAPL": {"price": 229.87, "previous_close": 231.02},
    "GLD": {"price": 243.10, "previous_close": 241.75},
}
ACCOUNTS = {
    "paper-ira": {"cash": 100000, "positions": {}},
    "paper-taxable": {
        "cash": 1250.40,
        "positions": {"VTI": 210, "VXUS": 120, "BND": 95, "AAPL": 40, "GLD": 12},
    },
    "paper-college": {"cash": 5000, "positions": {"VTI": 14.5, "BND": 20}},
}
SECRET_CANARY = "CANARY-s3cr3t-7f3a9e"


@dataclass
class Broker:
    """The running emulator and a client for its control endpoints."""

    server: EmulatorServer
    emulator: Emulator

    @property
    def url(self) -> str:
        return self.server.url

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        r = httpx.post(self.url + path, json=body or {}) if body is not None else httpx.get(self.url + path)
        r.raise_for_status()
        return r.json()

    def state(self) -> dict[str, Any]:
        return self.control("/_emulator/state")  # type: ignore[no-any-return]

    def orders(self, account: str | None = None) -> list[dict[str, Any]]:
        accounts = self.state()["accounts"]
        return [o for name, a in accounts.items() if account in (None, name) for o in a["orders"]]

    def faults(self, **knobs: Any) -> None:
        self.control("/_emulator/faults", knobs)


@pytest.fixture
def emulator() -> Iterator[Broker]:
    seed = {
        "accounts": {
            name: {"key_id": f"key-{name}", "secret": SECRET_CANARY, **a} for name, a in ACCOUNTS.items()
        },
        "prices": PRICES,
    }
    emu = Emulator(seed, Faults())
    server = EmulatorServer(emu)
    server.start()
    yield Broker(server, emu)
    server.shutdown()
    server.server_close()


@pytest.fixture
def alpaca(workspace: Workspace, emulator: Broker, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """The example workspace pointed at the emulator through the Alpaca adapter."""

    def to_alpaca(doc: Any) -> None:
        doc["broker"] = {
            "kind": "alpaca",
            "trading_url": emulator.url,
            "data_url": emulator.url,
            "rate_limit_per_second": 200,
            "fill_timeout_seconds": 5,
            "slippage_bps": 0,
            # polled, as these tests' proxies expect; tests/brokers/test_alpaca_stream.py streams
            "stream": False,
            "accounts": {
                name: {"key_id": f"env:KEY_{i}", "secret_key": "env:ALPACA_SECRET"}
                for i, name in enumerate(ACCOUNTS)
            },
        }

    edit_yaml(workspace.config, to_alpaca)
    for i, name in enumerate(ACCOUNTS):
        monkeypatch.setenv(f"KEY_{i}", f"key-{name}")
    monkeypatch.setenv("ALPACA_SECRET", SECRET_CANARY)
    return workspace


def run_cli(
    ws: Workspace, *argv: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process (so it can be killed), with this process's environment plus `env`."""
    return subprocess.run(
        [sys.executable, "-m", "reconciler.cli.main", "--config", str(ws.config), "--no-color", *argv],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
        cwd=Path(__file__).resolve().parents[2],
    )


Answer = tuple[int, dict[str, str], bytes]
# A peer that writes on the socket itself (drips bytes, never ends), until the client hangs up.
Raw = Callable[[BaseHTTPRequestHandler], None]


class ForwardingProxy:
    """A proxy on 127.0.0.1 in front of the emulator. `intercept(method, path, headers, body)` sees every
    request first: it may block (a delay), return an answer the emulator never gives (a hostile broker), or a
    `Raw` writer that misbehaves on the socket itself."""

    def __init__(
        self, upstream: str, intercept: Callable[[str, str, dict[str, str], bytes], Answer | Raw | None]
    ) -> None:
        target = urlparse(upstream)
        proxy = self
        self.target = target
        self.intercept = intercept
        self.request = threading.local()  # the request being intercepted on this thread: its query string
        self.lock = threading.Lock()
        self.in_flight = 0  # requests not yet answered by the emulator (or in the proxy's place)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _forward(self, method: str) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                proxy.request.query = urlparse(self.path).query
                with proxy.lock:
                    proxy.in_flight += 1
                try:  # held, intercepted or forwarded: in flight until the emulator has answered
                    answer = proxy.intercept(method, urlparse(self.path).path, headers, body)
                    if answer is None:
                        answer = proxy.forward(method, self.path, headers, body)
                finally:
                    with proxy.lock:
                        proxy.in_flight -= 1
                if callable(answer):
                    with contextlib.suppress(OSError):
                        answer(self)
                    return
                status, out_headers, data = answer
                try:
                    self.send_response(status)
                    for k, v in out_headers.items():
                        if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client died meanwhile; whatever was forwarded was still delivered

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

            def do_DELETE(self) -> None:
                self._forward("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def settle(self) -> None:
        """Wait until every request the proxy holds has been passed on and answered."""
        for _ in range(600):
            with self.lock:
                if not self.in_flight:
                    return
            time.sleep(0.05)
        pytest.fail("the proxy still holds requests")

    def forward(self, method: str, path_and_query: str, headers: dict[str, str], body: bytes) -> Answer:
        """The emulator's own answer to this request."""
        conn = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=30)
        try:
            conn.request(method, path_and_query, body=body or None, headers=headers)
            got = conn.getresponse()
            return got.status, dict(got.getheaders()), got.read()
        finally:
            conn.close()


SYMBOLS = ["VTI", "VXUS", "BND"]  # what grow() gives each account to buy


def grow(ws: Workspace, accounts: int) -> None:
    """The example repository with `accounts` paper accounts (named for the size: the journal is shared
    between sizes), each all cash, each with its own portfolio."""
    shutil.rmtree(ws.root / "portfolios")
    (ws.root / "portfolios").mkdir()
    books = {f"a{accounts}-{n:03d}": {"cash": 10_000} for n in range(accounts)}
    edit_yaml(ws.config, lambda d: d["broker"].__setitem__("accounts", books))
    for n in range(accounts):
        (ws.root / "portfolios" / f"p{n:03d}.yaml").write_text(
            "apiVersion: reconciler.dev/v1\nkind: Portfolio\n"
            f"metadata: {{name: p{n:03d}}}\n"
            f"spec:\n  account: a{accounts}-{n:03d}\n  targets: {{VTI: 0.5, VXUS: 0.3, BND: 0.19}}\n  cash:"
            " 0.01\n"
        )
