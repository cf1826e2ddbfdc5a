"""Inventory storage: stock shards, SKU meta, the ledger, and conditional adjustments.

Every change to stock is one transaction whose condition states the invariant on the stored
``available`` (``on_hand - reserved``), never a read followed by a write.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from commerce.domain.inventory import (
    DEFAULT_SHARD_COUNT,
    StockLevel,
    adjustment_shard,
    shard_ids,
    total,
)
from commerce.errors import Conflict, IdempotencyKeyReuse, NotFound
from commerce.store import keys
from commerce.store.models import (
    AdjustmentMarkerModel,
    LedgerEntryModel,
    SkuMetaModel,
    StockShardModel,
)
from commerce.store.transactions import CONDITION_FAILED, Failure, LabelledTransaction

#: How long an Idempotency-Key marker is kept before TTL may tidy it away.
MARKER_TTL_SECONDS: Final = 7 * 24 * 3600
INITIAL_STOCK_REASON: Final = "initial stock"


@dataclass(frozen=True)
class SkuStock:
    """A SKU's stock summed over its shards, with the meta that governs it."""

    sku: str
    level: StockLevel
    safety_stock: int
    shard_count: int


@dataclass(frozen=True)
class LedgerEntry:
    """One recorded change of on-hand stock."""

    sku: str
    entry_id: str
    delta: int
    reason: str
    actor: str
    at: str
    idempotency_key: str | None


class Outcome(Enum):
    """What an adjustment request did."""

    APPLIED = "applied"
    REPLAYED = "replayed"  # the same Idempotency-Key was already applied; nothing changed


def add_new_sku(
    tx: LabelledTransaction,
    *,
    sku: str,
    product_id: str,
    stock: int,
    safety_stock: int,
    actor: str,
    at: str,
) -> None:
    """Add a new SKU's stock rows, meta and opening ledger entry to ``tx``.

    Each put is conditional on the row not existing, so stock is never overwritten even if the
    catalog's SKU record were missing.
    """
    for shard in shard_ids(DEFAULT_SHARD_COUNT):
        on_hand = stock if shard == 0 else 0
        row = StockShardModel(
            keys.stock_pk(sku, shard),
            keys.STOCK_SK,
            sku=sku,
            shard=shard,
            on_hand=on_hand,
            reserved=0,
            available=on_hand,
        )
        tx.put(f"stock:{sku}", row, StockShardModel.pk.does_not_exist())
    meta = SkuMetaModel(
        keys.sku_pk(sku),
        keys.META_SK,
        sku=sku,
        product_id=product_id,
        safety_stock=safety_stock,
        shard_count=DEFAULT_SHARD_COUNT,
    )
    tx.put(f"meta:{sku}", meta, SkuMetaModel.pk.does_not_exist())
    entry_id = uuid.uuid4().hex
    entry = LedgerEntryModel(
        keys.ledger_pk(sku),
        keys.ledger_sk(at, entry_id),
        sku=sku,
        entry_id=entry_id,
        delta=stock,
        reason=INITIAL_STOCK_REASON,
        actor=actor,
        at=at,
    )
    tx.put(f"ledger:{sku}", entry, LedgerEntryModel.pk.does_not_exist())


def _metas(skus: Sequence[str], consistent: bool) -> dict[str, SkuMetaModel]:
    found = SkuMetaModel.batch_get(
        [(keys.sku_pk(sku), keys.META_SK) for sku in dict.fromkeys(skus)],
        consistent_read=consistent,
    )
    return {meta.sku: meta for meta in found}


def _shards(metas: Iterable[SkuMetaModel], consistent: bool) -> dict[str, list[StockLevel]]:
    wanted = [
        (keys.stock_pk(meta.sku, shard), keys.STOCK_SK)
        for meta in metas
        for shard in shard_ids(int(meta.shard_count))
    ]
    levels: dict[str, list[StockLevel]] = {}
    for row in StockShardModel.batch_get(wanted, consistent_read=consistent):
        levels.setdefault(row.sku, []).append(StockLevel(int(row.on_hand), int(row.reserved)))
    return levels


def read_stock(skus: Sequence[str], *, consistent: bool = False) -> dict[str, SkuStock]:
    """Stock of each known SKU in ``skus``, summed over its shards (two batched reads)."""
    if not skus:
        return {}
    metas = _metas(skus, consistent)
    shards = _shards(metas.values(), consistent)
    return {
        sku: SkuStock(
            sku=sku,
            level=total(shards.get(sku, [])),
            safety_stock=int(meta.safety_stock),
            shard_count=int(meta.shard_count),
        )
        for sku, meta in metas.items()
    }


def _fingerprint(delta: int, reason: str) -> str:
    return json.dumps([delta, reason], separators=(",", ":"), ensure_ascii=False)


