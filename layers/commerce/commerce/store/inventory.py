"""Inventory storage: stock shards, SKU meta, the ledger, adjustments, resharding, low stock.

Every change to stock is one transaction whose conditions state the invariant on the stored
``available`` (``on_hand - reserved``) of each shard it touches. A plan may be made from a read,
but the write never trusts that read: a shard that changed in between fails its condition, the
transaction writes nothing, and the plan is made again from a fresh read (a bounded number of
times). Moves between shards are relative (``on_hand = on_hand - :moved``), so totals stay
exact whatever else lands on a shard meanwhile.

Layout (keys.py): shard rows pk=STOCK#{sku}#{nn}, sk=STOCK (on_hand, reserved, available); the
SKU meta pk=SKU#{sku}, sk=META (shard_count, safety_stock, low_stock, low_stock_crossings);
ledger rows pk=LEDGER#{sku}; Idempotency-Key markers pk=ADJUSTMENT#{sku}#{digest}.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final

from commerce import clock
from commerce.domain.inventory import (
    DEFAULT_SHARD_COUNT,
    Reshard,
    ReshardRefusal,
    Shortfall,
    StockLevel,
    plan_adjustment,
    plan_reshard,
    shard_ids,
    total,
)
from commerce.errors import Conflict, IdempotencyKeyReuse, NotFound, TooManyRequests
from commerce.store import batch_reads, keys, kit
from commerce.store.tables.inventory import (
    AdjustmentMarkerModel,
    LedgerEntryModel,
    SkuMetaModel,
    StockShardModel,
)
from commerce.store.transactions import LabelledTransaction

#: How long an Idempotency-Key marker is kept before TTL may tidy it away.
MARKER_TTL_SECONDS: Final = 7 * 24 * 3600
INITIAL_STOCK_REASON: Final = "initial stock"
#: Plans made afresh after a shard changed under them, before giving up with 429.
PLAN_ATTEMPTS: Final = 6
#: The first pause's ceiling before a plan is made again (each later one may double).
_REPLAN_BACKOFF_SECONDS: Final = 0.01


@dataclass(frozen=True)
class SkuStock:
    """A SKU's stock summed over its shards, with the meta that governs it."""

    sku: str
    level: StockLevel
    safety_stock: int
    shard_count: int
    low_stock: bool = False


@dataclass(frozen=True)
class SkuShards:
    """One SKU's meta and each shard's level, in shard order (a consistent read, usually)."""

    sku: str
    shard_count: int
    safety_stock: int
    low_stock: bool
    levels: tuple[StockLevel, ...]
    #: False when only some shards were read (``hold_stock_from``): the levels of the others
    #: show nothing, so a plan that finds too little must read them all before it refuses.
    complete: bool = True

    @property
    def level(self) -> StockLevel:
        return total(self.levels)


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
    """Each SKU's shard levels in shard order; a missing row reads as an empty shard."""
    counts = {meta.sku: int(meta.shard_count) for meta in metas}
    wanted = [
        (keys.stock_pk(sku, shard), keys.STOCK_SK)
        for sku, count in counts.items()
        for shard in shard_ids(count)
    ]
    levels = {sku: [StockLevel(0, 0)] * max(1, count) for sku, count in counts.items()}
    for row in StockShardModel.batch_get(wanted, consistent_read=consistent):
        shard = int(row.shard)
        if row.sku in levels and shard < len(levels[row.sku]):
            levels[row.sku][shard] = StockLevel(int(row.on_hand), int(row.reserved))
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
            low_stock=bool(meta.low_stock),
        )
        for sku, meta in metas.items()
    }


#: The shard count last seen per SKU, so that a SKU's meta and every shard are read in one
#: batch (the count is in the meta). A count only grows (a SKU gains shards, never loses them);
#: a read that finds more shards than it asked for reads the rest and remembers the new count.
_shard_counts: dict[str, int] = {}
_REMEMBERED: Final = 4096


def _remember(sku: str, count: int) -> None:
    if len(_shard_counts) >= _REMEMBERED:
        _shard_counts.clear()
    _shard_counts[sku] = count


