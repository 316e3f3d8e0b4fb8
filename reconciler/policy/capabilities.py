"""What each built-in of the evaluator (rego-cpp, through regopy) takes and how it fails, found by calling it.

regopy lists no built-ins; it only answers `is_builtin(name)`. So the names come from two sources: OPA's own
list (the `builtins` of its capabilities file, open-policy-agent/opa `capabilities/v1.*.json`), and every
identifier in regopy's native library that `is_builtin` accepts (built-ins rego-cpp has beyond OPA's). Each
one offered is then probed, each probe in its own process because rego-cpp can crash the process (a built-in
called with fewer arguments than it takes is a segmentation fault):
- arity: called with 6, 5, … arguments until it stops answering "wrong number of arguments" (never fewer);
- silent element types: called with a list of numbers, of strings, …, and with a list mixing them; a call that
  is undefined without an error on a mixed list (rego-cpp's `sum([1, "a"])`) while it answers for a list of
  one type records that type, and a policy's call to it is checked element by element (policy/strict.py).
`python -m reconciler.policy.capabilities` writes the table (`builtins_table.py`);
tests/policy/test_builtins.py re-derives it and checks every built-in against the engine, argument by
argument.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from reconciler import files
from reconciler.policy.answers import ask

# OPA v1's built-ins (capabilities/v1.*.json), infix operators aside: those regopy does not offer must be
# refused when a policy loads (a call to one is undefined, never a denial).
OPA_BUILTINS = (
    "abs", "all", "any", "and", "array.concat", "array.reverse", "array.slice", "base64.decode",
    "base64.encode",
    "base64.is_valid", "base64url.decode", "base64url.encode", "base64url.encode_no_pad", "bits.and",
    "bits.lsh",
    "bits.negate", "bits.or", "bits.rsh", "bits.xor", "ceil", "concat", "contains", "count",
    "crypto.hmac.equal",
    "crypto.hmac.md5", "crypto.hmac.sha1", "crypto.hmac.sha256", "crypto.hmac.sha512", "crypto.md5",
    "crypto.parse_private_keys", "crypto.sha1", "crypto.sha256", "crypto.x509.parse_and_verify_certificates",
    "crypto.x509.parse_and_verify_certificates_with_options", "crypto.x509.parse_certificate_request",
    "crypto.x509.parse_certificates", "crypto.x509.parse_keypair", "crypto.x509.parse_rsa_private_key", "div",
    "endswith", "floor", "format_int", "glob.match", "glob.quote_meta", "graph.reachable",
    "graph.reachable_paths",
    "graphql.is_valid", "graphql.parse", "graphql.parse_and_verify", "graphql.parse_query",
    "graphql.parse_schema",
    "graphql.schema_is_valid", "hex.decode", "hex.encode", "http.send", "indexof", "indexof_n",
    "intersection",
    "io.jwt.decode", "io.jwt.decode_verify", "io.jwt.encode_sign", "io.jwt.encode_sign_raw",
    "io.jwt.verify_eddsa",
    "io.jwt.verify_es256", "io.jwt.verify_es384", "io.jwt.verify_es512", "io.jwt.verify_hs256",
    "io.jwt.verify_hs384", "io.jwt.verify_hs512", "io.jwt.verify_ps256", "io.jwt.verify_ps384",
    "io.jwt.verify_ps512", "io.jwt.verify_rs256", "io.jwt.verify_rs384", "io.jwt.verify_rs512", "is_array",
    "is_boolean", "is_null", "is_number", "is_object", "is_set", "is_string", "json.filter", "json.is_valid",
    "json.marshal", "json.marshal_with_options", "json.match_schema", "json.patch", "json.remove",
    "json.unmarshal",
    "json.verify_schema", "lower", "max", "min", "minus", "mul", "net.cidr_contains",
    "net.cidr_contains_matches",
    "net.cidr_expand", "net.cidr_intersects", "net.cidr_is_valid", "net.cidr_merge", "net.cidr_overlap",
    "net.lookup_ip_addr", "numbers.range", "numbers.range_step", "object.filter", "object.get", "object.keys",
    "object.remove", "object.subset", "object.union", "object.union_n", "opa.runtime", "or", "plus", "print",
    "product", "providers.aws.sign_req", "rand.intn", "regex.find_all_string_submatch_n", "regex.find_n",
    "regex.globs_match", "regex.is_valid", "regex.match", "regex.replace", "regex.split",
    "regex.template_match",
    "rego.metadata.chain", "rego.metadata.rule", "rego.parse_module", "rem", "replace", "round",
    "semver.compare",
    "semver.is_valid", "sort", "split", "sprintf", "startswith", "strings.any_prefix_match",
    "strings.any_suffix_match", "strings.count", "strings.render_template", "strings.replace_n",
    "strings.reverse",
    "substring", "sum", "time.add_date", "time.clock", "time.date", "time.diff", "time.format", "time.now_ns",
    "time.parse_duration_ns", "time.parse_ns", "time.parse_rfc3339_ns", "time.weekday", "to_number", "trace",
    "trim", "trim_left", "trim_prefix", "trim_right", "trim_space", "trim_suffix", "type_name", "union",
    "units.parse", "units.parse_bytes", "upper", "urlquery.decode", "urlquery.decode_object",
    "urlquery.encode",
    "urlquery.encode_object", "uuid.parse", "uuid.rfc4122", "walk", "yaml.is_valid", "yaml.marshal",
    "yaml.unmarshal",
)

# One value of each JSON type (and a set): a call's arguments in the probes and in the generated tests.
VALUES = {
    "null": "null", "boolean": "true", "number": "1", "string": '"a"', "array": "[1]", "object": '{"a": 1}',
    "set": "{1}",
}
ELEMENTS = {"number": "1", "string": '"a"', "boolean": "true", "null": "null"}
_IDENT = re.compile(rb"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*")


def evaluate(expression: str) -> tuple[str, str]:
    """("value", json) | ("undefined", "") | ("error", message) of `x := expression` in a fresh
    interpreter."""
    from regopy import Interpreter, LogLevel

    interpreter = Interpreter()
    interpreter.log_level = LogLevel.NONE
    interpreter.strict_built_in_errors = True
    try:
        interpreter.add_module("probe.rego", f"package probe\nimport rego.v1\nr := x if {{ x := {expression}"
                               f" }}\n")
    except Exception as exc:  # regopy's own error types: a probe that does not compile is an error
        return "error", str(getattr(exc, "doc", exc))[:200]
    answer = ask(lambda: interpreter.query("data.probe.r"))
    if answer.error is not None:
        return "error", answer.error[:200]
    return ("value", json.dumps(answer.value)) if answer.values else ("undefined", "")

def probe(name: str) -> dict[str, Any]:
    """The table entry of one built-in: its arity and the element type a silent collection argument needs."""
    arity = 0
    for k in range(6, -1, -1):  # downwards: fewer arguments than a built-in takes may crash rego-cpp
        _, said = evaluate(f"{name}({', '.join(['null'] * k)})")
        if "wrong number of arguments" not in said and "arg count" not in said:
            arity = k
            break
    silent: dict[int, list[str]] = {}
    for position in range(arity):
        def call(value: str, position: int = position) -> tuple[str, str]:
            args = ["null"] * arity
            args[position] = value
            return evaluate(f"{name}({', '.join(args)})")

        if call("[1, \"a\", true, null]")[0] != "undefined":
            continue
        fine = [t for t, v in ELEMENTS.items() if call(f"[{v}]")[0] == "value"]
        if fine:
            silent[position] = fine
    return {"arity": arity, "silent_elements": silent}


def _in_process(names: list[str], code: str) -> list[str]:
    """Lines printed by `code` run on `names` in child processes; a name that crashes its process is
    skipped."""
    out: list[str] = []
    left = list(names)
    while left:
        run = subprocess.run(
            [sys.executable, "-c", code],
            input="\n".join(left),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        lines = run.stdout.splitlines()
        out.extend(lines)
        done = len([line for line in lines if line.startswith("#")])
        left = left[done + (1 if run.returncode else 0):]  # after a crash, go on past the name that crashed
    return [line[1:] for line in out if line.startswith("#")]


def offered_in_library() -> set[str]:
    """Every identifier in regopy's native library that it says is a built-in."""
    import regopy

    library = next(Path(regopy.__file__).parent.glob("*.so"), None) or next(
        Path(regopy.__file__).parent.glob("*")
    )
    names = sorted({m.decode() for m in _IDENT.findall(library.read_bytes()) if len(m) < 64})
    code = ("import sys, regopy\ni = regopy.Interpreter()\nfor n in sys.stdin.read().split():\n"
            "    print('#' + (n if i.is_builtin(n) else ''), flush=True)\n")
    return {n for n in _in_process(names, code) if n}


