"""A peer on 127.0.0.1 that answers the Binance spot REST paths with recorded answers
(tests/fixtures/binance), so the adapter is judged through the real ccxt library by what Binance answers, not
by our fake's idea of it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.brokers.binance_http import BinancePeer

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
    """Routes "METHOD /path" to an answer, a queue of answers (the last repeats) or a function of the
    parameters; every request is kept with its parameters. Every answer carries Binance's weight headers."""

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
        self.peer = BinancePeer(self._reply)
        self.url = self.peer.url
        self.peer.start()

    def _reply(self, method: str, path: str, params: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        answer = self.answer(f"{method} {path}", params)
        return answer.status, answer.body, {"X-MBX-USED-WEIGHT-1M": str(self.weight)} | answer.headers

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
        self.peer.stop()
