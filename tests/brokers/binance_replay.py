"""A peer on 127.0.0.1 that answers the Binance spot REST paths with recorded answers (tests/fixtures/binance),
so the adapter is judged through the real ccxt library by what Binance answers, not by our fake's idea of it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "binance"


def load(name: str) -> Any:
    """A recorded answer by file name."""
    return json.loads((FIXTURES / name).read_text())


@dataclass
class Answer:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def error(code: str) -> Answer:
    """Binance's answer for one of the recorded error codes (errors.json)."""
    e = load("errors.json")[code]
    return Answer(e["body"], e["status"], e.get("headers", {}))


Route = Answer | list[Answer] | Callable[[dict[str, str]], Answer]


class Replay:
    """Routes "METHOD /path" to an answer, a queue of answers (the last repeats) or a function of the parameters;
    every request is kept with its parameters. Every answer carries Binance's weight headers."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {
            "GET /api/v3/exchangeInfo": Answer(load("exchangeInfo.json")),
            "GET /api/v3/account": Answer(load("account.json")),
            "GET /api/v3/ticker/24hr": Answer(load("ticker_24hr.json")),
            "GET /api/v3/openOrders": Answer([]),
            "GET /api/v3/avgPrice": Answer(load("avg_price.json")),
        }
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.weight = 0
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _serve(self, method: str) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                params.update({k: v[0] for k, v in parse_qs(body).items()})
                answer = replay.answer(f"{method} {url.path}", params)
                data = json.dumps(answer.body).encode()
                self.send_response(answer.status)
                headers = {"Content-Type": "application/json;charset=UTF-8", "Content-Length": str(len(data)),
                           "X-MBX-USED-WEIGHT-1M": str(replay.weight)} | answer.headers
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, key: str, params: dict[str, str]) -> Answer:
        self.requests.append((key, params))
        self.weight += 1
        route = self.routes.get(key)
        if route is None:
            return Answer({"code": -1100, "msg": f"no recorded answer for {key}"}, 404)
        if isinstance(route, list):
            return route.pop(0) if len(route) > 1 else route[0]
        if callable(route):
            return route(params)
        return route

    def sent(self, key: str) -> int:
        """How many requests went to "METHOD /path"."""
        return sum(1 for k, _ in self.requests if k == key)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
