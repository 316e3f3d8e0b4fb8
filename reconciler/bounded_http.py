"""Calls to a peer within a total deadline, and HTTP answers within a size cap: for every peer reconciler
talks to (the Alpaca adapter and the GitHub client over httpx, the ccxt adapter through its own HTTP stack).

A client's timeouts bound each read, so a peer that drips a byte every few seconds (headers or body) or never
ends its body would hold the caller — and whatever lock it holds — for ever; and a body is read whole into
memory. Here the call runs on a worker thread; past the deadline the caller's `on_deadline` closes the
connection under it (which ends the worker's read) and the caller's timeout error is raised, handled as any
other timeout. `within` bounds any call so: the policy engine bounds each Rego evaluation with it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


class TooLarge(Exception):
    """The answer's body passed the size cap."""

    def __init__(self, size: int, source: str = "") -> None:
        super().__init__(f"an answer larger than {size:,} bytes" + (f" ({source})" if source else ""))
        self.size = size


def within(
    deadline: float, fn: Callable[[], T], *, on_deadline: Callable[[], None],
    timeout: Callable[[], BaseException]
) -> T:
    """`fn()` on a worker thread, waited for at most `deadline` seconds. Past it, `on_deadline()` ends the
    worker's I/O (the worker is abandoned) and `timeout()` is raised; whatever `fn` raises is raised here."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=run, name="bounded-call", daemon=True)
    worker.start()
    worker.join(deadline)
    if worker.is_alive():
        on_deadline()
        raise timeout()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def exchange(
    client: httpx.Client, method: str, url: str, *, deadline: float, max_bytes: int,
    on_deadline: Callable[[], None], **kw: Any,
) -> httpx.Response:
    """One HTTP exchange within `deadline` seconds in all, its body at most `max_bytes` (else TooLarge)."""

    def read() -> httpx.Response:
        with client.stream(method, url, **kw) as r:
            body = bytearray()
            for chunk in r.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise TooLarge(max_bytes)
            headers = [(k, v) for k, v in r.headers.multi_items() if k.lower() != "content-encoding"]
            return httpx.Response(r.status_code, headers=headers, content=bytes(body), request=r.request)

    return within(
        deadline, read, on_deadline=on_deadline,
        timeout=lambda: httpx.ReadTimeout(f"no complete answer within {deadline:g}s ({method} {url})"),
    )
