"""A send whose outcome is unknown stays unknown (issue 20): `failed` only on a definitive refusal from the
broker; a send without a definitive answer leaves its intent `unknown` until the broker shows the order or the
in-flight grace has passed since its last attempt, and no plan or apply trades the account meanwhile.

Every exception the send path can raise is enumerated (the adapters' raise statements, walked, and the error
hierarchies they come from), so a new exception cannot slip past the rule.
"""

from __future__ import annotations

import ast
import contextlib
import decimal
import inspect
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, get_type_hints

import ccxt
import httpx
import pytest

import reconciler
from reconciler.brokers.base import OrderRequest, OrderState
from reconciler.core.models import Plan, PortfolioPlan
from reconciler.errors import ExchangeBannedError, OrderRefusedError, ReconcilerError
from reconciler.execution.leg import ApplyResult, Leg
from reconciler.execution.planfile import read_plan
from reconciler.runtime import Runtime
from tests.builders import WithBroker
from tests.conftest import Workspace, edit_yaml
from tests.execution.conftest import Answer, Broker, ForwardingProxy, run_cli

PACKAGE = Path(reconciler.__file__).parent
# The code a send runs through, below the executor: the adapters and what they call to reach the broker.
SEND_PATH = [*sorted((PACKAGE / "brokers").glob("*.py")), PACKAGE / "bounded_http.py",
             *sorted((PACKAGE / "secrets").glob("*.py"))]
# What Python itself raises in answer parsing and I/O, which no raise statement names.
BUILTIN = [
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    ArithmeticError,
    decimal.InvalidOperation,
    OSError,
    TimeoutError,
    ConnectionResetError,
    RuntimeError,
    AssertionError,
    UnicodeDecodeError,
]


def _subclasses(root: type[BaseException]) -> set[type[BaseException]]:
    out = {root}
    for sub in root.__subclasses__():
        out |= _subclasses(sub)
    return out


def raised_in(path: Path) -> set[type[BaseException]]:
    """The exception classes a module's raise statements name (a helper that builds one counts by its return
    annotation)."""
    module = inspect.getmodule(_load(path))
    assert module is not None
    out: set[type[BaseException]] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Raise) or node.exc is None:
            continue
        target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        obj = _resolve(module, target)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            out.add(obj)
        elif callable(obj) and isinstance(returned := get_type_hints(obj).get("return"), type):
            out.add(returned)
    return out


def _load(path: Path) -> Any:
    name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return __import__(name, fromlist=["_"])


def _resolve(module: Any, node: ast.expr) -> Any:
    if isinstance(node, ast.Name):
        return getattr(module, node.id, None)
    if isinstance(node, ast.Attribute):
        owner = _resolve(module, node.value)
        return None if owner is None else getattr(owner, node.attr, None)
    return None  # `raise exc` of a caught exception: one of the classes caught, counted below


def send_path_exceptions() -> list[type[BaseException]]:
    """Every exception class a send can end with: those raised on its path, and every class of the hierarchies
    it calls into (ours, httpx's, ccxt's), and Python's own."""
    found: set[type[BaseException]] = set(BUILTIN)
    for path in SEND_PATH:
        found |= raised_in(path)
    found |= _subclasses(ReconcilerError) | _subclasses(httpx.HTTPError) | _subclasses(httpx.StreamError)
    found |= _subclasses(ccxt.BaseError)
    return sorted(
        (c for c in found if issubclass(c, Exception)), key=lambda c: f"{c.__module__}.{c.__qualname__}"
    )


def instance(cls: type[BaseException]) -> BaseException:
    try:
        return cls("the broker said something")
    # a constructor that wants more (httpx's status error, a size): built bare
    except (TypeError, ValueError):
        exc = cls.__new__(cls)
        Exception.__init__(exc, "the broker said something")
        return exc


def test_the_walk_finds_the_send_paths_own_exceptions() -> None:
    raised = set().union(*(raised_in(p) for p in SEND_PATH))
    from reconciler.errors import BrokerError, SendUnknownError

    assert {BrokerError, OrderRefusedError, SendUnknownError} <= raised
    assert raised <= set(send_path_exceptions())


class Raising:
    """The paper broker, except that `submit` ends with `exc` (after placing the order when `placed`)."""

    def __init__(self, inner: Any, exc: BaseException, *, placed: bool = False) -> None:
        self.inner, self.exc, self.placed = inner, exc, placed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def submit(self, account: str, order: OrderRequest) -> OrderState:
        if self.placed:
            self.inner.submit(account, order)
        raise self.exc


