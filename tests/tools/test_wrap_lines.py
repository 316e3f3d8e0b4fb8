"""tools/wrap_lines.py: over-long lines wrapped to the width, the program the same (its syntax tree, docstring
whitespace aside), nothing else touched, and a second run changes nothing."""

from __future__ import annotations

import ast

from tools.wrap_lines import long_lines, same_program, wrap_source

WIDTH = 60
WORDS = "the quick brown fox jumps over the lazy dog and keeps running far away"


def wrapped(source: str) -> str:
    out = wrap_source(source, WIDTH)
    assert same_program(source, out)
    return out


def test_a_long_string_is_split_into_literals_of_the_same_value() -> None:
    source = f'x = f(1, "{WORDS} {WORDS}")\n'
    out = wrapped(source)
    assert long_lines(out, WIDTH) == []
    call = ast.parse(out).body[0].value  # type: ignore[attr-defined]
    assert call.args[1].value == f"{WORDS} {WORDS}"


def test_an_f_string_is_cut_outside_its_braces() -> None:
    source = 'def g(n):\n    return h(f"{n} items: ' + WORDS + ' {n + 1} and ' + WORDS + '")\n'
    out = wrapped(source)
    assert long_lines(out, WIDTH) == []


def test_a_string_outside_brackets_is_parenthesized() -> None:
    out = wrapped(f'message = "{WORDS} {WORDS}"\n')
    assert out.startswith('message = ("')


def test_a_comment_block_is_filled_again() -> None:
    source = f"# {WORDS} {WORDS}\n# {WORDS}\nx = 1\n"
    out = wrapped(source)
    assert long_lines(out, WIDTH) == []
    assert " ".join(w for line in out.splitlines()[:-1] for w in line[2:].split()) == (f"{WORDS} {WORDS}"
                                                                                       f" {WORDS}")


def test_a_trailing_comment_moves_above_its_line_and_a_pragma_stays() -> None:
    out = wrapped(f"value = compute(1, 2)  # type: ignore[arg-type]  # {WORDS}\n")
    assert out.splitlines()[-1] == "value = compute(1, 2)  # type: ignore[arg-type]"


def test_a_docstring_paragraph_is_filled_and_a_drawing_is_left_alone() -> None:
    drawing = "    a ── b               an aligned column that is far too long to fit in the width"
    source = f'def f():\n    """{WORDS} {WORDS}\n\n{drawing}\n    """\n'
    out = wrapped(source)
    assert drawing in out.splitlines()
    assert long_lines(out, WIDTH) == [out.splitlines().index(drawing) + 1]


def test_a_long_call_is_broken_after_a_comma() -> None:
    source = "result = function_name(argument_one, argument_two, argument_three, argument_four)\n"
    out = wrapped(source)
    assert long_lines(out, WIDTH) == []


def test_a_second_run_changes_nothing() -> None:
    source = f'x = f(1, "{WORDS} {WORDS}")  # {WORDS}\n# {WORDS} {WORDS}\ny = 2\n'
    once = wrapped(source)
    assert wrap_source(once, WIDTH) == once


def test_a_changed_program_is_told_apart() -> None:
    assert not same_program("x = 'a b'\n", "x = 'a  b'\n")


def test_a_definition_keeps_its_text_column() -> None:
    source = f'"""Knobs:\n    rate_limit    {WORDS}\n    error_rate    short\n"""\n'
    out = wrapped(source)
    continuation = out.splitlines()[2]
    assert long_lines(out, WIDTH) == []
    assert len(continuation) - len(continuation.lstrip()) == len("    rate_limit    ")
