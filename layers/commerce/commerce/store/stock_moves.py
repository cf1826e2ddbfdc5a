"""A stock shard's four moves inside a transaction: the only place their expressions are written.

A hold takes units and gives them back (:func:`take`, :func:`release`), an order's payment makes
held units leave stock (:func:`deduct`) and a cancellation or a return brings committed units
back (:func:`restock`). Each is one update with the condition that keeps the shard's books
(``available = on_hand - reserved``, none below zero). They sit apart from the holds and the
orders that use them, so a function that only reads orders (notifications, analytics) loads
no cart, catalog or hold code to get at the order store.
"""

from __future__ import annotations

from typing import Final

from commerce.store import keys
from commerce.store.tables.inventory import StockShardModel
from commerce.store.transactions import LabelledTransaction

#: The label a shard's update gets in its transaction unless the caller names it.
SHARD_LABEL: Final = "shard:"


def shard_of(label: str) -> int | None:
    """The shard a default-labelled update in a transaction touched, or None for any other
    label (a caller's own, the line's, the cart's)."""
    if not label.startswith(SHARD_LABEL):
        return None
    return int(label[len(SHARD_LABEL) :])


def _shard_row(sku: str, shard: int) -> StockShardModel:
    return StockShardModel(keys.stock_pk(sku, shard), keys.STOCK_SK)


def take(
    tx: LabelledTransaction, sku: str, shard: int, units: int, *, label: str | None = None
) -> None:
    """Hold ``units`` of a shard: reserved += d, available -= d, if available >= d.

    ``label`` names the item in ``tx`` (default ``shard:{n}``; give one per SKU when a
    transaction touches several SKUs, so a failure says which).
    """
    tx.update(
        label or f"{SHARD_LABEL}{shard}",
        _shard_row(sku, shard),
        [
            StockShardModel.reserved.set(StockShardModel.reserved + units),
            StockShardModel.available.set(StockShardModel.available - units),
        ],
        StockShardModel.available >= units,
    )


def release(
    tx: LabelledTransaction, sku: str, shard: int, units: int, *, label: str | None = None
) -> None:
    """Release ``units`` held on a shard: reserved -= d, available += d, if reserved >= d."""
    tx.update(
        label or f"{SHARD_LABEL}{shard}",
        _shard_row(sku, shard),
        [
            StockShardModel.reserved.set(StockShardModel.reserved - units),
            StockShardModel.available.set(StockShardModel.available + units),
        ],
        StockShardModel.reserved >= units,
    )


def deduct(
    tx: LabelledTransaction, sku: str, shard: int, units: int, *, label: str | None = None
) -> None:
    """Held units leave stock (an order was paid): on_hand -= d, reserved -= d, if reserved >= d.

    ``available`` (on_hand - reserved) is unchanged: the units were already unavailable.
    """
    tx.update(
        label or f"{SHARD_LABEL}{shard}",
        _shard_row(sku, shard),
        [
            StockShardModel.on_hand.set(StockShardModel.on_hand - units),
            StockShardModel.reserved.set(StockShardModel.reserved - units),
        ],
        StockShardModel.reserved >= units,
    )


def restock(
    tx: LabelledTransaction, sku: str, shard: int, units: int, *, label: str | None = None
) -> None:
    """Committed units come back to stock (a paid order cancelled, a return received):
    on_hand += d, available += d, on a shard that exists."""
    tx.update(
        label or f"{SHARD_LABEL}{shard}",
        _shard_row(sku, shard),
        [
            StockShardModel.on_hand.set(StockShardModel.on_hand + units),
            StockShardModel.available.set(StockShardModel.available + units),
        ],
        StockShardModel.pk.exists(),
    )
