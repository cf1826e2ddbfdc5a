"""The JSON guard: hostile bodies are named and refused, honest ones pass, nothing raises."""

from __future__ import annotations

import json
from typing import Any

import pytest
from commerce.http import json_guard
from commerce.http.api import request_guard_failure
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

SCALARS = st.none() | st.booleans() | st.text(max_size=20) | st.integers(-(10**18), 10**18)
HONEST = st.recursive(
    SCALARS | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


def _nested(depth: int, opener: str = "[") -> str:
    closer = "]" if opener == "[" else "}"
    if opener == "{":
        return '{"a":' * depth + "1" + closer * depth
    return opener * depth + closer * depth


@given(HONEST)
def test_honest_json_within_the_limits_passes(value: Any) -> None:
    assert json_guard.refusal(json.dumps(value)) is None


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_any_text_is_answered_without_raising(text: str) -> None:
    json_guard.refusal(text)


@given(st.integers(min_value=json_guard.MAX_DEPTH + 1, max_value=5_000), st.sampled_from("[{"))
def test_deep_nesting_is_named_with_its_depth(depth: int, opener: str) -> None:
    refused = json_guard.refusal(_nested(depth, opener))
    assert refused is not None
    assert refused.field == "body"
    assert f"{depth} levels" in refused.message


def test_nesting_exactly_at_the_limit_passes() -> None:
    assert json_guard.refusal(_nested(json_guard.MAX_DEPTH)) is None


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = json.dumps({"note": "[[[[" * 100 + '\\"{{{' * 100})
    assert json_guard.nesting_depth(text) == 1
    assert json_guard.refusal(text) is None


@given(st.integers(min_value=json_guard.MAX_INTEGER_DIGITS + 1, max_value=10_000))
def test_long_integer_literals_are_refused_before_int_sees_them(digits: int) -> None:
    refused = json_guard.refusal('{"delta": -' + "9" * digits + "}")
    assert refused is not None
    assert f"{digits} digits" in refused.message


def test_a_key_given_twice_is_refused() -> None:
    refused = json_guard.refusal('{"quantity": 1, "quantity": 100}')
    assert refused is not None
    assert "'quantity' appears twice" in refused.message
    assert json_guard.refusal('{"a": {"k": 1}, "b": {"k": 2}}') is None


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_json_numbers_are_refused(literal: str) -> None:
    refused = json_guard.refusal('{"price": ' + literal + "}")
    assert refused is not None
    assert literal in refused.message


def test_overlong_floats_are_refused() -> None:
    assert json_guard.refusal('{"x": 1.' + "5" * 100 + "}") is not None
    assert (
        json_guard.refusal('{"x": 1e999999}') is None
    )  # short: a plain float (inf) for the schema


def test_malformed_json_is_left_to_the_resolver() -> None:
    assert json_guard.refusal('{"a": ') is None


# --- the guard every API function runs before routing ----------------------------------------


def _event(
    body: str, method: str = "POST", content_type: str = "application/json"
) -> dict[str, Any]:
    return {"httpMethod": method, "headers": {"Content-Type": content_type}, "body": body}


def test_the_request_guard_answers_hostile_bodies_with_a_named_400() -> None:
    for body in (_nested(1_000), '{"q":' + "1" * 5_000 + "}", '{"a":1,"a":2}'):
        refused = request_guard_failure(_event(body))
        assert refused is not None
        assert (refused.status, refused.type) == (400, "validation-error")
        assert refused.extensions["errors"][0]["field"] == "body"


def test_the_request_guard_states_the_size_limit() -> None:
    refused = request_guard_failure(_event("[" + "1," * 40_000 + "1]"))
    assert refused is not None
    assert (refused.status, refused.type) == (413, "payload-too-large")
    assert refused.extensions["limit"] == 64 * 1024


def test_the_request_guard_lets_honest_and_bodiless_requests_through() -> None:
    assert request_guard_failure(_event('{"quantity": 2}', method="PUT")) is None
    assert request_guard_failure({"httpMethod": "GET", "headers": {}, "body": None}) is None
