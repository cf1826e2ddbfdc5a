"""Segments, campaigns and campaign recipients (AnalyticsTable; keys in ``keys.py``).

- segment: pk=SEGMENT#{id}, sk=SEGMENT: name and rules (as API.md shows them); gsi1 SEGMENTS /
  {created_at}#{id}, newest first;
- campaign: pk=CAMPAIGN#{id}, sk=CAMPAIGN: what to send to whom, its progress and its counts;
  gsi1 CAMPAIGNS / {created_at}#{id};
- recipient: pk=CAMPAIGN#{id}, sk=MEMBER#{sub}: one member, created once with the campaign's
  ``recipients`` count (``add_recipients``) and finished once with its ``sent``, ``skipped`` and
  ``done`` counts (``finish_recipient``); gsi1 MEMBER#{sub} / {first sent}#{campaign id}.

Every count moves in the transaction of the write that makes it true, conditioned so that a
redelivered message or a retried request counts nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pynamodb.expressions.update import Action

from commerce.domain.money import Money
from commerce.domain.segments import Rules
from commerce.store import keys, kit
from commerce.store.tables.analytics import CampaignModel, RecipientModel, SegmentModel
from commerce.store.transactions import MAX_ITEMS, LabelledTransaction

#: The attributes of a gsi1 key (page tokens of segment and campaign lists).
LIST_PAGE_KEYS: Final = ("pk", "sk", "gsi1pk", "gsi1sk")
_CAMPAIGN: Final = "campaign"


# --- Segments ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredSegment:
    segment_id: str
    name: str
    rules: Rules
    created_at: str
    created_by: str


def rules_from_map(raw: Mapping[str, Any]) -> Rules:
    """Rules as stored (the shape of ``Rules.to_dict``)."""

    def number(name: str) -> int | None:
        value = raw.get(name)
        return int(value) if value is not None else None

    def names(name: str) -> tuple[str, ...] | None:
        value = raw.get(name)
        return tuple(str(v) for v in value) if value is not None else None

    spend = raw.get("min_spend")
    return Rules(
        min_orders=number("min_orders"),
        min_spend=Money(int(spend["amount"]), str(spend["currency"])) if spend else None,
        last_order_within_days=number("last_order_within_days"),
        no_order_within_days=number("no_order_within_days"),
        tiers=names("tiers"),
        rfm_segments=names("rfm_segments"),
    )


def _segment(row: SegmentModel) -> StoredSegment:
    return StoredSegment(
        segment_id=row.segment_id,
        name=row.name,
        rules=rules_from_map(row.rules.as_dict() if row.rules is not None else {}),  # type: ignore[no-untyped-call]
        created_at=row.created_at,
        created_by=row.created_by,
    )


def create_segment(segment: StoredSegment) -> bool:
    """Store a new segment; False if one with its id exists already."""
    item = SegmentModel(
        keys.segment_pk(segment.segment_id),
        keys.SEGMENT_SK,
        segment_id=segment.segment_id,
        name=segment.name,
        rules=segment.rules.to_dict(),
        created_at=segment.created_at,
        created_by=segment.created_by,
        gsi1pk=keys.SEGMENTS_GSI1PK,
        gsi1sk=f"{segment.created_at}#{segment.segment_id}",
    )
    return kit.applied(lambda: item.save(condition=SegmentModel.pk.does_not_exist()))


def load_segment(segment_id: str) -> StoredSegment | None:
    try:
        row = SegmentModel.get(keys.segment_pk(segment_id), keys.SEGMENT_SK)
    except SegmentModel.DoesNotExist:
        return None
    return _segment(row)


def segments_page(
    limit: int, start_key: dict[str, Any] | None
) -> tuple[list[StoredSegment], dict[str, Any] | None]:
    """A page of segments, newest first."""
    rows, last = _newest_first(SegmentModel, keys.SEGMENTS_GSI1PK, limit, start_key)
    return [_segment(row) for row in rows], last


def _newest_first(
    model: type[SegmentModel] | type[CampaignModel],
    gsi1pk: str,
    limit: int,
    start_key: dict[str, Any] | None,
) -> tuple[list[Any], dict[str, Any] | None]:
    """One page of a gsi1 list kept by creation time, newest first, and its last key."""
    rows = model.gsi1.query(
        gsi1pk,
        scan_index_forward=False,
        limit=limit,
        page_size=limit,
        last_evaluated_key=start_key,
    )
    return list(rows), rows.last_evaluated_key


# --- Campaigns ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignCounts:
    recipients: int = 0
    sent: int = 0
    skipped: int = 0
    done: int = 0
    orders: int = 0
    revenue: int = 0


@dataclass(frozen=True)
class StoredCampaign:
    campaign_id: str
    name: str
    segment_id: str
    channels: tuple[str, ...]
    subject: str
    body: str
    request_digest: str
    created_at: str
    created_by: str
    queued: bool = False
    expanded: bool = False
    pages: int = 0
    counts: CampaignCounts = CampaignCounts()


def _count(value: Any) -> int:
    return int(value) if value is not None else 0


def _campaign(row: CampaignModel) -> StoredCampaign:
    return StoredCampaign(
        campaign_id=row.campaign_id,
        name=row.name,
        segment_id=row.segment_id,
        channels=tuple(str(c) for c in row.channels or ()),
        subject=row.subject,
        body=row.body,
        request_digest=row.request_digest,
        created_at=row.created_at,
        created_by=row.created_by,
        queued=bool(row.queued),
        expanded=bool(row.expanded),
        pages=_count(row.pages),
        counts=CampaignCounts(
            recipients=_count(row.recipients),
            sent=_count(row.sent),
            skipped=_count(row.skipped),
            done=_count(row.done),
            orders=_count(row.orders),
            revenue=_count(row.revenue),
        ),
    )


def _campaign_row(campaign_id: str) -> CampaignModel:
    return CampaignModel(keys.campaign_pk(campaign_id), keys.CAMPAIGN_SK)


def create_campaign(campaign: StoredCampaign) -> StoredCampaign:
    """Store a new campaign, or return the one that already has its id (a retried request)."""
    item = CampaignModel(
        keys.campaign_pk(campaign.campaign_id),
        keys.CAMPAIGN_SK,
        campaign_id=campaign.campaign_id,
        name=campaign.name,
        segment_id=campaign.segment_id,
        channels=list(campaign.channels),
        subject=campaign.subject,
        body=campaign.body,
        request_digest=campaign.request_digest,
        created_at=campaign.created_at,
        created_by=campaign.created_by,
        queued=False,
        expanded=False,
        pages=0,
        gsi1pk=keys.CAMPAIGNS_GSI1PK,
        gsi1sk=f"{campaign.created_at}#{campaign.campaign_id}",
    )
    if kit.applied(lambda: item.save(condition=CampaignModel.pk.does_not_exist())):
        return campaign
    existing = load_campaign(campaign.campaign_id)
    if existing is None:  # pragma: no cover - campaigns are never deleted
        raise RuntimeError(f"campaign {campaign.campaign_id} vanished")
    return existing


def load_campaign(campaign_id: str) -> StoredCampaign | None:
    try:
        row = CampaignModel.get(
            keys.campaign_pk(campaign_id), keys.CAMPAIGN_SK, consistent_read=True
        )
    except CampaignModel.DoesNotExist:
        return None
    return _campaign(row)


def campaigns_page(
    limit: int, start_key: dict[str, Any] | None
) -> tuple[list[StoredCampaign], dict[str, Any] | None]:
    """A page of campaigns, newest first."""
    rows, last = _newest_first(CampaignModel, keys.CAMPAIGNS_GSI1PK, limit, start_key)
    return [_campaign(row) for row in rows], last


def mark_queued(campaign_id: str) -> None:
    """The campaign's first expansion is on the queue (a retried request need not send it)."""
    _campaign_row(campaign_id).update(actions=[CampaignModel.queued.set(True)])


