"""Page tokens: opaque, round-trip, and strict about anything cut, edited or foreign."""

from __future__ import annotations

import base64
import json

import pytest
from commerce.errors import ValidationFailed
from commerce.http.pagination import decode_page_token, encode_page_token, page_size
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

KEYS = ("pk", "sk", "gsi1pk", "gsi1sk")
text = st.text(min_size=1, max_size=200)
page_keys = st.fixed_dictionaries({name: text.map(lambda s: {"S": s}) for name in KEYS})


@given(page_keys)
def test_round_trip(key: dict[str, dict[str, str]]) -> None:
    token = encode_page_token(key)
    assert token is not None
    assert decode_page_token(token, KEYS) == key


def test_no_key_no_token() -> None:
    assert encode_page_token(None) is None
    assert encode_page_token({}) is None
    assert decode_page_token(None, KEYS) is None
    assert decode_page_token("", KEYS) is None


def _token(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()


GOOD = {name: {"S": f"v-{name}"} for name in KEYS}


@pytest.mark.parametrize(
    "token",
    [
        "not base64 !!",
        "%%%",
        _token(GOOD)[:-5],
        _token(GOOD) + "x",
        _token([1, 2]),
        _token("string"),
        _token({"pk": {"S": "a"}, "sk": {"S": "b"}}),
        _token({**GOOD, "extra": {"S": "x"}}),
        _token({**GOOD, "pk": {"N": "1"}}),
        _token({**GOOD, "pk": {"S": ""}}),
        _token({**GOOD, "pk": {"S": 1}}),
        _token({**GOOD, "pk": {"S": "a", "N": "1"}}),
        _token({**GOOD, "pk": {"S": "x" * 1025}}),
        "A" * 3000,
    ],
)
def test_tampered_tokens_are_400(token: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        decode_page_token(token, KEYS)
    assert info.value.status == 400
    assert info.value.errors[0].field == "next_token"


@given(page_keys, st.integers(min_value=1, max_value=20))
def test_truncated_tokens_never_decode_to_another_key(
    key: dict[str, dict[str, str]], cut: int
) -> None:
    token = encode_page_token(key)
    assert token is not None
    truncated = token[: max(0, len(token) - cut)]
    try:
        decoded = decode_page_token(truncated, KEYS)
    except ValidationFailed:
        return
    assert decoded in (None, key)


@pytest.mark.parametrize(("limit", "expected"), [(None, 20), (1, 1), (100, 100)])
def test_page_size(limit: int | None, expected: int) -> None:
    assert page_size(limit, 20, 100) == expected


@pytest.mark.parametrize("limit", [0, -1, 101])
def test_page_size_out_of_range(limit: int) -> None:
    with pytest.raises(ValidationFailed):
        page_size(limit, 20, 100)
