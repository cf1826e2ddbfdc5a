"""Consent and channel rules: who hears of which event on which channel."""

from __future__ import annotations

import itertools

import pytest
from commerce.domain.consent import (
    CHANNEL_ORDER,
    MARKETING,
    PURPOSES,
    Audience,
    Channel,
    ConsentAction,
    ConsentRecord,
    EventType,
    Preferences,
    Purpose,
    UnknownEvent,
    channels_for,
    current_consent,
    event_type,
)
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

GIVEN, WITHDRAWN = ConsentAction.GIVEN, ConsentAction.WITHDRAWN


def record(action: ConsentAction, at: int, what: str = MARKETING) -> ConsentRecord:
    return ConsentRecord(what=what, action=action, at=at, source="PATCH /me")


# --- Current consent ---------------------------------------------------------------------------


def test_no_record_is_no_consent() -> None:
    assert current_consent((), MARKETING) is False


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([record(GIVEN, 10)], True),
        ([record(WITHDRAWN, 10)], False),
        ([record(GIVEN, 10), record(WITHDRAWN, 20)], False),
        ([record(WITHDRAWN, 10), record(GIVEN, 20)], True),
        # Latest by time, not by position in the list.
        ([record(WITHDRAWN, 20), record(GIVEN, 10)], False),
        ([record(GIVEN, 20), record(WITHDRAWN, 10)], True),
        # The same second: the record later in the history wins.
        ([record(GIVEN, 10), record(WITHDRAWN, 10)], False),
        ([record(WITHDRAWN, 10), record(GIVEN, 10)], True),
        # Other purposes do not count.
        ([record(GIVEN, 10), record(WITHDRAWN, 20, what="profiling")], True),
        ([record(GIVEN, 10, what="profiling")], False),
    ],
)
def test_current_consent_is_the_latest_record(history: list[ConsentRecord], expected: bool) -> None:
    assert current_consent(history, MARKETING) is expected


@given(st.lists(st.tuples(st.sampled_from([GIVEN, WITHDRAWN]), st.integers(0, 50)), max_size=12))
def test_current_consent_matches_the_last_word(entries: list[tuple[ConsentAction, int]]) -> None:
    history = [record(action, at) for action, at in entries]
    latest_at = max((at for _, at in entries), default=None)
    last_word = [action for action, at in entries if at == latest_at]
    assert current_consent(history, MARKETING) is bool(last_word and last_word[-1] is GIVEN)


def test_consent_record_round_trips() -> None:
    original = record(GIVEN, 1_741_944_000)
    assert ConsentRecord.from_dict(original.to_dict()) == original
    assert original.to_dict() == {
        "what": "marketing",
        "action": "given",
        "at": 1_741_944_000,
        "source": "PATCH /me",
    }


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"what": "marketing", "action": "maybe", "at": 1, "source": "x"},
        {"what": "marketing", "action": "given", "at": "2025-01-01", "source": "x"},
        {"what": "marketing", "action": "given", "at": True, "source": "x"},
        {"what": "marketing", "action": "given", "at": 1},
    ],
)
def test_malformed_consent_records_are_refused(raw: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="consent record"):
        ConsentRecord.from_dict(raw)


# --- The channel matrix ------------------------------------------------------------------------

EVENTS = {
    Purpose.TRANSACTIONAL: EventType.ORDER_SHIPPED,
    Purpose.MARKETING: EventType.CART_ABANDONED,
    Purpose.OPERATIONAL: EventType.INVENTORY_LOW_STOCK,
}
CHOICES: dict[str, frozenset[Channel] | None] = {
    "never-chose": None,
    "none": frozenset(),
    "email": frozenset({Channel.EMAIL}),
    "sms+push": frozenset({Channel.SMS, Channel.PUSH}),
    "all": frozenset(Channel),
}
CONSENTS: dict[str, tuple[ConsentRecord, ...]] = {
    "none": (),
    "given": (record(GIVEN, 10),),
    "withdrawn": (record(GIVEN, 10), record(WITHDRAWN, 20)),
    "given-again": (record(GIVEN, 10), record(WITHDRAWN, 20), record(GIVEN, 30)),
}
ADDRESSES = {
    "email": (True, False, False),
    "email+phone": (True, True, False),
    "phone+device": (False, True, True),
    "all": (True, True, True),
    "nothing": (False, False, False),
}


