"""Refusing hostile JSON before anything parses it for real.

Python's ``json.loads`` recurses once per level of nesting and converts an integer literal of any
length, so a 2 KB body nested a thousand levels deep raises ``RecursionError`` and a literal of
5,000 digits ``ValueError`` from ``int``: both would be 500s wherever a body is parsed (the
resolver's validation, a webhook's payload, the local token route). An object that names a key
twice is not an error to the parser, which silently keeps the last value, so what a client meant
and what the server acts on could differ.

``refusal`` looks at a body once, without recursion, and names the first limit it breaks; the
caller answers 400 ``validation-error`` naming it (the size limit is checked before, as 413).
Malformed JSON is not its business: the resolver reports that as it always has.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final

from commerce.errors import FieldError

#: Levels of arrays and objects inside each other; the deepest body of API.md has five.
MAX_DEPTH: Final = 32
#: Digits of an integer literal. Every number of API.md fits in 19 (a signed 64-bit integer);
#: a number a little larger still reaches the schema, whose error names the field, while one of
#: hundreds or thousands of digits (which ``int`` is slow to convert, and refuses past 4,300)
#: never does.
MAX_INTEGER_DIGITS: Final = 64
#: Characters of a number with a fraction or exponent.
MAX_FLOAT_CHARS: Final = 64


class _Refused(Exception):
    """Raised inside the parser's hooks to stop at the first broken limit."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text``, brackets inside strings ignored.

    A single pass with no recursion, so it is safe on any input; it does not check the JSON is
    well formed.
    """
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _integer(literal: str) -> int:
    digits = len(literal.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise _Refused(f"a number has {digits} digits; at most {MAX_INTEGER_DIGITS} are allowed")
    return int(literal)


def _float(literal: str) -> float:
    if len(literal) > MAX_FLOAT_CHARS:
        raise _Refused(f"a number is {len(literal)} characters long; at most {MAX_FLOAT_CHARS}")
    return float(literal)


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _unique_keys(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _Refused(f"the key {key!r} appears twice in one object")
        found[key] = value
    return found


def refusal(text: str) -> FieldError | None:
    """The limit ``text`` breaks, as the field error of a 400; None when it breaks none (or is
    not JSON at all, which the resolver reports in its own words)."""
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        return FieldError("body", f"JSON nested {depth} levels deep; at most {MAX_DEPTH} allowed")
    try:
        json.loads(
            text,
            parse_int=_integer,
            parse_float=_float,
            parse_constant=_constant,
            object_pairs_hook=_unique_keys,
        )
    except _Refused as refused:
        return FieldError("body", refused.message)
    except (ValueError, RecursionError):
        return None
    return None
