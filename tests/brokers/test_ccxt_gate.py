"""Every request the ccxt adapter makes goes through its one gate (`CcxtGate.call`, ccxt_gate.py): the IP's
ban and weight, the account's bucket, the 429 cap and clock skew are checked there, so a new request cannot
skip them. Read from the source: an exchange method that talks to the network is only called on the parameter
of a function handed to the gate, and only the gate starts a call."""

from __future__ import annotations

import ast
from pathlib import Path

from reconciler.brokers import ccxt as adapter
from reconciler.brokers import ccxt_gate as gate

NETWORK = ("fetch_", "create_", "cancel_", "load_markets", "public_", "private_", "sapi_", "edit_")


def _violations(source: str) -> list[str]:
    """Calls of network methods on anything but a parameter of the innermost lambda or nested function."""
    tree = ast.parse(source)
    out: list[str] = []

    def visit(node: ast.AST, scopes: list[ast.AST]) -> None:
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr.startswith(NETWORK)
        ):
            functions = [s for s in scopes if isinstance(s, ast.Lambda | ast.FunctionDef)]
            inner = functions[-1] if functions else None
            # A lambda, or a function defined inside another: what the gate is handed (a method is neither).
            nested = isinstance(inner, ast.Lambda) or len(functions) > 1
            params = (
                {a.arg for a in inner.args.args} if isinstance(inner, ast.Lambda | ast.FunctionDef) else set()
            )
            receiver = node.func.value
            if not (
                nested and isinstance(receiver, ast.Name) and receiver.id in params and receiver.id != "self"
            ):
                out.append(f"line {node.lineno}: .{node.func.attr}(...) outside a function handed to the"
                           " gate")
        inside = [*scopes, node] if isinstance(node, ast.Lambda | ast.FunctionDef | ast.ClassDef) else scopes
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(tree, [])
    return out


def _callers_of(source: str, name: str) -> set[str]:
    tree = ast.parse(source)
    return {
        f.name
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef)
        for c in ast.walk(f)
        if isinstance(c, ast.Attribute) and c.attr == name and isinstance(c.ctx, ast.Load)
    }


SOURCE = Path(adapter.__file__).read_text()
GATE = Path(gate.__file__).read_text()


def test_every_exchange_request_is_a_function_handed_to_the_gate() -> None:
    assert _violations(SOURCE) == []


def test_the_gate_itself_calls_the_exchange_only_on_what_it_is_handed() -> None:
    assert _violations(GATE) == []


def test_only_the_gate_starts_a_call() -> None:
    assert _callers_of(GATE, "_within_deadline") == {"call"}


def test_the_adapter_never_starts_a_call_around_the_gate() -> None:
    assert _callers_of(SOURCE, "_within_deadline") == set()


def test_the_check_sees_a_request_made_around_the_gate() -> None:
    bypass = (
        "class B:\n"
        "    def observe(self, account):\n"
        "        exchange, _ = self._exchange(account)\n"
        "        return exchange.fetch_balance()\n"
    )
    assert _violations(bypass) == ["line 4: .fetch_balance(...) outside a function handed to the gate"]


def test_the_check_accepts_a_lambda_on_the_exchange_it_is_given() -> None:
    gated = ("class B:\n    def observe(self, a):\n        return self._read(a, 'x', lambda x:"
             " x.fetch_balance())\n")
    assert _violations(gated) == []