def finish_page(campaign_id: str, page: int, *, last: bool) -> bool:
    """Page ``page`` of the segment was expanded: the next one may go (``last``: it was the
    final page). False when it was finished before (a redelivered expansion)."""
    actions: list[Action] = [CampaignModel.pages.set(page + 1)]
    if last:
        actions.append(CampaignModel.expanded.set(True))
    return kit.applied(
        lambda: _campaign_row(campaign_id).update(
            actions=actions, condition=CampaignModel.pages == page
        )
    )


def add_recipients(campaign_id: str, customer_ids: Sequence[str]) -> list[str]:
    """Make each customer a recipient of the campaign once, counting them in ``recipients``
    in the same transaction; returns those added now (the others were recipients already)."""
    pending = list(dict.fromkeys(customer_ids))
    added: list[str] = []
    while pending:
        chunk, pending = pending[: MAX_ITEMS - 1], pending[MAX_ITEMS - 1 :]
        added += _add_chunk(campaign_id, chunk)
    return added


def _add_chunk(campaign_id: str, members: list[str]) -> list[str]:
    remaining = list(members)
    while remaining:
        tx = LabelledTransaction()
        for customer_id in remaining:
            item = RecipientModel(
                keys.campaign_pk(campaign_id),
                keys.member_sk(customer_id),
                campaign_id=campaign_id,
                customer_id=customer_id,
                gsi1pk=keys.member_gsi1pk(customer_id),
                gsi1sk=keys.epoch_sk(0, campaign_id),
            )
            tx.put(f"member:{customer_id}", item, RecipientModel.pk.does_not_exist())
        tx.update(
            _CAMPAIGN,
            _campaign_row(campaign_id),
            [CampaignModel.recipients.add(len(remaining))],
            CampaignModel.pk.exists(),
        )
        failures = tx.commit()
        if not failures:
            return remaining
        if any(f.label == _CAMPAIGN for f in failures):
            raise RuntimeError(f"campaign {campaign_id} does not exist")
        known = {f.label.removeprefix("member:") for f in failures}
        remaining = [m for m in remaining if m not in known]
    return []