@pytest.fixture
def planned(workspace: Workspace, tmp_path: Path) -> Iterator[tuple[Plan, PortfolioPlan, Runtime, str]]:
    plan_file = tmp_path / "plan.json"
    assert workspace.run("plan", "--out", str(plan_file)).code == 0
    plan = read_plan(plan_file)
    pp = next(p for p in plan.portfolios if any(a.side == "buy" for a in p.actions))
    rt = Runtime(workspace.config, workspace.journal_url)
    yield plan, pp, rt, rt.journal.start_apply(plan.content_hash, plan.targets_hash, None, "test")


def _send(
    planned: tuple[Plan, PortfolioPlan, Runtime, str], exc: BaseException, leg: int, placed: bool = False
) -> tuple[Leg, ApplyResult]:
    plan, pp, rt, apply_id = planned
    action = replace(next(a for a in pp.actions if a.side == "buy"), leg=leg, quantity=Decimal(1))
    result = ApplyResult(apply_id, "succeeded")
    raising = WithBroker(rt, Raising(rt.broker, exc, placed=placed))
    leg_ = Leg(raising, plan, pp, action, apply_id, None, result)
    # journaled as failed like any refusal, then it ends the apply
    with contextlib.suppress(ExchangeBannedError):
        leg_.send(Decimal(1), 0.0)
    return leg_, result


def test_every_exception_a_send_can_end_with_is_unknown_unless_a_definitive_refusal(
    planned: tuple[Plan, PortfolioPlan, Runtime, str],
) -> None:
    classes = send_path_exceptions()
    assert len(classes) > 60  # ours, httpx's and ccxt's: the enumeration really ran
    rt = planned[2]
    for n, cls in enumerate(classes):
        leg, result = _send(planned, instance(cls), 1000 + n)
        intent = rt.journal.intent(leg.cid)
        assert intent is not None
        expected = "failed" if issubclass(cls, OrderRefusedError) else "unknown"
        assert intent["status"] == expected, cls
        assert result.outcomes[-1].status == expected, cls


def test_an_order_placed_before_its_send_failed_is_adopted_not_unknown(
    planned: tuple[Plan, PortfolioPlan, Runtime, str],
) -> None:
    leg, result = _send(planned, httpx.ReadTimeout("lost answer"), 2000, placed=True)
    intent = planned[2].journal.intent(leg.cid)
    assert intent is not None
    assert intent["status"] == "filled"
    assert result.outcomes[-1].status == "filled"


def test_an_interrupted_send_is_unknown_and_the_interruption_goes_on(
    planned: tuple[Plan, PortfolioPlan, Runtime, str],
) -> None:
    with pytest.raises(KeyboardInterrupt):
        _send(planned, KeyboardInterrupt(), 3000)
    (row,) = [r for cid, r in planned[2].journal.intents_for_plan(planned[0].content_hash).items()
              if cid.startswith(f"rc-{planned[0].content_hash[:8]}-3000-")]
    assert row["status"] == "unknown"


# ---- the scenario, end to end, through a misbehaving proxy in front of the emulator ----

GRACE = 600  # apply.in_flight_grace_seconds: far longer than the scenario's commands take on a loaded machine
SHORT_GRACE = 15  # ... in the test that waits for it to pass
TIMEOUT = 0.5  # broker.timeout_seconds: a send takes at most 6 x 0.5 + 0.15 = 3.15 s