def _meta_key(sku: str) -> batch_reads.Key[SkuMetaModel]:
    return batch_reads.Key(SkuMetaModel, keys.sku_pk(sku), keys.META_SK)


def _shard_key(sku: str, shard: int) -> batch_reads.Key[StockShardModel]:
    return batch_reads.Key(StockShardModel, keys.stock_pk(sku, shard), keys.STOCK_SK)


def stock_keys(sku: str) -> list[batch_reads.Key[SkuMetaModel] | batch_reads.Key[StockShardModel]]:
    """The keys of the SKU's meta and of each shard it had when last seen: what
    :func:`shards_from` needs, for a caller that reads them in its own batch."""
    count = _shard_counts.get(sku, DEFAULT_SHARD_COUNT)
    return [_meta_key(sku), *(_shard_key(sku, shard) for shard in shard_ids(count))]


def shards_from(sku: str, found: batch_reads.Found, *, consistent: bool = True) -> SkuShards | None:
    """The SKU's stock from a batch that read :func:`stock_keys` (shards it did not know of yet
    are read now); None for a SKU with no inventory."""
    meta = found.get(_meta_key(sku))
    if meta is None:
        return None
    count = int(meta.shard_count)
    asked = _shard_counts.get(sku, DEFAULT_SHARD_COUNT)
    _remember(sku, count)
    if count > asked:
        more = [_shard_key(sku, shard) for shard in range(asked, count)]
        found = found.merged(batch_reads.read(more, consistent=consistent))
    levels = [StockLevel(0, 0)] * max(1, count)
    for shard in shard_ids(count):
        row = found.get(_shard_key(sku, shard))
        if row is not None:
            levels[shard] = StockLevel(int(row.on_hand), int(row.reserved))
    return SkuShards(
        sku=sku,
        shard_count=count,
        safety_stock=int(meta.safety_stock),
        low_stock=bool(meta.low_stock),
        levels=tuple(levels),
    )


# --- The hot path's read: one shard, the meta from the last second ----------------------------

#: How long a hot path believes a SKU's meta (shard count, safety stock, low-stock flag)
#: without reading it again: every buyer of a hot SKU would otherwise read that one key, and
#: DynamoDB caps the reads of a key at 3,000 units a second whatever the shard count.
META_SECONDS: Final = 1.0


@dataclass(frozen=True)
class _Meta:
    seen: float
    shard_count: int
    safety_stock: int
    low_stock: bool


_metas_seen: dict[str, _Meta] = {}


def known_shard_count(sku: str) -> int:
    """The SKU's shard count as last seen here (the default before any read)."""
    return _shard_counts.get(sku, DEFAULT_SHARD_COUNT)


def _fresh_meta(sku: str) -> _Meta | None:
    meta = _metas_seen.get(sku)
    if meta is None or time.monotonic() - meta.seen > META_SECONDS:
        return None
    return meta


def hold_keys(
    sku: str, shard: int
) -> list[batch_reads.Key[SkuMetaModel] | batch_reads.Key[StockShardModel]]:
    """What a hold reads of the SKU's stock: shard ``shard`` alone (the one its cart prefers),
    and the meta unless it was read in the last second. So the reads of a hot SKU spread over
    its shards as its writes do."""
    wanted: list[batch_reads.Key[SkuMetaModel] | batch_reads.Key[StockShardModel]] = [
        _shard_key(sku, shard)
    ]
    if _fresh_meta(sku) is None:
        wanted.append(_meta_key(sku))
    return wanted


