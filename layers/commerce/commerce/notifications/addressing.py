"""Who an event's messages go to, and the data its templates need that the producer left out.

Order events are thin (``orders.events.order_event``: the id, status and total), so the order
is read by id for its lines, totals, carrier, tracking, delivery and returns, and its email and
locale. A guest gets email only, at the order's address, in the checkout's language; a
signed-in customer gets their profile's channels, language, consent, phone and push devices
(the order's address and language where the profile has none). ``cart.abandoned`` goes to the
cart's owner and ``campaign.message`` to the campaign's member, on their profile's channels
(nobody without a profile); ``ticket.replied`` to the ticket's customer on theirs, or without a
profile by email to the address the ticket was opened with. ``inventory.low_stock``
goes to the ops mailbox (``OPS_ALERT_EMAIL``). Which of those channels a message may use is
``domain.consent.channels_for``'s to decide, when the messages are built.

An order that does not exist, or data missing from the event, is a ``NotificationError``: no
retry can help it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from commerce.clock import iso
from commerce.customers.profiles import Preferences, preferences_for
from commerce.domain.consent import Audience, EventType, NotificationError
from commerce.domain.privacy import ERASED_EMAIL
from commerce.notifications.messages import NotificationEvent, Recipient
from commerce.settings import get_settings
from commerce.store import customers as customer_store
from commerce.store import notifications as sent_records
from commerce.store.orders import StoredOrder, load_returns


def _latest_return(order_id: str) -> dict[str, Any]:
    returns = load_returns(order_id)
    if not returns:
        raise NotificationError(f"order {order_id} has no return to announce")
    latest = returns[-1].value
    return {
        "return_id": latest.return_id,
        "lines": [{"sku": line.sku, "quantity": line.quantity} for line in latest.lines],
        "refund": latest.refund.to_dict(),
    }


def _refund(stored: StoredOrder, refund_id: str) -> dict[str, Any]:
    """A refund made outside a return (by staff, or at the provider), as listed on the order."""
    found = next((r for r in stored.order.refunds if r.refund_id == refund_id), None)
    if found is None:
        raise NotificationError(f"order {stored.order_id} has no refund {refund_id}")
    return {"refund_id": refund_id, "refund": found.amount.to_dict()}


def order_data(
    stored: StoredOrder, kind: EventType, *, refund_id: str | None = None
) -> dict[str, Any]:
    """What the order templates use, read from the order as stored. ``refund_id`` names the
    refund an ``order.refunded`` event announces when it is not a return's."""
    order = stored.order
    data: dict[str, Any] = {
        "order_id": order.order_id,
        "status": order.status.value,
        "lines": [line.to_dict() for line in order.lines],
        "totals": order.totals.to_dict(),
    }
    if stored.carrier is not None:
        data["carrier"] = stored.carrier
    if stored.tracking_number is not None:
        data["tracking_number"] = stored.tracking_number
    if order.delivered_at is not None:
        data["delivered_at"] = iso(order.delivered_at)
    if kind is EventType.ORDER_CANCELLED:
        refunded = order.payment.refunded
        data["refund"] = refunded.to_dict() if refunded.amount > 0 else None
    if kind is EventType.ORDER_REFUNDED and refund_id is not None:
        data.update(_refund(stored, refund_id))
    elif kind in (EventType.ORDER_RETURN_REQUESTED, EventType.ORDER_REFUNDED):
        data.update(_latest_return(order.order_id))
    return data


def _customer_recipient(
    prefs: Preferences, *, email: str | None = None, locale: str | None = None
) -> Recipient:
    """A signed-in customer on their own channels, language, consent and devices. An order's
    ``email`` comes first (it is where the customer asked to hear about that order); its
    ``locale`` stands in only where the profile has none."""
    return Recipient(
        Audience.CUSTOMER,
        email=email or prefs.email,
        phone=prefs.phone,
        name=prefs.name,
        locale=prefs.locale or locale,
        channels=prefs.channels,
        consent=prefs.consents,
        devices=prefs.push_targets,
    )


def _order_recipient(stored: StoredOrder, locale: str | None) -> Recipient:
    order = stored.order
    if order.is_guest:
        return Recipient.guest(order.email, locale)
    prefs = preferences_for(order.owner) if order.owner else None
    if prefs is None:
        # No profile (never opened, or erased): like a guest, the order's address only.
        return Recipient(Audience.CUSTOMER, email=order.email, locale=locale)
    return _customer_recipient(prefs, email=order.email, locale=locale)


@dataclass(frozen=True)
class Addressed:
    """An event completed with what its templates need, and who it goes to (None: nobody)."""

    event: NotificationEvent
    recipient: Recipient | None
    #: The signed-in customer the messages go to, if any (their export lists them).
    customer_id: str | None = None


def address(event: NotificationEvent) -> Addressed:
    """Complete the event's data and find its recipient."""
    if event.type is EventType.INVENTORY_LOW_STOCK:
        ops = get_settings().ops_alert_email
        return Addressed(event, Recipient.staff(ops) if ops else None)
    if event.type is EventType.CART_ABANDONED:
        return _customer_addressed(event, "owner_sub")
    if event.type is EventType.CAMPAIGN_MESSAGE:
        return _customer_addressed(event, "customer_id")
    if event.type is EventType.TICKET_REPLIED:
        return _ticket_addressed(event)
    order_id = event.data.get("order_id")
    if not isinstance(order_id, str) or not order_id:
        raise NotificationError(f"{event.type.value} names no order_id")
    found = sent_records.load_order_with_locale(order_id)
    if found is None:
        raise NotificationError(f"no order {order_id}")
    stored, locale = found
    refund_id = event.data.get("refund_id")
    data = {
        **event.data,
        **order_data(
            stored, event.type, refund_id=refund_id if isinstance(refund_id, str) else None
        ),
    }
    completed = NotificationEvent(event.event_id, event.type, event.occurred_at, data)
    if stored.order.email == ERASED_EMAIL:
        return Addressed(completed, None)  # its customer was erased: nobody is left to tell
    # An order whose customer is being erased still tells them how it goes, at its own email,
    # but lists nothing under them: their erasure must not have records to come back to.
    customer = None if stored.erase_on_close else stored.order.owner
    return Addressed(completed, _order_recipient(stored, locale), customer)


def _customer_of(event: NotificationEvent, field: str) -> str:
    sub = event.data.get(field)
    if not isinstance(sub, str) or not sub:
        raise NotificationError(f"{event.type.value} names no {field}")
    return sub


def _ticket_addressed(event: NotificationEvent) -> Addressed:
    """A support reply goes to the ticket's customer on their own channels; without a profile
    (they never opened one), by email to the address they opened the ticket with."""
    sub = _customer_of(event, "owner_sub")
    prefs = preferences_for(sub)
    if prefs is not None:
        return Addressed(event, _customer_recipient(prefs), sub)
    email = event.data.get("email")
    if not isinstance(email, str) or not email or customer_store.load_profile(sub) is not None:
        return Addressed(event, None)  # no address, or a profile being erased: nobody
    return Addressed(event, Recipient(Audience.CUSTOMER, email=email), sub)


def _customer_addressed(event: NotificationEvent, field: str) -> Addressed:
    """A marketing message goes to the customer the event names in ``field`` (a cart's owner,
    a campaign's member) with their own preferences; nobody without a profile (guests, erased
    customers). ``channels_for`` applies their marketing consent."""
    sub = _customer_of(event, field)
    prefs = preferences_for(sub)
    if prefs is None:
        return Addressed(event, None)
    return Addressed(event, _customer_recipient(prefs), sub)
