"""Every way issue 20 saw a broker (or the machine) misbehave, as a registry of faults a proxy on 127.0.0.1
plays between the CLI and the broker emulator. tests/execution/test_every_fault.py drives each registered
fault through plan and apply and checks the same invariants for all: nothing sent twice, nothing the plan did
not ask for, every apply ended within its budget, no run of 6 characters of a credential in any output or
journal row.

A fault is registered by name (ISSUE_FAULTS lists the issue's words; the test refuses a registry that lacks
one); it may prepare the accounts, act on the emulator's books when activated, answer requests in its place,
and check what only it can tell.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.brokers.test_alpaca_hostile import _drip_body, _drip_headers
from tests.conftest import CliResult, Workspace
from tests.execution.conftest import Answer, Broker, ForwardingProxy, Raw

TIMEOUT = 0.5  # broker.timeout_seconds: an Alpaca send takes at most 6 x 0.5 + 0.15 = 3.15 s
# apply.max_duration_seconds: room for the honest orders on a loaded machine and one send held to its end
BUDGET = 8
# What may pass between the budget running out and the apply's end, journaling what was skipped, on a loaded
# machine; the faults alone would hold an apply for minutes.
MARGIN = 6.0
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    account: str | None  # whose key the request carries

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


class FaultProxy(ForwardingProxy):
    """The proxy the workspace talks to: honest until `active`, then the fault answers (or holds, or drips) in
    the emulator's place; `healed` makes it honest again and lets every held request through."""

    def __init__(self, upstream: str, fault: Fault, keys: dict[str, tuple[str, str]]) -> None:
        self.fault = fault
        self.accounts = {key_id: account for account, (key_id, _) in keys.items()}
        self.active = False
        self.healed = threading.Event()
        self.held = threading.Event()  # a request is being held
        self.posts = 0  # order submissions seen while active
        self.first_cid: str | None = None
        self.dripped = 0  # answers dripped
        super().__init__(upstream, self._intercept)

    def _intercept(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer | Raw | None:
        if not self.active or self.healed.is_set() or self.fault.intercept is None:
            return None
        key = {k.lower(): v for k, v in headers.items()}.get("apca-api-key-id", "")
        req = Request(method, path, self.request.query, headers, body, self.accounts.get(key))
        with self.lock:
            if (method, path) == ("POST", "/v2/orders"):
                self.posts += 1
                self.first_cid = self.first_cid or str(json.loads(body)["client_order_id"])
        return self.fault.intercept(self, req)

    def upstream(self, req: Request) -> Answer:
        return self.forward(req.method, req.target, req.headers, req.body)

    def hold(self) -> None:
        """Hold this request until the test heals the proxy (at most a minute)."""
        self.held.set()
        self.healed.wait(60)

    def settle(self) -> None:
        """Heal, and wait until every held request has reached the emulator."""
        self.healed.set()
        super().settle()


@dataclass
class Run:
    """One fault's run: the workspace, the emulator behind the proxy, each account's key id and secret."""

    ws: Workspace
    broker: Broker
    proxy: FaultProxy
    keys: dict[str, tuple[str, str]]
    tmp: Path
    outputs: list[str] = field(default_factory=list)
    codes: list[int] = field(default_factory=list)  # the apply's exit codes

    def cli(self, *argv: str) -> CliResult:
        """The CLI (in this process: a fault's run starts a dozen), with debug logs as JSON on stderr; its
        outputs kept for the leak check."""
        r = self.ws.run("--log-level", "debug", "--log-format", "json", *argv)
        self.outputs += [r.out, r.err]
        return r

    def orders(self, account: str | None = None) -> list[dict[str, Any]]:
        """What the emulator received (for one account, by its key id)."""
        return self.broker.orders(None if account is None else self.keys[account][0])


def default_apply(run: Run, plan: Path) -> None:
    r = run.cli("--broker-bodies", str(run.tmp / "bodies.log"), "apply", str(plan),
                "--summary-file", str(run.tmp / "summary.md"))
    run.codes.append(r.code)


@dataclass(frozen=True)
class Fault:
    name: str
    intercept: Callable[[FaultProxy, Request], Answer | Raw | None] | None = None
    prepare: Callable[[Run], None] | None = None  # before the reference plan, honest
    activate: Callable[[Run], None] | None = None  # on the emulator's books, when the fault starts
    apply: Callable[[Run, Path], None] = default_apply
    silent: Callable[[Run], set[tuple[str, str | None]]] = lambda run: set()  # (account, symbol or None: any)
    check: Callable[[Run], None] | None = None
    at_plan: bool = False  # lies to the plan (its reads), not only to the orders


def _ok(answer: Answer) -> Any:
    return json.loads(answer[2]) if answer[0] < 300 else None


def _json(status: int, body: Any) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _header_block(req: Request) -> str:
    return f"{req.method} {req.path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in req.headers.items())


# ---- the faults ----

def _every_post_times_out(proxy: FaultProxy, req: Request) -> Answer | None:
    """Every attempt of the first order is held past the client's timeout, then lands, late."""
    if (req.method, req.path) == ("POST", "/v2/orders") and json.loads(req.body)[
        "client_order_id"
    ] == proxy.first_cid:
        proxy.hold()
        return proxy.upstream(req)
    return None


def _landed_once(run: Run) -> None:
    cid = run.proxy.first_cid
    assert [o["client_order_id"] for o in run.orders()].count(cid) == 1, "the held order did not land, once"
    (status,) = run.ws.query("select status from intents where client_order_id = :c", c=cid)[0]
    assert status != "failed", "an order whose every attempt timed out was marked failed"


def _positions_100x(proxy: FaultProxy, req: Request) -> Answer | None:
    if (req.method, req.path) != ("GET", "/v2/positions") or req.account != "paper-taxable":
        return None
    answer = proxy.upstream(req)
    positions = _ok(answer)
    for p in positions or []:
        p["qty"] = str(Decimal(p["qty"]) * 100)
    return answer if positions is None else _json(answer[0], positions)


def _fills_twice(proxy: FaultProxy, req: Request) -> Answer | None:
    """Every fill activity listed twice, the copy under an id of its own."""
    if (req.method, req.path) != ("GET", "/v2/account/activities"):
        return None
    answer = proxy.upstream(req)
    rows = _ok(answer)
    if not isinstance(rows, list):
        return answer
    doubled = [r for row in rows for r in ([row, {**row, "id": row["id"] + "9"}]
                                            if row.get("activity_type") == "FILL" else [row])]
    return _json(answer[0], doubled)


def _trade_then_move_prices(run: Run) -> None:
    """Fills since the journal's baseline (an honest apply), then prices that make the accounts drift."""
    assert run.cli("apply", "--auto-approve").code == 0
    run.broker.control("/_emulator/prices", {"VTI": {"price": 347.29, "previous_close": 340.00}})


def _filled_accounts(run: Run) -> set[tuple[str, str | None]]:
    """Accounts with fills since the baseline: their doubled fills disagree with their cash."""
    rows = run.ws.query("select account, filled_quantity from intents")  # quantities are kept as text
    return {(a, None) for a, filled in rows if filled is not None and Decimal(str(filled)) > 0}


def _inflated_fill(proxy: FaultProxy, req: Request) -> Answer | None:
    """The answer to paper-ira's first order claims 100,000 ordered and filled (its own qty agrees)."""
    if (req.method, req.path) != ("POST", "/v2/orders") or req.account != "paper-ira":
        return None
    answer = proxy.upstream(req)
    order = _ok(answer)
    if order is None or order["client_order_id"] != proxy.first_cid:
        return answer
    order.update(qty="100000", filled_qty="100000", status="filled",
                 filled_avg_price=order.get("filled_avg_price") or "100")
    return _json(answer[0], order)


def _one_order_for_the_liar(run: Run) -> None:
    assert len(run.orders("paper-ira")) <= 1, "orders were sent after an impossible answer"
    filled = run.ws.query("select quantity from fills where client_order_id = :c", c=run.proxy.first_cid)
    assert sum((Decimal(str(q)) for (q,) in filled), Decimal(0)) < 100000


def _record_baseline(run: Run) -> None:
    assert run.cli("plan", "--record").code in (0, 2)


def _transfer_in(run: Run) -> None:
    emu = run.broker.emulator
    with emu.lock:
        emu.accounts[run.keys["paper-taxable"][0]].positions["BND"] += Decimal(50)


def _drip_fed(proxy: FaultProxy, req: Request) -> Answer | Raw | None:
    """From the second order on, every request reaches the emulator, then its answer drips a byte every half
    second for ever: the status line and headers of one answer, the body of the next."""
    if proxy.posts < 2:
        return None
    proxy.upstream(req)
    with proxy.lock:
        proxy.dripped += 1
        return _drip_headers if proxy.dripped % 2 else _drip_body


def _interrupted(run: Run) -> None:
    assert run.proxy.dripped >= 2, "nothing was dripped"
    (status,) = run.ws.query("select status from applies")[-1]
    assert status == "interrupted"
    failed = run.ws.query("select client_order_id from intents where status = 'failed'")
    assert failed == [], "a send with no answer was marked failed"


def _status_regresses(proxy: FaultProxy, req: Request) -> Answer | None:
    """Every answer about an order says `new`, nothing filled (a filled order regressing to new)."""
    if req.path != "/v2/orders:by_client_order_id" and (req.method, req.path) != ("POST", "/v2/orders"):
        return None
    answer = proxy.upstream(req)
    order = _ok(answer)
    if not isinstance(order, dict):
        return answer
    order.update(status="new", filled_qty="0", filled_avg_price=None)
    return _json(answer[0], order)


def _hold_first_post(proxy: FaultProxy, req: Request) -> Answer | None:
    if (req.method, req.path) == ("POST", "/v2/orders") and proxy.posts == 1:
        proxy.hold()
        return proxy.upstream(req)
    return None


def _sigterm_mid_apply(run: Run, plan: Path) -> None:
    """SIGTERM while the first order is on its way; the order then arrives and its answer comes back."""
    apply = subprocess.Popen(
        [sys.executable, "-m", "reconciler.cli.main", "--config", str(run.ws.config), "--no-color",
         "--log-level", "debug", "--log-format", "json", "apply", str(plan)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ), cwd=REPO,
    )
    try:
        assert run.proxy.held.wait(60), "the apply never sent an order"
        apply.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        run.proxy.healed.set()
        out, err = apply.communicate(timeout=120)
    finally:
        if apply.poll() is None:
            apply.kill()
    run.outputs += [out, err]
    run.codes.append(apply.returncode)


def _stopped(run: Run) -> None:
    assert run.codes == [143], run.outputs[-1][-2000:]
    assert len(run.orders()) == 1, "an order was sent after the SIGTERM"
    assert run.ws.query("select count(*) from intents where status = 'submitting'")[0][0] == 0


def _echo_base64(proxy: FaultProxy, req: Request) -> Answer | None:
    """Order submissions refused with the request's headers echoed back, base64-encoded."""
    if (req.method, req.path) != ("POST", "/v2/orders"):
        return None
    echoed = base64.b64encode(_header_block(req).encode()).decode()
    return _json(403, {"code": 40310000, "message": f"request forbidden: {echoed}"})


def _echo_html_cut(proxy: FaultProxy, req: Request) -> Answer | None:
    """A gateway's error page listing the request's headers, cut at 200 characters."""
    if (req.method, req.path) != ("POST", "/v2/orders"):
        return None
    lines = "".join(f"<li>{k}: {v}</li>" for k, v in req.headers.items() if k.lower().startswith("apca"))
    page = f"<html><body><h1>502 Bad Gateway</h1><ul>{lines}</ul><p>upstream said no</p></body></html>"
    return 502, {"Content-Type": "text/html"}, page.encode()[:200]


def _secret_as_symbol(proxy: FaultProxy, req: Request) -> Answer | None:
    """Each account's positions hold one whose symbol is the account's own secret."""
    if (req.method, req.path) != ("GET", "/v2/positions") or req.account is None:
        return None
    answer = proxy.upstream(req)
    positions = _ok(answer)
    if not isinstance(positions, list):
        return answer
    secret = {k.lower(): v for k, v in req.headers.items()}["apca-api-secret-key"]
    positions.append(
        {
            "symbol": secret,
            "qty": "1",
            "side": "long",
            "market_value": "1",
            "avg_entry_price": "1",
            "current_price": "1",
            "asset_class": "us_equity",
        }
    )
    return _json(answer[0], positions)


ALL = {"paper-ira", "paper-taxable", "paper-college"}
FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault("post-times-out-on-every-attempt", _every_post_times_out, check=_landed_once),
        Fault(
            "position-100x-too-high",
            _positions_100x,
            silent=lambda run: {("paper-taxable", None)},
            at_plan=True,
        ),
        Fault(
            "duplicated-fill-activities",
            _fills_twice,
            prepare=_trade_then_move_prices,
            silent=_filled_accounts,
            at_plan=True,
        ),
        Fault("fill-inflated-beyond-the-order-sent", _inflated_fill, check=_one_order_for_the_liar),
        Fault(
            "position-moved-beyond-the-journals-fills",
            prepare=_record_baseline,
            activate=_transfer_in,
            silent=lambda run: {("paper-taxable", "BND")},
            at_plan=True,
        ),
        Fault("drip-fed-reads", _drip_fed, check=_interrupted),
        Fault("status-regresses-filled-to-new", _status_regresses),
        Fault("sigterm-mid-apply", _hold_first_post, apply=_sigterm_mid_apply, check=_stopped),
        Fault("error-body-echoes-headers-base64", _echo_base64),
        Fault("error-body-html-cut-at-200", _echo_html_cut),
        Fault(
            "secret-echoed-as-a-symbol",
            _secret_as_symbol,
            silent=lambda run: {(a, None) for a in ALL},
            at_plan=True,
        ),
    )
}

# The issue's words for what it saw (issue 20): each must be a registered fault.
ISSUE_FAULTS = (
    "post-times-out-on-every-attempt", "position-100x-too-high", "duplicated-fill-activities",
    "fill-inflated-beyond-the-order-sent", "position-moved-beyond-the-journals-fills", "drip-fed-reads",
    "status-regresses-filled-to-new", "sigterm-mid-apply", "error-body-echoes-headers-base64",
    "error-body-html-cut-at-200", "secret-echoed-as-a-symbol",
)