def expected(
    purpose: Purpose,
    audience: Audience,
    choice: frozenset[Channel] | None,
    consented: bool,
    reach: tuple[bool, bool, bool],
) -> list[Channel]:
    """The rules of docs/notifications.md, written out plainly."""
    if purpose is Purpose.OPERATIONAL and audience is not Audience.STAFF:
        return []
    if purpose is not Purpose.OPERATIONAL and audience is Audience.STAFF:
        return []
    if purpose is Purpose.MARKETING and (audience is not Audience.CUSTOMER or not consented):
        return []
    if audience is Audience.GUEST or choice is None:
        choice = frozenset({Channel.EMAIL})
    has = dict(zip(CHANNEL_ORDER, reach, strict=True))
    return [c for c in CHANNEL_ORDER if c in choice and has[c]]


MATRIX = list(itertools.product(EVENTS, Audience, CHOICES, CONSENTS, ADDRESSES))


@pytest.mark.parametrize(("purpose", "audience", "choice", "consent", "reach"), MATRIX)
def test_channel_matrix(
    purpose: Purpose, audience: Audience, choice: str, consent: str, reach: str
) -> None:
    has_email, has_phone, has_device = ADDRESSES[reach]
    preferences = Preferences(audience, CHOICES[choice], has_email, has_phone, has_device)
    got = channels_for(EVENTS[purpose], preferences, CONSENTS[consent])
    consented = current_consent(CONSENTS[consent], MARKETING)
    assert got == expected(purpose, audience, CHOICES[choice], consented, ADDRESSES[reach])


@pytest.mark.parametrize(
    ("event", "preferences", "consent", "channels"),
    [
        # A customer who never chose hears of their order by email.
        (
            EventType.ORDER_PAID,
            Preferences(Audience.CUSTOMER, None, True, True, True),
            (),
            [Channel.EMAIL],
        ),
        # ... and on exactly the channels they enabled, where they can be reached.
        (
            EventType.ORDER_PAID,
            Preferences(Audience.CUSTOMER, frozenset(Channel), True, True, False),
            (),
            [Channel.EMAIL, Channel.SMS],
        ),
        # Turning everything off is honoured.
        (
            EventType.ORDER_PAID,
            Preferences(Audience.CUSTOMER, frozenset(), True, True, True),
            (),
            [],
        ),
        # A guest gets email only, whatever else is known.
        (
            EventType.ORDER_SHIPPED,
            Preferences(Audience.GUEST, frozenset(Channel), True, True, True),
            (),
            [Channel.EMAIL],
        ),
        # Marketing needs current consent ...
        (EventType.CART_ABANDONED, Preferences(Audience.CUSTOMER, None, True), (), []),
        (
            EventType.CART_ABANDONED,
            Preferences(Audience.CUSTOMER, None, True),
            (record(GIVEN, 1),),
            [Channel.EMAIL],
        ),
        # ... and never reaches a guest.
        (
            EventType.CART_ABANDONED,
            Preferences(Audience.GUEST, None, True),
            (record(GIVEN, 1),),
            [],
        ),
        # Ops alerts go to staff only.
        (
            EventType.INVENTORY_LOW_STOCK,
            Preferences(Audience.STAFF, None, True),
            (),
            [Channel.EMAIL],
        ),
        (EventType.INVENTORY_LOW_STOCK, Preferences(Audience.CUSTOMER, None, True), (), []),
    ],
)
def test_channel_examples(
    event: EventType,
    preferences: Preferences,
    consent: tuple[ConsentRecord, ...],
    channels: list[Channel],
) -> None:
    assert channels_for(event, preferences, consent) == channels


@pytest.mark.parametrize("event", list(EventType))
def test_every_event_has_rules(event: EventType) -> None:
    staff = Preferences(Audience.STAFF, None, has_email=True)
    customer = Preferences(Audience.CUSTOMER, None, has_email=True)
    reached = channels_for(event, staff) + channels_for(event, customer, CONSENTS["given"])
    assert reached == [Channel.EMAIL]
    assert event in PURPOSES


def test_the_status_name_of_a_placed_order_is_an_alias() -> None:
    assert event_type("order.pending_payment") is EventType.ORDER_PLACED
    assert event_type("order.paid") is EventType.ORDER_PAID


def test_an_unknown_event_has_no_rules() -> None:
    with pytest.raises(UnknownEvent):
        channels_for("order.teleported", Preferences(Audience.CUSTOMER, None, True))