def _number(item: dict[str, Any] | None, name: str) -> int | None:
    value = (item or {}).get(name)
    if isinstance(value, dict) and "N" in value:
        return int(value["N"])
    return None


def adjust(
    sku: str,
    delta: int,
    *,
    reason: str,
    actor: str,
    at: str,
    idempotency_key: str | None = None,
) -> Outcome:
    """Add ``delta`` to the SKU's on-hand stock and record it in the ledger, atomically.

    Raises NotFound for an unknown SKU, Conflict when the change would take on-hand below
    reserved, IdempotencyKeyReuse when the key was used for a different change. A retry with
    the same key and change returns REPLAYED and changes nothing.
    """
    shard = adjustment_shard(DEFAULT_SHARD_COUNT)
    entry_id = uuid.uuid4().hex
    tx = LabelledTransaction()
    condition = StockShardModel.pk.exists()
    if delta < 0:
        # on_hand + delta >= reserved  <=>  available >= -delta
        condition = condition & (StockShardModel.available >= -delta)
    row = StockShardModel(keys.stock_pk(sku, shard), keys.STOCK_SK)
    tx.update(
        "stock",
        row,
        [
            StockShardModel.on_hand.set(StockShardModel.on_hand + delta),
            StockShardModel.available.set(StockShardModel.available + delta),
        ],
        condition,
        old_image=True,
    )
    if idempotency_key is not None:
        digest = keys.adjustment_key_digest(sku, idempotency_key)
        entry_id = digest
        marker = AdjustmentMarkerModel(
            keys.adjustment_marker_pk(sku, digest),
            keys.IDEMPOTENCY_SK,
            entry_id=entry_id,
            fingerprint=_fingerprint(delta, reason),
            ttl=int(time.time()) + MARKER_TTL_SECONDS,
        )
        tx.put("marker", marker, AdjustmentMarkerModel.pk.does_not_exist(), old_image=True)
    entry = LedgerEntryModel(
        keys.ledger_pk(sku),
        keys.ledger_sk(at, entry_id),
        sku=sku,
        entry_id=entry_id,
        delta=delta,
        reason=reason,
        actor=actor,
        at=at,
        idempotency_key=idempotency_key,
    )
    tx.put("ledger", entry, LedgerEntryModel.pk.does_not_exist())
    failures = tx.commit()
    if not failures:
        return Outcome.APPLIED
    return _explain(sku, delta, reason, idempotency_key, failures)


def _explain(
    sku: str, delta: int, reason: str, idempotency_key: str | None, failures: list[Failure]
) -> Outcome:
    by_label = {f.label: f for f in failures if f.code == CONDITION_FAILED}
    marker = by_label.get("marker")
    if marker is not None and idempotency_key is not None:
        fingerprint = ((marker.item or {}).get("fingerprint") or {}).get("S")
        if fingerprint is None:
            stored = AdjustmentMarkerModel.get(
                keys.adjustment_marker_pk(sku, keys.adjustment_key_digest(sku, idempotency_key)),
                keys.IDEMPOTENCY_SK,
                consistent_read=True,
            )
            fingerprint = stored.fingerprint
        if fingerprint != _fingerprint(delta, reason):
            raise IdempotencyKeyReuse(
                "This Idempotency-Key was already used for a different adjustment"
            )
        return Outcome.REPLAYED
    stock = by_label.get("stock")
    if stock is not None:
        available = _number(stock.item, "available")
        if available is None:
            # No old image came back: either the row does not exist, or the engine does not
            # return images for transactions. A consistent read tells which.
            available = _current_available(sku)
        raise Conflict(
            f"Adjusting {sku} by {delta} would take on-hand stock below reserved stock; "
            f"at most {available} can be removed",
            available=available,
        )
    raise RuntimeError(f"adjustment cancelled: {[(f.label, f.code) for f in failures]}")


def _current_available(sku: str) -> int:
    try:
        row = StockShardModel.get(
            keys.stock_pk(sku, adjustment_shard(DEFAULT_SHARD_COUNT)),
            keys.STOCK_SK,
            consistent_read=True,
        )
    except StockShardModel.DoesNotExist as error:
        raise NotFound(f"No inventory for SKU {sku}") from error
    return int(row.available)


def ledger(sku: str, *, limit: int = 100) -> list[LedgerEntry]:
    """The SKU's most recent ledger entries, newest first."""
    rows = LedgerEntryModel.query(
        keys.ledger_pk(sku), scan_index_forward=False, limit=limit, consistent_read=True
    )
    return [
        LedgerEntry(
            sku=row.sku,
            entry_id=row.entry_id,
            delta=int(row.delta),
            reason=row.reason,
            actor=row.actor,
            at=row.at,
            idempotency_key=row.idempotency_key,
        )
        for row in rows
    ]
