"""The Customers table: profiles, consents, devices, addresses, points, sent-records, tickets,
and the tombstones of erased subjects.

One partition per customer (``CUSTOMER#{sub}``) for profile, consents, devices, the address
book and points, written by ``store/customers.py``, ``store/devices.py``,
``store/addresses.py`` and ``store/points.py``; sent-records by ``store/notifications.py``;
one partition per support ticket (``TICKET#{id}``) by ``store/tickets.py``. Key layouts are in
``store/keys.py``.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)

from commerce.settings import get_settings
from commerce.store.tables.attributes import Gsi1Index, Gsi2Index
from commerce.store.tables.connection import TableModel

_settings = get_settings()


class CustomersTable(TableModel):
    """Items of the Customers table: profiles, consents, devices, points and sent-records."""

    class Meta:
        table_name = _settings.customers_table
        region = _settings.region


class ProfileModel(CustomersTable):
    """pk=CUSTOMER#{sub}, sk=PROFILE."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    customer_id = UnicodeAttribute()
    email = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    locale = UnicodeAttribute()
    marketing_consent = BooleanAttribute(default=False)
    notification_channels = ListAttribute[str](null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    version = NumberAttribute()
    erasing = BooleanAttribute(null=True)


class ConsentModel(CustomersTable):
    """pk=CUSTOMER#{sub}, sk=CONSENT#{at}#{id}."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    customer_id = UnicodeAttribute()
    consent_id = UnicodeAttribute()
    what = UnicodeAttribute()
    action = UnicodeAttribute()
    at = NumberAttribute()
    source = UnicodeAttribute()


class DeviceModel(CustomersTable):
    """pk=CUSTOMER#{sub}, sk=DEVICE#{device_id}."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    customer_id = UnicodeAttribute()
    device_id = UnicodeAttribute()
    platform = UnicodeAttribute()
    device_token = UnicodeAttribute()
    #: None only for a device stored before push endpoints existed: never a push target.
    endpoint_arn = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()


class TokenOwnerModel(CustomersTable):
    """pk=PUSHTOKEN#{sha256(token)}, sk=OWNER."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    customer_id = UnicodeAttribute()
    device_id = UnicodeAttribute()


class AddressBookModel(CustomersTable):
    """pk=CUSTOMER#{sub}, sk=ADDRESSBOOK: how many addresses the book holds (``entries``),
    which is the default, and the ``version`` every change of the book is conditioned on."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    customer_id = UnicodeAttribute()
    entries = NumberAttribute(default=0)
    default_id = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)


class AddressModel(CustomersTable):
    """pk=CUSTOMER#{sub}, sk=ADDRESS#{address_id}: one address of the book (the cart address
    fields, ``label``?)."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    customer_id = UnicodeAttribute()
    address_id = UnicodeAttribute()
    label = UnicodeAttribute(null=True)
    name = UnicodeAttribute()
    line1 = UnicodeAttribute()
    line2 = UnicodeAttribute(null=True)
    city = UnicodeAttribute()
    region = UnicodeAttribute(null=True)
    postal_code = UnicodeAttribute()
    country = UnicodeAttribute()
    phone = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class PointsBalanceModel(CustomersTable):
    """pk=CUSTOMER#{sub}, sk=POINTS."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    customer_id = UnicodeAttribute(null=True)
    balance = NumberAttribute(null=True)
    version = NumberAttribute(null=True)


class PointsEntryModel(CustomersTable):
    """pk=CUSTOMER#{sub}, sk=POINTS#{at}#{digest}."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    customer_id = UnicodeAttribute()
    delta = NumberAttribute()
    reason = UnicodeAttribute()
    order_id = UnicodeAttribute(null=True)
    ref = UnicodeAttribute(null=True)
    at = UnicodeAttribute()
    entry_key = UnicodeAttribute()


class NotificationSentModel(CustomersTable):
    """pk=NOTIFY#{dedupe_key}, sk=SENT: one message's claim, then its proof of sending.

    ``status`` SENDING while a consumer sends it, SENT once the provider accepted it;
    ``claimed_at`` (epoch s) lets a later delivery take over a claim its sender died holding.
    ``ttl`` (30 days) only tidies the table (commerce/store/notifications.py).
    """

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute()
    claimed_at = NumberAttribute()
    sent_at = NumberAttribute(null=True)
    ttl = NumberAttribute()
    # A customer's own messages, for their export and their erasure (sparse gsi1:
    # MESSAGES#{sub}); what was sent, never to which address or what it said.
    customer_id = UnicodeAttribute(null=True)
    channel = UnicodeAttribute(null=True)
    template = UnicodeAttribute(null=True)
    event_type = UnicodeAttribute(null=True)
    ref = UnicodeAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    # gsi1 of sent-records: a customer's own messages by time (MESSAGES#{sub}; sparse).
    gsi1: Gsi1Index[NotificationSentModel] = Gsi1Index()


class TombstoneModel(CustomersTable):
    """pk=ERASED#{sha256 of the sub}, sk=TOMBSTONE: a subject that asked to be erased
    (layout: commerce/store/erasures.py). ``sub`` and ``username`` are held only until the
    erasure is finished; gsi2 ERASURES / {requested_at} lists the unfinished ones."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute()
    requested_at = UnicodeAttribute()
    finished_at = UnicodeAttribute(null=True)
    sub = UnicodeAttribute(null=True)
    username = UnicodeAttribute(null=True)
    signed_out = BooleanAttribute(null=True)
    pending_order_ids = UnicodeSetAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi2: Gsi2Index[TombstoneModel] = Gsi2Index()


class TicketModel(CustomersTable):
    """pk=TICKET#{ticket_id}, sk=TICKET: a support ticket (layout: commerce/store/tickets.py).

    gsi1: TICKETS#{sub} / {created_at}#{id}, the customer's tickets newest first. gsi2:
    TICKETS#{status} / {updated_at}#{id}, support's queue of one status, latest activity first.
    """

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    ticket_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    #: The address the customer signed in with when opening it: where a reply goes when they
    #: have no profile to say otherwise.
    email = UnicodeAttribute(null=True)
    subject = UnicodeAttribute()
    order_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    messages = NumberAttribute()
    awaiting_since = NumberAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    version = NumberAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi1: Gsi1Index[TicketModel] = Gsi1Index()
    gsi2: Gsi2Index[TicketModel] = Gsi2Index()


class TicketMessageModel(CustomersTable):
    """pk=TICKET#{ticket_id}, sk=MESSAGE#{seq:05d}: one message, numbered from 1 in the order
    written (the ticket's ``messages`` count is the last number)."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    ticket_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    author = UnicodeAttribute()
    text = UnicodeAttribute()
    at = NumberAttribute()
    #: The staff member who wrote a support reply (their sub), never shown to the customer.
    staff_id = UnicodeAttribute(null=True)


class TicketAwaitingModel(CustomersTable):
    """pk=TICKET#{ticket_id}, sk=AWAITING: present while the ticket awaits support. gsi2:
    TICKETS_AWAITING / {since:012d}#{id}, so the unanswered are one key range."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    ticket_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    since = NumberAttribute()
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()
    gsi2: Gsi2Index[TicketAwaitingModel] = Gsi2Index()