def hold_stock_from(sku: str, found: batch_reads.Found, shard: int) -> SkuShards | None:
    """The SKU's stock as a batch that read :func:`hold_keys` shows it (``complete`` False
    unless that shard is the only one); None for a SKU with no inventory."""
    row = found.get(_meta_key(sku))
    if row is not None:
        _remember(sku, int(row.shard_count))
        if len(_metas_seen) >= _REMEMBERED:
            _metas_seen.clear()
        _metas_seen[sku] = _Meta(
            time.monotonic(), int(row.shard_count), int(row.safety_stock), bool(row.low_stock)
        )
    meta = _fresh_meta(sku) if row is None else _metas_seen[sku]
    if meta is None:
        return None
    count = meta.shard_count
    levels = [StockLevel(0, 0)] * max(1, count)
    read = found.get(_shard_key(sku, shard))
    if read is not None and shard < len(levels):
        levels[shard] = StockLevel(int(read.on_hand), int(read.reserved))
    return SkuShards(
        sku=sku,
        shard_count=count,
        safety_stock=meta.safety_stock,
        low_stock=meta.low_stock,
        levels=tuple(levels),
        complete=count <= 1 and shard == 0,
    )


def forget_seen() -> None:
    """Forget every count and meta seen (a new instance knows none; tests start each case so)."""
    _shard_counts.clear()
    _metas_seen.clear()


def read_shards(sku: str, *, consistent: bool = True) -> SkuShards:
    """The SKU's meta and per-shard levels (one batch read while the shard count is known);
    NotFound for a SKU with no inventory."""
    shards = shards_from(sku, batch_reads.read(stock_keys(sku), consistent=consistent))
    if shards is None:
        raise NotFound(f"No inventory for SKU {sku}")
    return shards


def read_levels(sku: str, *, consistent: bool = True) -> tuple[int, list[StockLevel]]:
    """``(shard_count, levels)`` with ``levels[i]`` the level of shard ``i``.

    For planners such as ``commerce.domain.reservations.plan_set``; NotFound for an unknown SKU.
    """
    shards = read_shards(sku, consistent=consistent)
    return shards.shard_count, list(shards.levels)


def _shard_row(sku: str, shard: int) -> StockShardModel:
    return StockShardModel(keys.stock_pk(sku, shard), keys.STOCK_SK)


def _add_on_hand(tx: LabelledTransaction, sku: str, shard: int, delta: int) -> None:
    """On-hand (and so available) of an existing shard moves by ``delta``; a removal carries the
    invariant as its condition: ``on_hand + delta >= reserved  <=>  available >= -delta``."""
    condition = StockShardModel.pk.exists()
    if delta < 0:
        condition = condition & (StockShardModel.available >= -delta)
    tx.update(
        f"stock:{shard}",
        _shard_row(sku, shard),
        [
            StockShardModel.on_hand.set(StockShardModel.on_hand + delta),
            StockShardModel.available.set(StockShardModel.available + delta),
        ],
        condition,
    )


def _fingerprint(delta: int, reason: str) -> str:
    return json.dumps([delta, reason], separators=(",", ":"), ensure_ascii=False)


def _replay(
    sku: str, delta: int, reason: str, idempotency_key: str, fingerprint: str | None = None
) -> Outcome | None:
    """REPLAYED if the key was already applied to this change; reuse with another change is
    IdempotencyKeyReuse; None when the key is new."""
    if fingerprint is None:
        try:
            stored = AdjustmentMarkerModel.get(
                keys.adjustment_marker_pk(sku, keys.adjustment_key_digest(sku, idempotency_key)),
                keys.IDEMPOTENCY_SK,
                consistent_read=True,
            )
        except AdjustmentMarkerModel.DoesNotExist:
            return None
        fingerprint = stored.fingerprint
    if fingerprint != _fingerprint(delta, reason):
        raise IdempotencyKeyReuse(
            "This Idempotency-Key was already used for a different adjustment"
        )
    return Outcome.REPLAYED


def _shortfall(sku: str, delta: int, available: int) -> Conflict:
    return Conflict(
        f"Adjusting {sku} by {delta} would take on-hand stock below reserved stock; "
        f"at most {available} can be removed",
        available=available,
    )