def derive() -> dict[str, dict[str, Any]]:
    """The table, derived from regopy as installed."""
    code = ("import sys, regopy\ni = regopy.Interpreter()\nfor n in sys.stdin.read().split():\n"
            "    print('#' + (n if i.is_builtin(n) else ''), flush=True)\n")
    offered = {n for n in _in_process(list(OPA_BUILTINS), code) if n} | offered_in_library()
    probing = ("import json, sys\nfrom reconciler.policy.capabilities import probe\n"
               "for n in sys.stdin.read().split():\n    print('#' + json.dumps([n, probe(n)]), flush=True)\n")
    table = {}
    for line in _in_process(sorted(offered), probing):
        name, entry = json.loads(line)
        table[name] = {"arity": entry["arity"],
                       "silent_elements": {int(k): v for k, v in entry["silent_elements"].items()}}
    return table


def main() -> None:
    """Regenerate the capabilities table from the installed regopy, when regopy is upgraded."""
    table = derive()
    lines = ['"""Generated by `python -m reconciler.policy.capabilities` from regopy as installed; do not'
             ' edit."""', "",
             "from typing import Any", "", "TABLE: dict[str, dict[str, Any]] = {"]
    lines += [f"    {name!r}: {table[name]!r}," for name in sorted(table)]
    lines += ["}", ""]
    files.write_text(Path(__file__).parent / "builtins_table.py", "\n".join(lines), files.SCHEMA, "the table")


if __name__ == "__main__":
    main()