@dataclass(frozen=True)
class Recipient:
    campaign_id: str
    customer_id: str
    channels: Mapping[str, str]
    done: bool
    sent_at: int | None


def load_recipient(campaign_id: str, customer_id: str) -> Recipient | None:
    try:
        row = RecipientModel.get(
            keys.campaign_pk(campaign_id), keys.member_sk(customer_id), consistent_read=True
        )
    except RecipientModel.DoesNotExist:
        return None
    channels = {
        name: str(value)
        for name in ("email", "sms", "push")
        if (value := getattr(row, f"channel_{name}")) is not None
    }
    return Recipient(
        campaign_id=campaign_id,
        customer_id=customer_id,
        channels=channels,
        done=bool(row.done),
        sent_at=int(row.sent_at) if row.sent_at is not None else None,
    )


def finish_recipient(
    campaign_id: str, customer_id: str, outcomes: Mapping[str, str], *, now: int
) -> bool:
    """Record what each chosen channel came to for this member (``sent`` | ``skipped``) and
    count it, once: False when the member was finished before (a redelivered message)."""
    sent = sum(1 for outcome in outcomes.values() if outcome == "sent")
    skipped = len(outcomes) - sent
    actions: list[Action] = [RecipientModel.done.set(True)]
    for channel, outcome in outcomes.items():
        actions.append(getattr(RecipientModel, f"channel_{channel}").set(outcome))
    if sent:
        actions += [
            RecipientModel.sent_at.set(now),
            RecipientModel.gsi1sk.set(keys.epoch_sk(now, campaign_id)),
        ]
    tx = LabelledTransaction()
    tx.update(
        "recipient",
        RecipientModel(keys.campaign_pk(campaign_id), keys.member_sk(customer_id)),
        actions,
        RecipientModel.pk.exists() & RecipientModel.done.does_not_exist(),
    )
    tx.update(
        _CAMPAIGN,
        _campaign_row(campaign_id),
        [
            CampaignModel.sent.add(sent),
            CampaignModel.skipped.add(skipped),
            CampaignModel.done.add(1),
        ],
        CampaignModel.pk.exists(),
    )
    return not tx.commit()
