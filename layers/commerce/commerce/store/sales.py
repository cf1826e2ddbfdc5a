"""The ``sold`` counters: units paid for, less units returned, moved once per order event.

An order event (paid, cancelled after payment, a return received) moves a product's ``sold`` in
one transaction, and reads nothing when the caller knows the product's lists (from its SKU
record): a marker item ``SALE#{order_id}#{event}`` in the product's partition (it must not
exist yet, so a redelivered or retried event moves nothing the second time); the product's
counter (``ADD``: sales of the same product commute), conditioned on the product still being in
the lists the count assumed; and the ``lsold`` sort key of each of those lists' entries. An edit
that moved the product to other lists meanwhile makes the transaction fail, and the count reads
the product and tries again. An edit never writes ``lsold`` of an entry that exists; one that
puts a new entry puts it with the ``sold`` it read and is conditioned on it, so the two never
overwrite each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Final

from pynamodb.expressions.condition import Condition

from commerce.observability import logger
from commerce.store import keys, kit, products
from commerce.store.kit import CONDITION_FAILED
from commerce.store.tables.catalog import ListingEntryModel, ProductModel, SaleMarkerModel
from commerce.store.transactions import LabelledTransaction

_MARKER: Final = "marker"
#: Transactions one count may take while edits move the product between lists (each commit
#: already retries collisions with other transactions); then the caller's retry takes over.
ATTEMPTS: Final = 3


class Counted(Enum):
    APPLIED = "applied"
    ALREADY = "already"  # this event moved the counter before
    NO_PRODUCT = "no_product"


def count(
    product_id: str,
    order_id: str,
    event: str,
    units: int,
    *,
    at: str,
    lists: Sequence[str] | None = None,
) -> Counted:
    """Move ``product_id``'s sold count by ``units`` (negative to take back) for ``event`` of
    ``order_id``, at most once.

    ``lists`` are the product's lists as its SKU record has them: the first attempt trusts
    them and reads nothing (a sale on the payment path should cost one transaction); a later
    attempt reads the product, which an edit may have moved meanwhile."""

    def attempt(n: int) -> Counted | kit.Retry:
        partitions = lists or None  # an active product is in a list at least: () says unknown
        if n or partitions is None:
            product = products.get(product_id, consistent=True)
            if product is None:
                return Counted.NO_PRODUCT
            partitions = product.partitions
        listed: Condition = ProductModel.lists == list(partitions)
        if n == ATTEMPTS - 1:
            # Its entries still do not match its lists (a product whose entries are missing):
            # count the product itself, never fail the order for the index; its next edit
            # writes the entries again from the product's count.
            logger.warning("sold counted without its lists", extra={"product_id": product_id})
            partitions, listed = (), ProductModel.pk.exists()
        tx = LabelledTransaction()
        marker = SaleMarkerModel(
            keys.product_pk(product_id),
            keys.sale_sk(order_id, event),
            order_id=order_id,
            event=event,
            units=units,
            at=at,
        )
        tx.put(_MARKER, marker, SaleMarkerModel.pk.does_not_exist())
        tx.update(
            "product",
            ProductModel(keys.product_pk(product_id), keys.PRODUCT_SK),
            [ProductModel.sold.add(units)],
            ProductModel.pk.exists() & listed,
        )
        for pk, sk in products.entry_keys(product_id, partitions):
            tx.update(
                f"entry:{sk}",
                ListingEntryModel(pk, sk),
                [ListingEntryModel.lsold.add(units)],
                ListingEntryModel.pk.exists(),
            )
        failures = tx.commit()
        if not failures:
            return Counted.APPLIED
        refused = {f.label for f in failures if f.code == CONDITION_FAILED}
        if _MARKER in refused:
            return Counted.ALREADY
        if refused:
            return kit.RETRY  # gone, archived or moved to other lists since the lists were read
        raise RuntimeError(f"sale count refused: {[(f.label, f.code) for f in failures]}")

    def give_up() -> Exception:
        return RuntimeError(f"sold count of {product_id} kept changing under {order_id}")

    return kit.retry_on_conflict(attempt, give_up=give_up, attempts=ATTEMPTS)
