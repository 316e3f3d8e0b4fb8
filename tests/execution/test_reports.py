"""Reports say what happened (issue 20): a sentence about an order is derived from the journal's final state
of that order, never assumed — "the remainder cancelled" only for a cancelled order, and no "nothing was sent"
after an order went out."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from reconciler.journal.sentences import order_sentence
from reconciler.render.fmt import id_tail
from tests.conftest import Workspace, edit_yaml
from tests.execution.conftest import Answer, Broker, ForwardingProxy, run_cli


def _apply_with_cancels_pending(alpaca: Workspace, emulator: Broker) -> subprocess.CompletedProcess[str]:
    """Fills trickle in; a cancel stays pending far longer than the adapter waits for it to complete."""
    def slow_fills(doc: Any) -> None:
        doc["broker"]["fill_timeout_seconds"] = 0.6
        doc["broker"]["timeout_seconds"] = 1.0

    edit_yaml(alpaca.config, slow_fills)
    emulator.faults(fill_steps=50, fill_interval=0.2, cancel_delay=30)
    return run_cli(alpaca, "apply", "--auto-approve")


def test_the_remainder_is_called_cancelled_only_when_the_journal_says_it_was(
    alpaca: Workspace, emulator: Broker
) -> None:
    r = _apply_with_cancels_pending(alpaca, emulator)
    part = alpaca.query("select client_order_id, status from intents where status in ('canceled', 'accepted',"
                        " 'partially_filled') and filled_quantity is not null")
    reported = 0
    for cid, status in part:
        said = _said(r.stdout, cid)
        if "filled in part" not in said:
            continue
        reported += 1
        if status == "canceled":
            assert "the remainder cancelled" in said, said
        else:
            assert "the remainder cancelled" not in said, (status, said)
            assert "still open at the broker" in said, said
    assert reported > 0, r.stdout + r.stderr
    opened = alpaca.query("select count(*) from events where kind = 'order.cancel_unconfirmed'")[0][0]
    said = alpaca.query("select count(*) from events where kind = 'order.remainder_canceled'")[0][0]
    open_now = sum(1 for _, s in part if s != "canceled")
    assert opened == open_now
    assert said == sum(1 for _, s in part if s == "canceled")


def _said(stdout: str, cid: str) -> str:
    """What the apply printed about one order: its row (found by the short id) and the sentence under it, if
    any."""
    lines = stdout.splitlines()
    at = next(n for n, line in enumerate(lines) if id_tail(cid) in line)
    below = lines[at + 1] if at + 1 < len(lines) else ""
    sentence = below.strip() if below.startswith(" " * 6) and not below.startswith(" " * 7) else ""
    return lines[at] + ("\n" + sentence if sentence else "")


class FailingLookups(ForwardingProxy):
    """Orders go through; every lookup of an order by client id answers 503 (the broker's reads are down)."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream, self._fail)

    def _fail(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer | None:
        if method == "GET" and path == "/v2/orders:by_client_order_id":
            return 503, {"Content-Type": "application/json"}, b'{"message": "unavailable"}'
        return None


@pytest.fixture
def failing_lookups(alpaca: Workspace, emulator: Broker) -> Iterator[Workspace]:
    proxy = FailingLookups(emulator.url)
    edit_yaml(alpaca.config, lambda d: d["broker"].__setitem__("trading_url", proxy.url))
    yield alpaca
    proxy.server.shutdown()


def test_a_read_that_fails_after_an_order_was_sent_never_says_nothing_was_sent(
    failing_lookups: Workspace, emulator: Broker
) -> None:
    emulator.faults(fill_steps=3, fill_interval=0.5)  # the order's answer is not final: apply must look it up
    r = run_cli(failing_lookups, "apply", "--auto-approve")
    assert r.returncode == 1, r.stdout + r.stderr
    assert len(emulator.orders()) == 1
    assert "unavailable after" in r.stderr
    assert "nothing was sent" not in r.stderr
    assert "orders sent before this are in the journal" in r.stderr


def test_each_line_of_the_report_says_what_the_journal_row_of_its_order_says(
    alpaca: Workspace, emulator: Broker
) -> None:
    r = _apply_with_cancels_pending(alpaca, emulator)
    engine = create_engine(alpaca.journal_url)
    with engine.connect() as conn:
        rows = [dict(row) for row in conn.execute(text("select * from intents")).mappings()]
    engine.dispose()
    said = {row["client_order_id"]: _said(r.stdout, row["client_order_id"]) for row in rows}
    assert rows, r.stdout + r.stderr
    # The sentence under the row, or none for an order the journal holds as filled in full without a remark.
    assert [cid for cid, text in said.items() if not _says(text, next(
        row for row in rows if row["client_order_id"] == cid))] == []


def _says(text: str, row: dict[str, Any]) -> bool:
    if "\n" in text:
        return text.endswith("\n" + order_sentence(row))
    return row["status"] == "filled" and not row["message"] and text.split()[0] == "filled"
