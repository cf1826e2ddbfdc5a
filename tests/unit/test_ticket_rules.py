"""Ticket rules: what a message may say, and where a ticket stands after each step."""

from __future__ import annotations

import pytest
from commerce.domain.tickets import (
    MAX_MESSAGE_CHARS,
    MAX_SUBJECT_CHARS,
    UNANSWERED_AFTER_SECONDS,
    Author,
    Message,
    Standing,
    TicketStatus,
    after_message,
    after_status,
    message_errors,
    opened,
    subject_errors,
    unanswered,
)
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

AT = 1_790_000_000
S = TicketStatus
C, SUPPORT = Author.CUSTOMER, Author.SUPPORT


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("Where is my parcel?", True),
        ("第一行\n第二行\twith a tab", True),
        ("x" * MAX_MESSAGE_CHARS, True),
        ("", False),
        ("   \n\t", False),
        ("x" * (MAX_MESSAGE_CHARS + 1), False),
        ("bell \x07", False),
    ],
)
def test_messages(text: str, ok: bool) -> None:
    found = message_errors(text)
    assert (found == []) is ok
    assert all(e.field == "message" for e in found)


def test_subjects() -> None:
    assert subject_errors("Cracked cup") == []
    assert subject_errors("x" * (MAX_SUBJECT_CHARS + 1))[0].field == "subject"
    assert subject_errors(" ")[0].message == "must not be empty"


def test_a_new_ticket_is_open_and_awaits_support() -> None:
    assert opened(AT) == Standing(S.OPEN, AT)


def test_a_support_reply_ends_the_wait_and_keeps_the_status() -> None:
    assert after_message(Standing(S.OPEN, AT), SUPPORT, AT + 5) == Standing(S.OPEN, None)
    assert after_message(Standing(S.PENDING, None), SUPPORT, AT) == Standing(S.PENDING, None)


def test_a_customer_message_reopens_and_keeps_the_first_wait() -> None:
    assert after_message(Standing(S.RESOLVED, None), C, AT) == Standing(S.OPEN, AT)
    assert after_message(Standing(S.PENDING, None), C, AT) == Standing(S.OPEN, AT)
    assert after_message(Standing(S.OPEN, AT), C, AT + 60) == Standing(S.OPEN, AT)


def test_support_setting_a_status_other_than_open_ends_the_wait() -> None:
    waiting = Standing(S.OPEN, AT)
    assert after_status(waiting, S.PENDING) == Standing(S.PENDING, None)
    assert after_status(waiting, S.RESOLVED) == Standing(S.RESOLVED, None)
    assert after_status(waiting, S.OPEN) == waiting
    assert after_status(Standing(S.RESOLVED, None), S.OPEN) == Standing(S.OPEN, None)


def test_unanswered_after_a_day() -> None:
    assert not unanswered(None, AT)
    assert not unanswered(AT, AT + UNANSWERED_AFTER_SECONDS)
    assert unanswered(AT, AT + UNANSWERED_AFTER_SECONDS + 1)


def test_the_message_wire_shape() -> None:
    assert Message(SUPPORT, "On its way", AT).to_dict() == {
        "from": "support",
        "message": "On its way",
        "at": "2026-09-21T14:13:20Z",
    }


steps = st.lists(
    st.one_of(
        st.tuples(st.just("message"), st.sampled_from(list(Author))),
        st.tuples(st.just("status"), st.sampled_from(list(TicketStatus))),
    ),
    max_size=25,
)


@given(steps)
def test_a_ticket_awaits_support_exactly_when_a_customer_waits_for_an_answer(
    history: list[tuple[str, object]],
) -> None:
    """Whatever happens, the wait starts at the first customer message after the last thing
    support did (a reply or a status other than open), and only an open ticket waits."""
    standing = opened(AT)
    expected: int | None = AT
    for n, (kind, value) in enumerate(history, start=1):
        at = AT + n
        if kind == "message":
            standing = after_message(standing, value, at)  # type: ignore[arg-type]
            customer_spoke = value is C
            expected = (at if expected is None else expected) if customer_spoke else None
        else:
            standing = after_status(standing, value)  # type: ignore[arg-type]
            if value is not S.OPEN:
                expected = None
        assert standing.awaiting_since == expected
        if standing.awaiting_since is not None:
            assert standing.status is S.OPEN
