"""What the ccxt adapter does to ccxt's HTTP session: a cap on answer bodies, and every API URL pointed at a
local fake exchange in tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from reconciler import bounded_http

MAX_BODY_BYTES = 32 * 1024 * 1024  # a whole exchange's market list (Binance spot: ~15 MB) fits


def capped(response: Any, *args: Any, **kwargs: Any) -> Any:
    """A requests response hook (it runs before requests reads the body): read at most MAX_BODY_BYTES, so a
    peer sending an endless or enormous body cannot fill memory."""
    data = response.raw.read(MAX_BODY_BYTES + 1, decode_content=True)
    if len(data) > MAX_BODY_BYTES:
        response.close()
        raise bounded_http.TooLarge(MAX_BODY_BYTES, str(response.url))
    response._content = data  # what requests would have read; `text` and `json` use it
    response._content_consumed = True
    return response


def redirect(urls: Any, base: str) -> Any:
    """Every API URL of an exchange, pointed at `base` with its path kept (tests: a local fake exchange)."""
    if isinstance(urls, dict):
        return {k: redirect(v, base) for k, v in urls.items()}
    if isinstance(urls, str) and urls.startswith(("http://", "https://")):
        parts = urlsplit(urls)
        return base + parts.path + (f"?{parts.query}" if parts.query else "")
    return urls
