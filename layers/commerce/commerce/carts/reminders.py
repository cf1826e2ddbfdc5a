"""The abandoned-cart reminder: one ``cart.abandoned`` event per idle cart of a consenting customer.

Run by the sweeper's schedule. A cart is reminded when it is signed in (guests are never sent
marketing), not checked out, has at least one line, was last changed more than
``ABANDONED_CART_AFTER_SECONDS`` ago, and its owner's current marketing consent is given. Each
cart is reminded once: a conditional write sets ``reminded_at`` on the header (only if unset, and
only if the cart is still as found), and only then is the event published, its id stable for the
cart and its ``updated_at`` so the consumer's dedupe holds even if it is published twice. An event
that cannot be published gives its mark back, so the next run tries again.

Carts are found through the idle index (``commerce.store.carts.idle_signed_in_carts``), which
holds only candidates. A cart is considered once when it goes idle: one found empty, or whose
owner has no current marketing consent then, is taken out of the index (conditioned on it being
unchanged since) and is not read again until its next change puts it back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Final

from commerce import clock
from commerce.customers.profiles import preferences_for
from commerce.domain.consent import MARKETING, EventType, current_consent
from commerce.domain.money import Money
from commerce.events import DomainEvent, EventPublishError, publisher, stable_event_id
from commerce.observability import logger
from commerce.settings import get_settings
from commerce.store import carts
from commerce.store.carts import IdleCart, StoredCart

#: A run stops looking for carts when the function has less time left than this.
STOP_MARGIN_MS: Final = 5_000


@dataclass
class ReminderReport:
    reminded: int = 0
    skipped: int = 0
    failed: int = 0
    stopped_early: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def consents_to_marketing(sub: str) -> bool:
    """The customer has a profile (not being erased) and their current marketing consent."""
    prefs = preferences_for(sub)
    return prefs is not None and current_consent(prefs.consents, MARKETING)


def abandoned_event(cart: StoredCart, updated_at: str) -> DomainEvent:
    """``cart.abandoned`` for the cart as last changed at ``updated_at`` (the event's id)."""
    lines = [
        {"sku": line.sku, "quantity": line.quantity, "unit_price": line.unit_price.to_dict()}
        for line in cart.lines
    ]
    currency = cart.lines[0].unit_price.currency
    subtotal = Money.zero(currency)
    for line in cart.lines:
        subtotal = subtotal + line.unit_price.times(line.quantity)
    return DomainEvent(
        event_id=stable_event_id(cart.cart_id, updated_at),
        type=EventType.CART_ABANDONED.value,
        occurred_at=updated_at,
        data={
            "cart_id": cart.cart_id,
            "owner_sub": cart.owner_sub,
            "lines": lines,
            "subtotal": subtotal.to_dict(),
        },
    )


def _worth_reminding(idle: IdleCart, cart: StoredCart, now: int) -> bool:
    """The cart as read now is one to remind (its owner's consent aside)."""
    return (
        idle.ttl > now
        and cart.owner_sub == idle.owner_sub
        and not cart.checked_out
        and not cart.reminded
        and bool(cart.lines)
    )


def _remind(idle: IdleCart, now: int) -> bool | None:
    """True: reminded; False: nothing to remind; None: the event could not be published."""
    cart = carts.load(idle.cart_id)
    if cart is None:
        return False
    owner = cart.owner_sub
    if owner is None or not _worth_reminding(idle, cart, now) or not consents_to_marketing(owner):
        carts.drop_idle(idle)  # fails, harmlessly, if the cart changed since it was found
        return False
    at = clock.iso_us(now)
    if not carts.mark_reminded(idle, at=at):
        return False  # reminded by another run, or changed since found: its write set the keys
    try:
        publisher().publish(abandoned_event(cart, idle.updated_at))
    except EventPublishError:
        carts.unmark_reminded(idle, at=at)
        logger.warning("cart reminder not published", extra={"cart_id": idle.cart_id})
        return None
    return True


def remind_abandoned_carts(
    now: int, remaining_ms: Callable[[], int] | None = None
) -> ReminderReport:
    """Remind every abandoned cart once (``now`` in epoch seconds); logs what it did."""
    report = ReminderReport()
    idle_before = clock.iso_us(now - get_settings().abandoned_cart_after_seconds)
    for idle in carts.idle_signed_in_carts(idle_before):
        if remaining_ms is not None and remaining_ms() < STOP_MARGIN_MS:
            report.stopped_early = True
            break
        outcome = _remind(idle, now)
        if outcome is None:
            report.failed += 1
        elif outcome:
            report.reminded += 1
        else:
            report.skipped += 1
    if report.reminded or report.failed or report.stopped_early:
        logger.info("abandoned carts reminded", extra=report.as_dict())
    return report
