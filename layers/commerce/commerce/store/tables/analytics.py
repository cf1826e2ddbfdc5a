"""The Analytics table: what the order stream adds up, and the segments and campaigns built on it.

One table of its own (not items in Orders or Customers): its write pattern is the stream
consumer's (many small counter updates, guards with a TTL), it is rebuilt from the stream and
the exports rather than restored, and its capacity, alarms and IAM are then its own.

Aggregates, guards, facts and customer values are written by ``store/analytics.py``; segments,
campaigns and their recipients by ``store/campaigns.py``. Key layouts are in ``store/keys.py``.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)

from commerce.settings import get_settings
from commerce.store.tables.attributes import Gsi1Index
from commerce.store.tables.connection import TableModel

_settings = get_settings()


class AnalyticsTable(TableModel):
    """Items of the Analytics table."""

    class Meta:
        table_name = _settings.analytics_table
        region = _settings.region


class AppliedModel(AnalyticsTable):
    """pk=APPLIED#{event id}[#{part}], sk=APPLIED: a stream record's plan was applied.

    Written in the transaction of the plan it guards; ``ttl`` (3 days: past any redelivery,
    stream records live 24 hours) only tidies the table.
    """

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    ttl = NumberAttribute()


class AggregateModel(AnalyticsTable):
    """A counter item: per day (pk=SALES#{shard}, sk={date}), per SKU per day or month
    (SKUDAY#{date} / SKUMONTH#{month}, sk={sku}), per buyer per day or month (BUYERDAY#{date} /
    BUYERMONTH#{month}, sk={buyer}) and a campaign's results (CAMPAIGN#{id}, sk=CAMPAIGN, see
    ``CampaignModel``). Only the counts an aggregate keeps are present."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    orders = NumberAttribute(null=True)
    gmv = NumberAttribute(null=True)
    refunds = NumberAttribute(null=True)
    units = NumberAttribute(null=True)
    customers = NumberAttribute(null=True)
    carts = NumberAttribute(null=True)
    revenue = NumberAttribute(null=True)
    spend = NumberAttribute(null=True)


class FactModel(AnalyticsTable):
    """pk=FACTS#{date}, sk={kind}#{order_id}#{event id}: one order fact of a UTC day, as the
    Parquet export writes it (``kind`` paid | refunded). ``buyer`` is the pseudonymous buyer key,
    never a customer id or email. ``ttl`` (90 days) tidies what the export has long written."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    order_id = UnicodeAttribute()
    buyer = UnicodeAttribute()
    signed_in = BooleanAttribute()
    at = NumberAttribute()
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    units = NumberAttribute()
    lines = ListAttribute[Any](null=True)
    ttl = NumberAttribute()


class CustomerValueModel(AnalyticsTable):
    """pk=CUSTOMER#{sub}, sk=VALUE: a signed-in customer's paid orders, spend (paid less
    refunded, minor units) and last paid order (epoch s): their RFM.

    gsi1 (VALUES#{bucket}, {last_order_at}#{sub}) lists customers by last order, for segments.
    """

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    customer_id = UnicodeAttribute(null=True)
    orders = NumberAttribute(null=True)
    spend = NumberAttribute(null=True)
    last_order_at = NumberAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1: Gsi1Index[CustomerValueModel] = Gsi1Index()


class SegmentModel(AnalyticsTable):
    """pk=SEGMENT#{id}, sk=SEGMENT: a segment's name and rules; gsi1 SEGMENTS by creation."""

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    segment_id = UnicodeAttribute()
    name = UnicodeAttribute()
    rules = MapAttribute[str, Any]()  # type: ignore[no-untyped-call]
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1: Gsi1Index[SegmentModel] = Gsi1Index()


class CampaignModel(AnalyticsTable):
    """pk=CAMPAIGN#{id}, sk=CAMPAIGN: a campaign, its progress and its results.

    ``request_digest`` fingerprints the request that made it (a retry with the same key and
    another body is refused); ``queued`` once its first expansion message is on the queue;
    ``pages`` segment pages expanded so far, ``expanded`` once the last one was; counts:
    ``recipients`` (members), ``sent`` and ``skipped`` (member x channel), ``done`` (members
    finished), ``orders`` and ``revenue`` (attributed). gsi1 CAMPAIGNS by creation.
    """

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    campaign_id = UnicodeAttribute()
    name = UnicodeAttribute()
    segment_id = UnicodeAttribute()
    channels = ListAttribute(of=UnicodeAttribute)
    subject = UnicodeAttribute()
    body = UnicodeAttribute()
    request_digest = UnicodeAttribute()
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    queued = BooleanAttribute(default=False)
    expanded = BooleanAttribute(default=False)
    pages = NumberAttribute(default=0)
    recipients = NumberAttribute(null=True)
    sent = NumberAttribute(null=True)
    skipped = NumberAttribute(null=True)
    done = NumberAttribute(null=True)
    orders = NumberAttribute(null=True)
    revenue = NumberAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1: Gsi1Index[CampaignModel] = Gsi1Index()


class RecipientModel(AnalyticsTable):
    """pk=CAMPAIGN#{id}, sk=MEMBER#{sub}: one member of a campaign and what each chosen
    channel came to (``channel_{email,sms,push}``: ``sent`` | ``skipped``), ``done`` once all
    have.

    gsi1 (MEMBER#{sub}, {sent_at}#{campaign_id}) lists a customer's campaign messages by the
    time of the first one sent (0 while none was): attribution reads it, erasure deletes by it.
    """

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    campaign_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    channel_email = UnicodeAttribute(null=True)
    channel_sms = UnicodeAttribute(null=True)
    channel_push = UnicodeAttribute(null=True)
    done = BooleanAttribute(null=True)
    sent_at = NumberAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1: Gsi1Index[RecipientModel] = Gsi1Index()
