"""Alpaca's market-data feeds and what their volumes mean. `iex` (every plan has it) is one exchange: its
volume is a few percent of the consolidated tape (AAPL one day: 1.6 M on IEX, 46.6 M on SIP), so the
order-size check's volume rule, meant against the whole market's volume, would be some thirty times too tight
with it. `sip` and `delayed_sip` are the consolidated tape. Pure functions; the adapter reads the quotes."""

from __future__ import annotations

from decimal import Decimal

from reconciler.core.models import Quote

PARTIAL_FEEDS = frozenset({"iex"})


def feed_volumes(quotes: dict[str, Quote], feed: str, share: Decimal | None) -> dict[str, Quote]:
    """The quotes with volumes the order-size check can judge by: a partial feed's scaled up by its share of
    the consolidated volume when one is set, else left out (the volume rule is then off for them)."""
    if feed not in PARTIAL_FEEDS:
        return quotes
    return {
        sym: q.model_copy(update={"daily_volume": None if q.daily_volume is None or not share else
                                  q.daily_volume / share})
        for sym, q in quotes.items()
    }


def feed_source(feed: str, share: Decimal | None) -> str:
    """The plan's words for where its quotes came from, and what the volume rule made of them."""
    if feed not in PARTIAL_FEEDS:
        return f"Alpaca's {feed} feed"
    if share:
        return (f"Alpaca's {feed} feed (partial: volumes scaled up by its {share:.1%} share for the volume"
                " rule)")
    return f"Alpaca's {feed} feed (partial: the order-size volume rule is off)"
