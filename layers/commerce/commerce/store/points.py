"""Points storage (Customers table): one balance item per customer and a ledger entry per change.

- ``pk=CUSTOMER#{sub}, sk=POINTS``: ``balance`` and ``version``.
- ``pk=CUSTOMER#{sub}, sk=POINTS#{at}#{digest(entry.key)}``: one ``LedgerEntry`` (``delta``,
  ``reason``, ``order_id``, ``ref``, ``at``, ``customer_id``).

Every change writes both in one transaction: the balance moves by the entry's delta (a debit
conditioned on ``balance >= debit``, so it never goes below zero) and the entry is put only if
that entry is not there yet, so a retried write of the same change (same reason, order, ref and
time) changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from pynamodb.expressions.condition import Condition

from commerce import clock
from commerce.domain.points import LedgerEntry, PointsReason
from commerce.store import keys
from commerce.store.kit import CONDITION_FAILED
from commerce.store.tables.customers import PointsBalanceModel, PointsEntryModel
from commerce.store.transactions import LabelledTransaction

BALANCE_LABEL: Final = "points"
ENTRY_LABEL: Final = "points_entry"


def _iso(at: int) -> str:
    return clock.iso(at)


def balance_of(sub: str) -> int:
    """The customer's balance (0 before their first change)."""
    try:
        row = PointsBalanceModel.get(keys.customer_pk(sub), keys.POINTS_SK, consistent_read=True)
    except PointsBalanceModel.DoesNotExist:
        return 0
    return int(row.balance or 0)


def record(tx: LabelledTransaction, sub: str, entry: LedgerEntry) -> None:
    """Add to ``tx``: the balance moves by ``entry.delta`` (a debit only while the balance
    covers it: label ``points``) and the entry is written once (label ``points_entry``)."""
    condition: Condition | None = None
    if entry.delta < 0:
        condition = PointsBalanceModel.balance >= -entry.delta
    tx.update(
        BALANCE_LABEL,
        PointsBalanceModel(keys.customer_pk(sub), keys.POINTS_SK),
        [
            PointsBalanceModel.balance.add(entry.delta),
            PointsBalanceModel.version.add(1),
            PointsBalanceModel.customer_id.set(sub),
        ],
        condition,
    )
    at = _iso(entry.at)
    row = PointsEntryModel(
        keys.customer_pk(sub),
        keys.points_entry_sk(at, entry.key),
        customer_id=sub,
        delta=entry.delta,
        reason=entry.reason.value,
        order_id=entry.order_id,
        ref=entry.ref,
        at=at,
        entry_key=entry.key,
    )
    tx.put(ENTRY_LABEL, row, PointsEntryModel.sk.does_not_exist())


def record_once(sub: str, entry: LedgerEntry) -> bool:
    """Write one change on its own; False when this very entry was already written."""
    tx = LabelledTransaction()
    record(tx, sub, entry)
    failures = tx.commit()
    if not failures:
        return True
    if any(f.label == ENTRY_LABEL and f.code == CONDITION_FAILED for f in failures):
        return False
    raise RuntimeError(f"points change refused: {[(f.label, f.code) for f in failures]}")


@dataclass(frozen=True)
class StoredEntry:
    """A ledger entry as stored."""

    delta: int
    reason: PointsReason
    order_id: str | None
    ref: str | None
    at: str


def ledger(sub: str) -> list[StoredEntry]:
    """The customer's ledger, oldest first."""
    rows = PointsEntryModel.query(
        keys.customer_pk(sub),
        PointsEntryModel.sk.startswith(keys.POINTS_ENTRY_SK_PREFIX),
        consistent_read=True,
    )
    return [_stored(r) for r in rows]


def _stored(row: PointsEntryModel) -> StoredEntry:
    return StoredEntry(int(row.delta), PointsReason(row.reason), row.order_id, row.ref, row.at)


#: The attributes DynamoDB returns as the last key of a ledger query (for page tokens).
LEDGER_PAGE_KEYS: Final = ("pk", "sk")


@dataclass(frozen=True)
class LedgerPage:
    """One page of a ledger, newest first; ``last_key`` starts the next page."""

    entries: tuple[StoredEntry, ...]
    last_key: dict[str, Any] | None


def ledger_page(sub: str, limit: int, start: dict[str, Any] | None) -> LedgerPage:
    """Up to ``limit`` ledger entries of the customer from ``start`` on, newest first."""
    result = PointsEntryModel.query(
        keys.customer_pk(sub),
        PointsEntryModel.sk.startswith(keys.POINTS_ENTRY_SK_PREFIX),
        scan_index_forward=False,
        consistent_read=True,
        limit=limit,
        last_evaluated_key=start,
        page_size=limit,
    )
    return LedgerPage(tuple(_stored(r) for r in result), result.last_evaluated_key)
