"""The abandoned-cart reminder against moto: carts and profiles in template.yaml's tables, the
events it publishes caught by an in-memory publisher (issue 6, item 5)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from commerce import events
from commerce.carts import reminders
from commerce.customers.profiles import Identity, Patch, ensure_profile, update_me
from commerce.events import MemoryEventPublisher, stable_event_id
from commerce.store import carts as cart_store
from commerce.store import keys
from commerce.store.tables.carts import CartLineModel, CartModel
from commerce.store.transactions import LabelledTransaction

pytestmark = pytest.mark.integration

NOW = 1_893_456_000
DAY = 86_400


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def published(dynamodb: Any) -> Iterator[MemoryEventPublisher]:
    memory = MemoryEventPublisher()
    events.use_publisher(memory)
    yield memory
    events.use_publisher(None)


def customer(sub: str, *, consent: bool, locale: str = "zh-CN") -> None:
    identity = Identity(sub=sub, email=f"{sub}@example.com", locale=locale)
    ensure_profile(identity)
    if consent:
        update_me(identity, Patch(marketing_consent=True))


def cart(
    cart_id: str,
    *,
    owner: str | None,
    idle_for: int = 2 * DAY,
    lines: int = 1,
    checked_out: bool = False,
) -> str:
    at = iso(NOW - idle_for)
    token_hash = None if owner else "a" * 64
    cart_store.create(cart_id, owner_sub=owner, token_hash=token_hash, at=at, now=NOW - idle_for)
    if checked_out:
        stored = cart_store.load(cart_id)
        assert stored is not None
        tx = LabelledTransaction()
        cart_store.check_out(tx, stored, "ord-1", at=at, now=NOW - idle_for)
        assert tx.commit() == []
    for n in range(lines):
        CartLineModel(
            keys.cart_pk(cart_id),
            keys.line_sk(f"REM-{n}"),
            cart_id=cart_id,
            sku=f"REM-{n}",
            quantity=n + 1,
            unit_price={"amount": 1250, "currency": "CNY"},
            version=1,
            updated_at=at,
        ).save()
    return at


def change(cart_id: str, at: str) -> None:
    """A change to the cart as a line change makes it (the header's part of it)."""
    stored = cart_store.load(cart_id)
    assert stored is not None
    tx = LabelledTransaction()
    cart_store.touch(tx, stored, at=at, now=NOW)
    assert tx.commit() == []


def candidates(before: int = NOW + 30 * DAY) -> list[str]:
    """What a run's query returns: the idle index's carts last changed before ``before``."""
    return sorted(c.cart_id for c in cart_store.idle_signed_in_carts(iso(before)))


def test_an_idle_cart_of_a_consenting_customer_is_reminded_once(
    published: MemoryEventPublisher,
) -> None:
    customer("sub-yes", consent=True)
    updated_at = cart("cart-idle", owner="sub-yes", lines=2)

    first = reminders.remind_abandoned_carts(NOW)
    second = reminders.remind_abandoned_carts(NOW + 3600)

    assert (first.reminded, second.reminded) == (1, 0)
    [event] = published.events
    assert event.type == "cart.abandoned"
    assert event.event_id == stable_event_id("cart-idle", updated_at)
    assert event.data["cart_id"] == "cart-idle"
    assert event.data["owner_sub"] == "sub-yes"
    assert [line["sku"] for line in event.data["lines"]] == ["REM-0", "REM-1"]
    assert event.data["subtotal"] == {"amount": 1250 * 3, "currency": "CNY"}
    header = CartModel.get(keys.cart_pk("cart-idle"), keys.CART_SK)
    assert header.reminded_at == iso(NOW)
    assert header.updated_at == updated_at  # the reminder does not count as a change
    assert header.gsi1pk is None  # out of the idle index: later runs never read it again
    assert candidates() == []


def test_carts_that_must_not_be_reminded_are_not(published: MemoryEventPublisher) -> None:
    customer("sub-no", consent=False)
    customer("sub-yes", consent=True)
    customer("sub-withdrew", consent=True)
    update_me(Identity(sub="sub-withdrew"), Patch(marketing_consent=False))
    cart("cart-no-consent", owner="sub-no")
    cart("cart-withdrawn", owner="sub-withdrew")
    cart("cart-no-profile", owner="sub-nobody")
    cart("cart-guest", owner=None)
    cart("cart-fresh", owner="sub-yes", idle_for=DAY - 60)
    cart("cart-empty", owner="sub-yes", lines=0)
    cart("cart-checked-out", owner="sub-yes", checked_out=True)

    assert candidates() == [
        "cart-empty",
        "cart-fresh",
        "cart-no-consent",
        "cart-no-profile",
        "cart-withdrawn",
    ]  # guests and checked-out carts are never in the index

    report = reminders.remind_abandoned_carts(NOW)

    assert published.events == []
    assert report.reminded == 0
    assert report.skipped == 4
    # Considered once: the four idle ones left the index, the fresh one waits for its day.
    assert candidates() == ["cart-fresh"]
    assert reminders.remind_abandoned_carts(NOW + 3600).skipped == 0


def test_consent_given_later_counts_from_the_carts_next_change(
    published: MemoryEventPublisher,
) -> None:
    customer("sub-later", consent=False)
    cart("cart-1", owner="sub-later")
    assert reminders.remind_abandoned_carts(NOW).skipped == 1
    update_me(Identity(sub="sub-later"), Patch(marketing_consent=True))

    assert reminders.remind_abandoned_carts(NOW + DAY).reminded == 0  # unchanged: not read

    change("cart-1", iso(NOW + DAY))
    assert reminders.remind_abandoned_carts(NOW + DAY + 3600).reminded == 0  # not idle yet
    assert reminders.remind_abandoned_carts(NOW + 2 * DAY + 1).reminded == 1
    [event] = published.events
    assert event.event_id == stable_event_id("cart-1", iso(NOW + DAY))


def test_an_emptied_cart_filled_again_is_reminded_once_idle(
    published: MemoryEventPublisher,
) -> None:
    customer("sub-yes", consent=True)
    cart("cart-1", owner="sub-yes", lines=0)
    assert reminders.remind_abandoned_carts(NOW).skipped == 1
    assert candidates() == []

    CartLineModel(
        keys.cart_pk("cart-1"),
        keys.line_sk("REM-0"),
        cart_id="cart-1",
        sku="REM-0",
        quantity=1,
        unit_price={"amount": 1250, "currency": "CNY"},
        version=1,
        updated_at=iso(NOW),
    ).save()
    change("cart-1", iso(NOW))

    assert candidates() == ["cart-1"]
    assert reminders.remind_abandoned_carts(NOW + DAY + 1).reminded == 1


def test_a_run_out_of_time_leaves_the_rest_indexed(published: MemoryEventPublisher) -> None:
    customer("sub-yes", consent=True)
    cart("cart-1", owner="sub-yes")

    report = reminders.remind_abandoned_carts(NOW, remaining_ms=lambda: 1_000)

    assert report.stopped_early is True
    assert (report.reminded, published.events) == (0, [])
    assert candidates() == ["cart-1"]
    assert reminders.remind_abandoned_carts(NOW).reminded == 1


def test_a_failed_publish_gives_the_mark_back_for_the_next_run(dynamodb: Any) -> None:
    customer("sub-yes", consent=True)
    cart("cart-idle", owner="sub-yes")
    events.use_publisher(events.SqsEventPublisher(""))  # no queue: publishing fails
    try:
        assert reminders.remind_abandoned_carts(NOW).failed == 1
    finally:
        events.use_publisher(None)
    assert CartModel.get(keys.cart_pk("cart-idle"), keys.CART_SK).reminded_at is None
    assert candidates() == ["cart-idle"]  # back in the index: the next run retries
    memory = MemoryEventPublisher()
    events.use_publisher(memory)
    try:
        assert reminders.remind_abandoned_carts(NOW).reminded == 1
    finally:
        events.use_publisher(None)
    assert json.loads(memory.events[0].to_json())["data"]["cart_id"] == "cart-idle"
