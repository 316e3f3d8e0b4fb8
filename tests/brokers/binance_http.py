"""The HTTP side shared by the two Binance peers on 127.0.0.1 (the recorded replay and the fake exchange):
read a request's parameters from the query and the form body as Binance accepts them, and write a JSON
answer."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

# (status, body, headers), or None to drop the connection with no answer (an order accepted, its answer lost)
Reply = tuple[int, Any, dict[str, str]] | None
Answerer = Callable[[str, str, dict[str, str]], Reply]


class BinancePeer:
    """A threaded HTTP server that hands every request ("METHOD", path, parameters) to `answer`."""

    def __init__(self, answer: Answerer) -> None:
        handler = type("Handler", (_Handler,), {"answer": staticmethod(answer)})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    answer: Answerer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self, method: str) -> None:
        url = urlparse(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        params.update({k: v[0] for k, v in parse_qs(body).items()})
        reply = self.answer(method, url.path, params)
        if reply is None:
            self.close_connection = True
            self.connection.close()
            return
        status, payload, headers = reply
        data = json.dumps(payload).encode()
        self.send_response(status)
        for k, v in ({"Content-Type": "application/json;charset=UTF-8", "Content-Length": str(len(data))}
                     | headers).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")