def adjust(
    sku: str,
    delta: int,
    *,
    reason: str,
    actor: str,
    at: str,
    idempotency_key: str | None = None,
) -> Outcome:
    """Add ``delta`` to the SKU's on-hand stock over its shards and ledger it, atomically.

    The change is planned over the shards (``plan_adjustment``) and written as one transaction:
    each touched shard with its own condition, the ledger entry, and the Idempotency-Key marker.
    A shard that changed since the read fails its condition; the plan is then made again.

    Raises NotFound for an unknown SKU, Conflict (with ``available``, the SKU's total) when the
    change would take on-hand below reserved, IdempotencyKeyReuse when the key was used for a
    different change, TooManyRequests when the shards keep changing under every plan. A retry
    with the same key and change returns REPLAYED and changes nothing.
    """
    entry_id = keys.adjustment_key_digest(sku, idempotency_key) if idempotency_key else None
    entry_id = entry_id or uuid.uuid4().hex

    def attempt(_: int) -> Outcome | kit.Retry:
        shards = read_shards(sku, consistent=True)
        plan = plan_adjustment(shards.levels, delta)
        if isinstance(plan, Shortfall):
            # A retry of a removal that was applied must replay, not turn into a 409.
            if idempotency_key is not None:
                replayed = _replay(sku, delta, reason, idempotency_key)
                if replayed is not None:
                    return replayed
            raise _shortfall(sku, delta, plan.available)
        tx = LabelledTransaction()
        for shard, change in enumerate(plan):
            if change:
                _add_on_hand(tx, sku, shard, change)
        if idempotency_key is not None:
            marker = AdjustmentMarkerModel(
                keys.adjustment_marker_pk(sku, entry_id),
                keys.IDEMPOTENCY_SK,
                entry_id=entry_id,
                fingerprint=_fingerprint(delta, reason),
                ttl=clock.now() + MARKER_TTL_SECONDS,
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
        by_label = {f.label: f for f in failures if f.code == kit.CONDITION_FAILED}
        marker_failure = by_label.get("marker")
        if marker_failure is not None and idempotency_key is not None:
            stored = ((marker_failure.item or {}).get("fingerprint") or {}).get("S")
            replayed = _replay(sku, delta, reason, idempotency_key, stored)
            if replayed is not None:
                return replayed
        if not any(label.startswith("stock:") for label in by_label):
            raise RuntimeError(f"adjustment cancelled: {[(f.label, f.code) for f in failures]}")
        return kit.RETRY  # a shard changed under the plan: plan again from a fresh read

    return kit.retry_on_conflict(
        attempt,
        give_up=lambda: TooManyRequests(
            1, f"Stock of {sku} is changing too fast to adjust; retry shortly"
        ),
        attempts=PLAN_ATTEMPTS,
        base_seconds=_REPLAN_BACKOFF_SECONDS,
    )


# --- Resharding --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resharded:
    """What a change of shard count did (``from_count == to_count``: nothing to do)."""

    sku: str
    from_count: int
    to_count: int


def _reshard_transaction(sku: str, shards: SkuShards, plan: Reshard) -> LabelledTransaction:
    tx = LabelledTransaction()
    tx.update(
        "meta",
        _meta_row(sku),
        [SkuMetaModel.shard_count.set(plan.to_count)],
        SkuMetaModel.shard_count == plan.from_count,  # optimistic: nobody resharded meanwhile
    )
    for shard, change in enumerate(plan.deltas):
        if shard in plan.created:
            row = StockShardModel(
                keys.stock_pk(sku, shard),
                keys.STOCK_SK,
                sku=sku,
                shard=shard,
                on_hand=change,
                reserved=0,
                available=change,
            )
            tx.put(f"stock:{shard}", row, StockShardModel.pk.does_not_exist())
        elif shard in plan.removed:
            # Deleted only as read: nothing reserved (no hold points here) and exactly the
            # on-hand stock the plan moves away, so no unit is lost.
            tx.delete(
                f"stock:{shard}",
                _shard_row(sku, shard),
                (StockShardModel.reserved == 0)
                & (StockShardModel.on_hand == shards.levels[shard].on_hand),
            )
        elif change:
            _add_on_hand(tx, sku, shard, change)
    return tx


def _refusal(sku: str, refusal: ReshardRefusal) -> Conflict:
    named = ", ".join(str(shard) for shard in refusal.shards)
    return Conflict(
        f"Cannot remove shard(s) {named} of {sku}: they hold {refusal.reserved} reserved "
        "unit(s) for carts; retry once those holds are released or expire",
        reserved=refusal.reserved,
        shards=list(refusal.shards),
    )


def set_shard_count(sku: str, count: int) -> Resharded:
    """Split (or merge) the SKU's stock over ``count`` shards, spreading available evenly.

    One transaction: the meta's shard_count (conditioned on the count read), new shard rows
    (attribute_not_exists), removed rows (conditioned on ``reserved = 0`` and the on-hand read),
    and relative on-hand moves on the kept shards (each source conditioned on
    ``available >= moved``). Totals never change. Raises NotFound, Conflict when a shard to
    remove holds reserved units, TooManyRequests when reservations keep changing the shards.
    """

    def attempt(_: int) -> Resharded | kit.Retry:
        shards = read_shards(sku, consistent=True)
        if shards.shard_count == count:
            return Resharded(sku, count, count)
        plan = plan_reshard(shards.levels, count)
        if isinstance(plan, ReshardRefusal):
            raise _refusal(sku, plan)
        if _reshard_transaction(sku, shards, plan).commit():
            return kit.RETRY  # reservations moved the shards, or someone resharded meanwhile
        return Resharded(sku, plan.from_count, plan.to_count)

    return kit.retry_on_conflict(
        attempt,
        give_up=lambda: TooManyRequests(
            1, f"Stock of {sku} is changing too fast to reshard; retry shortly"
        ),
        attempts=PLAN_ATTEMPTS,
        base_seconds=_REPLAN_BACKOFF_SECONDS,
    )


# --- Safety stock and the low-stock flag --------------------------------------------------------


def _meta_row(sku: str) -> SkuMetaModel:
    """The meta's row, to write: what this instance saw of it is forgotten first."""
    _metas_seen.pop(sku, None)
    return SkuMetaModel(keys.sku_pk(sku), keys.META_SK)


def set_safety_stock(sku: str, safety_stock: int) -> None:
    """Set the SKU's safety stock; NotFound for an unknown SKU."""
    if not kit.applied(
        lambda: _meta_row(sku).update(
            [SkuMetaModel.safety_stock.set(safety_stock)], condition=SkuMetaModel.pk.exists()
        )
    ):
        raise NotFound(f"No inventory for SKU {sku}")


def flag_low_stock(sku: str) -> int | None:
    """Raise the SKU's low-stock flag; the crossing's number if this call raised it, else None.

    Conditional on the flag being down, so of any number of concurrent callers exactly one
    wins a crossing, and only the winner should publish its event.
    """
    meta = _meta_row(sku)
    raised = kit.applied(
        lambda: meta.update(
            [
                SkuMetaModel.low_stock.set(True),
                SkuMetaModel.low_stock_crossings.set((SkuMetaModel.low_stock_crossings | 0) + 1),
            ],
            condition=SkuMetaModel.pk.exists()
            & (SkuMetaModel.low_stock.does_not_exist() | (SkuMetaModel.low_stock != True)),  # noqa: E712
        )
    )
    return int(meta.low_stock_crossings) if raised else None


def clear_low_stock(sku: str) -> bool:
    """Lower the flag; True if this call lowered it (the SKU recovered)."""
    return kit.applied(
        lambda: _meta_row(sku).update(
            [SkuMetaModel.low_stock.set(False)],
            condition=SkuMetaModel.low_stock == True,  # noqa: E712
        )
    )


def unflag_low_stock(sku: str, crossing: int) -> None:
    """Undo ``flag_low_stock`` whose event could not be published, so a later check retries
    the same crossing (same number, so the same event id) instead of losing it."""
    kit.applied(
        lambda: _meta_row(sku).update(
            [
                SkuMetaModel.low_stock.set(False),
                SkuMetaModel.low_stock_crossings.set(crossing - 1),
            ],
            condition=(SkuMetaModel.low_stock == True)  # noqa: E712
            & (SkuMetaModel.low_stock_crossings == crossing),
        )
    )


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
