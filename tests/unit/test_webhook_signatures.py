"""Webhook signatures: HMAC-SHA256 over ``t.body``, tolerance both ways, malformed headers."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from commerce.errors import Unauthorized
from commerce.webhooks.signatures import (
    MAX_HEADER_CHARS,
    TOLERANCE_SECONDS,
    Rejection,
    SignatureInvalid,
    SignedHeader,
    Verified,
    compute,
    event_id_of,
    parse_header,
    replay_key,
    sign,
    verify,
)
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

NOW = 1_700_000_000
SECRET = "whsec_carrier_test"
BODY = b'{"id":"evt_1","type":"delivered","tracking_number":"SF123"}'


def rejected(reason: Rejection, header: str | None, body: bytes = BODY, **kw: object) -> None:
    with pytest.raises(SignatureInvalid) as raised:
        verify(header, body, SECRET, now=NOW, **kw)  # type: ignore[arg-type]
    assert raised.value.reason is reason
    assert raised.value.status == 401
    assert reason.value in raised.value.detail


def test_a_signed_body_verifies() -> None:
    header = sign(SECRET, NOW, BODY)
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"
    assert verify(header, BODY, SECRET, now=NOW) == Verified(NOW)
    assert verify(header, BODY.decode(), SECRET.encode(), now=NOW) == Verified(NOW)


def test_a_tampered_body_is_rejected() -> None:
    rejected(Rejection.MISMATCH, sign(SECRET, NOW, BODY), BODY.replace(b"SF123", b"SF124"))
    rejected(Rejection.MISMATCH, sign(SECRET, NOW, BODY), BODY + b" ")


def test_a_wrong_secret_is_rejected() -> None:
    rejected(Rejection.MISMATCH, sign("whsec_other", NOW, BODY))


def test_the_timestamp_is_signed_too() -> None:
    signature = compute(SECRET, NOW, BODY)
    rejected(Rejection.MISMATCH, f"t={NOW + 1},v1={signature}")


@pytest.mark.parametrize("offset", [-TOLERANCE_SECONDS, 0, TOLERANCE_SECONDS])
def test_timestamps_inside_the_tolerance_pass(offset: int) -> None:
    assert verify(sign(SECRET, NOW + offset, BODY), BODY, SECRET, now=NOW).timestamp == NOW + offset


@pytest.mark.parametrize("offset", [-TOLERANCE_SECONDS - 1, TOLERANCE_SECONDS + 1, -86_400])
def test_old_and_future_timestamps_are_rejected(offset: int) -> None:
    rejected(Rejection.STALE, sign(SECRET, NOW + offset, BODY))


def test_the_tolerance_is_five_minutes_and_adjustable() -> None:
    assert TOLERANCE_SECONDS == 300
    rejected(Rejection.STALE, sign(SECRET, NOW - 61, BODY), tolerance=60)


@pytest.mark.parametrize("header", [None, "", "   "])
def test_a_missing_header_is_rejected(header: str | None) -> None:
    rejected(Rejection.MISSING, header)


HEX = "a" * 64


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"v1={HEX}",  # no timestamp
        f"t={NOW}",  # no signature
        f"t={NOW},t={NOW},v1={HEX}",  # two timestamps
        f"t=-5,v1={HEX}",
        f"t=17e8,v1={HEX}",
        f"t={NOW},v1={'A' * 64}",  # upper-case hex
        f"t={NOW},v1={'a' * 63}",
        f"t={NOW},v1=zz{'a' * 62}",
        f"t={NOW},v1={HEX},junk",
        f"t={NOW},v0={HEX}",  # only an unknown scheme
        f"t={NOW},v1={HEX}," + "x=" * MAX_HEADER_CHARS,
    ],
)
def test_malformed_headers_are_rejected(header: str) -> None:
    rejected(Rejection.MALFORMED, header)


def test_unknown_schemes_are_ignored_and_any_v1_may_match() -> None:
    good = compute(SECRET, NOW, BODY)
    header = f"t={NOW}, v0={HEX}, v1={HEX}, v1={good}"
    assert parse_header(header) == SignedHeader(NOW, (HEX, good))
    assert verify(header, BODY, SECRET, now=NOW) == Verified(NOW)


def test_a_rotated_secret_verifies_with_either() -> None:
    header = sign("whsec_old", NOW, BODY)
    assert verify(header, BODY, ["whsec_new", "whsec_old"], now=NOW) == Verified(NOW)
    with pytest.raises(ValueError, match="at least one secret"):
        verify(header, BODY, [], now=NOW)
    with pytest.raises(ValueError, match="must not be empty"):
        sign("", NOW, BODY)


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("commerce.webhooks.signatures.hmac.compare_digest", spy)
    good = compute(SECRET, NOW, BODY)
    verify(f"t={NOW},v1={good},v1={HEX}", BODY, SECRET, now=NOW)
    assert calls == [(good, good), (good, HEX)]  # every candidate, no early exit
    with pytest.raises(SignatureInvalid):
        verify(f"t={NOW},v1={HEX}", BODY, SECRET, now=NOW)
    assert calls[-1] == (good, HEX)


def test_the_rejection_is_a_safe_401() -> None:
    error = SignatureInvalid(Rejection.MISMATCH)
    assert isinstance(error, Unauthorized)
    assert error.type == "unauthorized"
    assert SECRET not in error.detail


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=512), secret=st.binary(min_size=1, max_size=64))
def test_sign_then_verify_round_trips_and_any_flipped_byte_fails(
    body: bytes, secret: bytes
) -> None:
    header = sign(secret, NOW, body)
    assert verify(header, body, secret, now=NOW) == Verified(NOW)
    if body:
        flipped = bytes([body[0] ^ 1]) + body[1:]
        with pytest.raises(SignatureInvalid):
            verify(header, flipped, secret, now=NOW)


# --- Event ids --------------------------------------------------------------------------------


def test_event_ids_and_replay_keys() -> None:
    assert event_id_of({"id": "evt_1"}) == "evt_1"
    assert event_id_of({"event_id": "dlv:42"}) == "dlv:42"
    assert event_id_of({"id": 5, "event_id": "e-2"}) == "e-2"
    assert event_id_of({"id": ""}) is None
    assert event_id_of({"id": "x" * 129}) is None
    assert event_id_of({"id": "a b"}) is None
    assert event_id_of({}) is None
    assert replay_key("sf-express", "evt_1") == "webhook:sf-express:evt_1"
