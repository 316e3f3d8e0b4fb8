"""Mutations of the workspace's files (issue 19, sections 1 and 2): their kinds, places, sizes and encodings,
YAML shapes, keys and values, and CSV rows. Registered in tests/proof/registry.py."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from pathlib import Path

from hypothesis import strategies as st

from tests.proof.workspace import ACCOUNTS, APPLY, APPLY_PLAN, PLAN_FILE, Mutation

ALL = frozenset(ACCOUNTS)
YAML_FILES = {  # file -> the portfolios it concerns
    "reconciler.yaml": ALL,
    "portfolios/alpha.yaml": frozenset({"alpha"}),
    "portfolios/beta.yaml": frozenset({"beta"}),
    "portfolios/models/mixed.yaml": frozenset({"beta"}),
}
FILES = {**YAML_FILES, "prices.csv": frozenset({"beta"}), "policies/kill_switch.rego": ALL,
         "policies/deny_list.rego": ALL, PLAN_FILE: ALL}
CAPS = {
    "reconciler.yaml": 10,
    "prices.csv": 512,
    "policies/kill_switch.rego": 4,
    "policies/deny_list.rego": 4,
    PLAN_FILE: 256,
}


def _command(rel: str) -> tuple[str, ...]:
    """The saved plan is read by `apply PLAN`; every other file by every command."""
    return APPLY_PLAN if rel == PLAN_FILE else APPLY


def _rewrite(rel: str, change: Callable[[str], str]) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / rel
        path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")

    return edit


def _sub(old: str, new: str) -> Callable[[str], str]:
    return lambda text: text.replace(old, new, 1)


def _write(rel: str, data: bytes) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)

    return edit


# ---- section 1: file kinds, places and sizes ---------------------------------------------------------------


def _replace_with(rel: str, kind: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / rel
        original = path.read_bytes()
        path.unlink()
        outside = root.parent / "outside"
        outside.mkdir(exist_ok=True)
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "folder":
            path.mkdir()
        elif kind == "socket":
            with socket.socket(socket.AF_UNIX) as s:
                s.bind(str(path))
        elif kind == "link to /dev/zero":
            path.symlink_to("/dev/zero")
        elif kind == "dangling link":
            path.symlink_to(root / "no-such-file")
        elif kind == "link outside the workspace":
            (outside / path.name).write_bytes(original)
            path.symlink_to(outside / path.name)
        elif kind == "link inside the workspace":
            (root / "copies").mkdir(exist_ok=True)
            (root / "copies" / path.name).write_bytes(original)
            path.symlink_to(root / "copies" / path.name)
        elif kind == "empty":
            path.write_bytes(b"")
        elif kind == "missing":
            pass
        else:
            raise AssertionError(kind)

    return edit


FILE_KINDS = ["fifo", "folder", "socket", "link to /dev/zero", "dangling link", "link outside the workspace",
              "link inside the workspace", "empty", "missing"]


@st.composite
def file_kind(draw: st.DrawFn) -> Mutation:
    rel = draw(st.sampled_from(sorted(FILES)))
    kinds = [
        k
        for k in FILE_KINDS
        if not (k == "missing" and rel.startswith(("portfolios/alpha", "portfolios/beta", "policies/")))
    ]
    # a portfolio or policy left out is a smaller workspace, not a bad one
    kind = draw(st.sampled_from(kinds))
    return Mutation("file-kind", f"{rel} is {kind}", _replace_with(rel, kind), FILES[rel], _command(rel))


@st.composite
def file_size(draw: st.DrawFn) -> Mutation:
    rel = draw(st.sampled_from(sorted(FILES)))
    mib = CAPS.get(rel, 10)
    extra = draw(st.integers(1, 4096))

    def edit(root: Path) -> None:
        os.truncate(root / rel, mib * 1024 * 1024 + extra)  # sparse: the gate must refuse it before reading

    return Mutation(
        "file-size", f"{rel} is {extra} bytes over its {mib} MiB cap", edit, FILES[rel], _command(rel)
    )


ENCODINGS: dict[str, Callable[[bytes, int], bytes]] = {
    "invalid UTF-8 byte": lambda b, i: b[:i] + b"\xff" + b[i:],
    "latin-1 e-acute": lambda b, i: b[:i] + b"\xe9" + b[i:],
    "NUL byte": lambda b, i: b[:i] + b"\x00" + b[i:],
    "UTF-16": lambda b, i: b.decode("utf-8").encode("utf-16"),
    "byte order mark": lambda b, i: b"\xef\xbb\xbf" + b,
    "truncated": lambda b, i: b[:i],
}


@st.composite
def encoding(draw: st.DrawFn) -> Mutation:
    rel = draw(st.sampled_from(sorted(FILES)))
    # A truncated YAML or CSV file can be a valid one that means something else (`cash: 500` cut to `cash:
    # 5`): nothing in the file can tell, so only the sealed plan is truncated.
    name = draw(st.sampled_from([n for n in sorted(ENCODINGS) if n != "truncated" or rel == PLAN_FILE]))
    at = draw(st.integers(1, 4000))

    def edit(root: Path) -> None:
        data = (root / rel).read_bytes()
        (root / rel).write_bytes(ENCODINGS[name](data, 1 + at % (len(data) - 1)))

    return Mutation(
        "encoding", f"{rel}: {name} at byte {at} (modulo its size)", edit, FILES[rel], _command(rel)
    )


PLACES = ["/etc", "..", "../outside", "/", ".", "portfolios/../..", "/dev", "~", ""]


@st.composite
def config_path(draw: st.DrawFn) -> Mutation:
    key = draw(st.sampled_from(["portfolios_dir: portfolios", "  dir: policies", "    csv: prices.csv"]))
    place = draw(st.sampled_from(PLACES))
    name, _ = key.split(": ")
    affected = frozenset({"beta"}) if "csv" in key else ALL
    return Mutation("config-path", f"{name.strip()}: {place!r}",
                    _rewrite("reconciler.yaml", _sub(key, f"{name}: {json.dumps(place)}")), affected)


# ---- section 2: YAML shapes, keys and values ---------------------------------------------------------------

# (file, a line of it holding `key: value` in a block mapping, the portfolios that value concerns)
ENTRIES = [
    ("portfolios/alpha.yaml", "    VTI: 0.6", frozenset({"alpha"})),
    ("portfolios/alpha.yaml", "    BND: 0.4", frozenset({"alpha"})),
    ("portfolios/alpha.yaml", "  account: acct-a", frozenset({"alpha"})),
    ("portfolios/beta.yaml", "  model: mixed", frozenset({"beta"})),
    ("portfolios/models/mixed.yaml", "    GLD: 0.3", frozenset({"beta"})),
    ("portfolios/models/mixed.yaml", "  name: mixed", frozenset({"beta"})),
    ("reconciler.yaml", "      cash: 10000", ALL),
    ("reconciler.yaml", "      cash: 500", ALL),
    ("reconciler.yaml", "  kind: paper", ALL),
    ("reconciler.yaml", "    max_order_fraction: 0.9", ALL),
    ("reconciler.yaml", "portfolios_dir: portfolios", ALL),
]
ENTRY = st.sampled_from(ENTRIES)


def _nested(shape: str, depth: int) -> str:
    return {
        "block sequences on one line": "- " * depth + "x",
        "explicit keys on one line": "? " * depth + "x",
        "sequence of keys on one line": "- ? " * (depth // 2) + "x",
        "flow sequences": "[" * depth + "]" * depth,
        "flow mappings": "{a: " * depth + "1" + "}" * depth,
        "mixed flow": "[{a: " * (depth // 2) + "1" + "}]" * (depth // 2),
    }[shape]


@st.composite
def yaml_nesting(draw: st.DrawFn) -> Mutation:
    rel, line, affected = draw(ENTRY)
    shape = draw(st.sampled_from(["block sequences on one line", "explicit keys on one line",
                                  "sequence of keys on one line", "flow sequences", "flow mappings",
                                  "mixed flow"]))
    depth = draw(st.integers(2, 400))  # the mixed shapes halve it: at 1 they write a plain value
    key = line.split(":")[0]
    indent = " " * (len(key) - len(key.lstrip()) + 2)
    nested = _nested(shape, depth)
    new = f"{key}: {nested}" if shape.startswith(("flow", "mixed")) else f"{key}:\n{indent}{nested}"
    return Mutation("yaml-nesting", f"{rel}: {key.strip()} holds {shape}, {depth} deep",
                    _rewrite(rel, _sub(line, new)), affected)


@st.composite
def yaml_alias(draw: st.DrawFn) -> Mutation:
    rel = draw(st.sampled_from(sorted(YAML_FILES)))
    levels = draw(st.integers(2, 9))
    # from 36 values to 5 billion: loaded whole below the bound, refused above
    width = draw(st.integers(6, 12))
    anchors = [f"a0: &a0 [{', '.join(['1'] * width)}]"]
    anchors += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    bomb = "x-bomb: {" + ", ".join(anchors) + "}\n"
    return Mutation("yaml-alias", f"{rel}: {width}^{levels} alias expansion",
                    _rewrite(rel, lambda t: bomb + t), YAML_FILES[rel])


COERCED = [
    "0700",
    "1e5",
    "1_000",
    "1:30",
    "ON",
    "NO",
    "yes",
    "y",
    "~",
    "null",
    "true",
    "2024-01-01",
    "0x1F",
    ".inf",
    "0o17",
    "+1",
    "-.5",
    "Off",
    "n",
]
SYMBOL_KEYS = [  # (file, the key as written, its line's tail, the portfolios it concerns)
    ("portfolios/alpha.yaml", "    VTI:", " 0.6", frozenset({"alpha"})),
    ("portfolios/models/mixed.yaml", "    GLD:", " 0.3", frozenset({"beta"})),
    ("reconciler.yaml", "      VTI:", " {price: 289.41", ALL),
    ("reconciler.yaml", "positions: {VTI:", " 20", frozenset({"beta"})),
    ("reconciler.yaml", "    acct-a:", "\n", ALL),
]


@st.composite
def yaml_coerced_key(draw: st.DrawFn) -> Mutation:
    rel, key, tail, affected = draw(st.sampled_from(SYMBOL_KEYS))
    spelling = draw(st.sampled_from(COERCED))
    new = key.rsplit(key.strip().split(" ")[-1].rstrip(":"), 1)[0] + spelling + ":"
    return Mutation("yaml-coerced-key", f"{rel}: {key.strip()} written {spelling}",
                    _rewrite(rel, _sub(key + tail, new + tail)), affected)


@st.composite
def yaml_duplicate_key(draw: st.DrawFn) -> Mutation:
    rel, line, affected = draw(ENTRY)
    key, value = line.split(": ", 1)
    second = draw(st.sampled_from([value, "0.5", f'"{value}"', "[]"]))
    quoted = draw(st.booleans())  # `VTI` and `"VTI"` are one key once read
    twin = f'{key[: len(key) - len(key.lstrip())]}"{key.strip()}"' if quoted else key
    before = draw(st.booleans())
    pair = f"{twin}: {second}\n{line}" if before else f"{line}\n{twin}: {second}"
    return Mutation("yaml-duplicate-key", f"{rel}: {key.strip()} twice ({second})",
                    _rewrite(rel, _sub(line, pair)), affected)


@st.composite
def yaml_long_key(draw: st.DrawFn) -> Mutation:
    rel, key, tail, affected = draw(st.sampled_from(SYMBOL_KEYS[:4]))
    length = draw(st.integers(200, 5000))
    new = key.replace(key.strip().split(" ")[-1].rstrip(":"), "V" * length)
    return Mutation(
        "yaml-long-key",
        f"{rel}: a {length}-character key",
        _rewrite(rel, _sub(key + tail, new + tail)),
        affected,
    )


# Values no field of these lines takes. Not here: other spellings of a number (`0x10`, `1_0`, `"100"`, `１０`,
# `-0`): the schema reads them as that number, a valid change of meaning the invariant would call a wrong
# trade.
BAD_VALUES = [
    "true",
    "null",
    "[]",
    "{}",
    ".nan",
    ".inf",
    "-1",
    "''",
    "ten",
    "1e400",
    "1e-400",
    "!!binary aGVsbG8=",
    "*nothing",
    "&anchor",
    "99999999999999999999999999",
    "[1, 2]",
    "{a: 1}",
    "!!set {a}",
    "2024-01-01",
]


@st.composite
def yaml_value(draw: st.DrawFn) -> Mutation:
    rel, line, affected = draw(ENTRY)
    key = line.split(": ", 1)[0]
    value = draw(st.sampled_from(BAD_VALUES))
    return Mutation(
        "yaml-value", f"{rel}: {key.strip()}: {value}", _rewrite(rel, _sub(line, f"{key}: {value}")), affected
    )


# name -> (file, old, new): what a reader of YAML takes as the same
NO_OPS: dict[str, tuple[str, str, str]] = {
    "comment lines": ("portfolios/alpha.yaml", "  targets:\n", "  # why these weights\n  targets:  #"
                      " target\n"),
    "quoted symbol": ("portfolios/alpha.yaml", "    VTI: 0.6", '    "VTI": 0.6'),
    "flow targets": ("portfolios/alpha.yaml", "    VTI: 0.6\n    BND: 0.4", "    {VTI: 0.6, BND: 0.4}"),
    "reordered targets": ("portfolios/models/mixed.yaml", "    VTI: 0.5\n    GLD: 0.3", "    GLD: 0.3\n   "
                          " VTI: 0.5"),
    "document markers": ("portfolios/models/mixed.yaml", "apiVersion", "---\napiVersion"),
    "trailing zeros": ("portfolios/alpha.yaml", "    BND: 0.4", "    BND: 0.40"),
    "single-quoted account": ("portfolios/beta.yaml", "account: acct-b", "account: 'acct-b'"),
    "flow prices": ("reconciler.yaml", "      BND: {price: 72.85, previous_close: 72.80}",
                    "      BND:\n        price: 72.85\n        previous_close: 72.80"),
    "CRLF line ends": ("reconciler.yaml", "\n", "\r\n"),
    "description": ("portfolios/alpha.yaml", "direct targets", "'direct: targets, # not a comment'"),
}


@st.composite
def yaml_noop(draw: st.DrawFn) -> Mutation:
    name = draw(st.sampled_from(sorted(NO_OPS)))
    rel, old, new = NO_OPS[name]
    change = (lambda t: t.replace(old, new)) if name == "CRLF line ends" else _sub(old, new)
    return Mutation("yaml-noop", f"{rel}: {name}", _rewrite(rel, change), YAML_FILES[rel], same=True)


# ---- section 2: CSV price files ----------------------------------------------------------------------------

CSV_EDITS: dict[str, tuple[str, str]] = {
    "duplicated column": ("date,GLD\n", "date,GLD,GLD\n"),
    "empty column name": ("date,GLD\n", "date,GLD,\n"),
    "text price": ("2024-01-04,243.10", "2024-01-04,abc"),
    "zero price": ("2024-01-04,243.10", "2024-01-04,0"),
    "negative price": ("2024-01-03,241.75", "2024-01-03,-241.75"),
    "NaN price": ("2024-01-04,243.10", "2024-01-04,NaN"),
    "infinite price": ("2024-01-04,243.10", "2024-01-04,Infinity"),
    "comma decimal": ("2024-01-04,243.10", '2024-01-04,"243,10"'),
    "huge price": ("2024-01-04,243.10", "2024-01-04,1e400"),
    "unsorted dates": ("2024-01-03,241.75\n2024-01-04,243.10", "2024-01-04,243.10\n2024-01-03,241.75"),
    "repeated date": ("2024-01-03,241.75", "2024-01-04,241.75"),
    "extra cell": ("2024-01-04,243.10", "2024-01-04,243.10,1"),
    "not a date": ("2024-01-04,243.10", "Jan 4 2024,243.10"),
    "date with trailing text": ("2024-01-04,243.10", "2024-01-04x,243.10"),
    "header only": ("2024-01-02,240.00\n2024-01-03,241.75\n2024-01-04,243.10\n", ""),
    "blank rows only": ("2024-01-02,240.00\n2024-01-03,241.75\n2024-01-04,243.10\n", ",\n ,\n"),
    "no date column": ("date,GLD\n", "GLD\n"),
    "one row": ("2024-01-02,240.00\n2024-01-03,241.75\n", ""),
    "unclosed quote": ("2024-01-04,243.10", '2024-01-04,"243.10'),
    "empty last price": ("2024-01-04,243.10", "2024-01-04,"),
    "price moved tenfold": ("2024-01-04,243.10", "2024-01-04,2431.0"),
}


@st.composite
def csv_rows(draw: st.DrawFn) -> Mutation:
    name = draw(st.sampled_from(sorted(CSV_EDITS)))
    old, new = CSV_EDITS[name]
    return Mutation(
        "csv-prices", f"prices.csv: {name}", _rewrite("prices.csv", _sub(old, new)), frozenset({"beta"})
    )
