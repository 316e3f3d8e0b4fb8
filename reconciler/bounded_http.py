"""One HTTP exchange within a total deadline and a size cap, for every peer reconciler talks to over httpx (the
Alpaca adapter, the GitHub client).

httpx's timeouts bound each read, so a peer that drips a byte every few seconds (headers or body) or never ends
its body would hold the caller — and whatever lock it holds — for ever; and a body is read whole into memory.
Here the exchange runs on a worker thread; past the deadline the caller's `on_deadline` closes the connection
under it (which ends the worker's read) and the exchange is an `httpx.ReadTimeout`, handled as any other timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx


class TooLarge(Exception):
    """The answer's body passed the size cap; `size` is how much had arrived."""

    def __init__(self, size: int) -> None:
        super().__init__(f"an answer larger than {size:,} bytes")
        self.size = size


def exchange(
    client: httpx.Client, method: str, url: str, *, deadline: float, max_bytes: int,
    on_deadline: Callable[[], None], **kw: Any,
) -> httpx.Response:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            with client.stream(method, url, **kw) as r:
                body = bytearray()
                for chunk in r.iter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        box["too_big"] = len(body)
                        return
                headers = [(k, v) for k, v in r.headers.multi_items() if k.lower() != "content-encoding"]
                box["response"] = httpx.Response(r.status_code, headers=headers, content=bytes(body), request=r.request)
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=run, name="bounded-http", daemon=True)
    worker.start()
    worker.join(deadline)
    if worker.is_alive():
        on_deadline()
        raise httpx.ReadTimeout(f"no complete answer within {deadline:g}s ({method} {url})")
    if "too_big" in box:
        raise TooLarge(max_bytes)
    if "error" in box:
        raise box["error"]
    response: httpx.Response = box["response"]
    return response