class HoldingProxy(ForwardingProxy):
    """Every POST /v2/orders of the first order's client id is held until the test releases it (so each
    attempt times out), then passed on: the first lands late, the resends meet Alpaca's duplicate-id
    refusal."""

    def __init__(self, upstream: str) -> None:
        self.cid: str | None = None
        self.attempts = 0
        self.release = threading.Event()
        super().__init__(upstream, self._hold)

    def _hold(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer | None:
        if method == "POST" and path == "/v2/orders":
            cid = str(httpx.Response(200, content=body).json()["client_order_id"])
            self.cid = self.cid or cid
            if cid == self.cid:
                self.attempts += 1
                self.release.wait(120)
        return None


@pytest.fixture
def held(alpaca: Workspace, emulator: Broker) -> Iterator[tuple[Workspace, HoldingProxy]]:
    proxy = HoldingProxy(emulator.url)

    def through_proxy(doc: Any) -> None:
        doc["broker"]["trading_url"] = proxy.url
        doc["broker"]["timeout_seconds"] = TIMEOUT
        doc["apply"]["in_flight_grace_seconds"] = GRACE

    edit_yaml(alpaca.config, through_proxy)
    yield alpaca, proxy
    proxy.release.set()
    proxy.server.shutdown()


def test_an_order_whose_every_attempt_timed_out_is_unknown_and_never_bought_twice(
    held: tuple[Workspace, HoldingProxy], emulator: Broker
) -> None:
    ws, proxy = held
    first = run_cli(ws, "apply", "--auto-approve")
    assert proxy.attempts == 3, first.stdout + first.stderr
    cid = proxy.cid
    (status, message), = ws.query("select status, message from intents where client_order_id = :c", c=cid)
    assert status == "unknown"
    assert "sent without a definitive answer" in message
    assert ws.query("select count(*) from intents where status = 'failed'")[0][0] == 0
    assert "unknown" in first.stdout

    for argv in (("plan",), ("apply", "--auto-approve")):
        refused = run_cli(ws, *argv)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert cid in refused.stderr
    assert not any(o["client_order_id"] == cid for o in emulator.orders())  # still held

    proxy.release.set()  # the held order lands now, seconds after the apply gave up on it
    for _ in range(300):
        if any(o["client_order_id"] == cid for o in emulator.orders()):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the held order never reached the emulator")
    for _ in range(3):
        done = run_cli(ws, "apply", "--auto-approve")
        assert done.returncode == 0, done.stdout + done.stderr
        if run_cli(ws, "plan", "--detailed-exitcode").returncode == 0:
            break
        emulator.control("/_emulator/advance", {"days": 1})
    ids = [o["client_order_id"] for o in emulator.orders()]
    assert len(ids) == len(set(ids)), "an order was sent twice"
    (account,) = [name for name, a in emulator.state()["accounts"].items()
                  if any(o["client_order_id"] == cid for o in a["orders"])]
    orders = emulator.orders(account)
    landed = next(o for o in orders if o["client_order_id"] == cid)
    again = [
        o
        for o in orders
        if o["symbol"] == landed["symbol"] and o["side"] == landed["side"] and o is not landed
    ]
    assert again == [], "the held order's trade was made a second time"


def test_the_grace_runs_from_the_last_attempt_not_from_the_intent(
    held: tuple[Workspace, HoldingProxy], emulator: Broker
) -> None:
    ws, proxy = held
    edit_yaml(ws.config, lambda d: d["apply"].__setitem__("in_flight_grace_seconds", SHORT_GRACE))
    run_cli(ws, "apply", "--auto-approve")
    cid = proxy.cid
    # Written long ago, its last attempt just now: still unknown.
    ws.execute("update intents set created_at = '2000-01-01 00:00:00' where client_order_id = :c", c=cid)
    r = run_cli(ws, "reconcile")
    assert cid in r.stdout, r.stdout + r.stderr
    assert ws.query("select status from intents where client_order_id = :c", c=cid)[0][0] == "unknown"
    time.sleep(SHORT_GRACE + 0.5)
    run_cli(ws, "reconcile")
    assert ws.query("select status from intents where client_order_id = :c", c=cid)[0][0] == "failed"


def test_a_grace_shorter_than_the_longest_send_is_refused_at_load(alpaca: Workspace) -> None:
    edit_yaml(alpaca.config, lambda d: d["apply"].__setitem__("in_flight_grace_seconds", 30))
    r = alpaca.run("validate")
    assert r.code == 1
    assert "reconciler.yaml:" in r.err
    assert "field apply.in_flight_grace_seconds: 30 s is shorter than the longest" in r.err
    assert "60.15 s" in r.err
    assert "fix: set apply.in_flight_grace_seconds to at least 61, or lower broker.timeout_seconds" in r.err


def test_a_ban_fails_its_order_and_ends_the_apply(planned: tuple[Plan, PortfolioPlan, Runtime, str]) -> None:
    """Binance's 418: nothing was placed (the intent is failed), and every later call would be refused too."""
    plan, pp, rt, apply_id = planned
    action = replace(next(a for a in pp.actions if a.side == "buy"), leg=4000, quantity=Decimal(1))
    banned = Raising(rt.broker, ExchangeBannedError("banned until 2026-01-05T15:07:00+00:00"))
    leg = Leg(WithBroker(rt, banned), plan, pp, action, apply_id, None, ApplyResult(apply_id, "succeeded"))
    with pytest.raises(ExchangeBannedError):
        leg.send(Decimal(1), 0.0)
    intent = rt.journal.intent(leg.cid)
    assert intent is not None
    assert intent["status"] == "failed"
