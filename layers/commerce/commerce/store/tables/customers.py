"""The Customers table: profiles, consents, devices, points and sent-records.

One partition per customer (``CUSTOMER#{sub}``) for profile, consents, devices and points,
written by ``store/customers.py``, ``store/devices.py`` and ``store/points.py``; sent-records by
``store/notifications.py``. Key layouts are in ``store/keys.py``.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.models import Model

from commerce.settings import get_settings
from commerce.store.tables.attributes import Gsi1Index

_settings = get_settings()


class CustomersTable(Model):
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
