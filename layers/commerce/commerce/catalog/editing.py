"""Editing a product and its SKUs (ops): each change is one transaction, decided on a fresh read.

``PATCH /admin/products/{id}`` changes the name, description, category, tags or status;
``PATCH /admin/products/{id}/skus/{sku}`` a SKU's price or attributes. Either way the product
is read, the change decided, and ``store.products.save`` writes the product, its listing entries,
its SKU records (what carts read: the current price, and whether the product is still sold) and,
for a price, the ledger entry (who, when, old, new) in one transaction conditioned on the
product being as read; a sale or another edit in between makes it read again (a few times, then
429). Archiving takes the product out of every list and the search index; orders already placed
keep their own copy of what they bought.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Final

from aws_lambda_powertools.metrics import MetricUnit

from commerce.catalog import categories
from commerce.catalog.products import load, reindex
from commerce.catalog.schemas import (
    PatchProductIn,
    PatchSkuIn,
    PriceChangeOut,
    PriceHistoryOut,
    ProductOut,
)
from commerce.catalog.views import products_out
from commerce.clock import now_iso
from commerce.domain.money import Money
from commerce.domain.product import ProductStatus, is_valid_sku, normalise_tags
from commerce.errors import NotFound, TooManyRequests
from commerce.http.auth import Caller
from commerce.http.schemas import money_out
from commerce.observability import logger, metrics
from commerce.store import kit, products
from commerce.store.products import PriceChange, StoredProduct, StoredSku

#: Reads an edit may take while sales or other edits keep changing the product.
ATTEMPTS: Final = 5

#: Decides an edit on the product as read: the product after it, and its price changes.
Decide = Callable[[StoredProduct], tuple[StoredProduct, list[PriceChange]]]


def _busy() -> TooManyRequests:
    return TooManyRequests(1, "This product is being changed concurrently; retry shortly")


def _edited(
    before: StoredProduct, body: PatchProductIn, path: tuple[str, ...] | None
) -> StoredProduct:
    sent = body.model_fields_set
    after = before
    if body.name is not None:
        after = replace(after, name=body.name)
    if body.description is not None:
        after = replace(after, description=body.description)
    if "category_id" in sent and path is not None:
        after = replace(after, category_id=body.category_id, category_path=path)
    if body.tags is not None:
        after = replace(after, tags=normalise_tags(body.tags))
    if body.status is not None:
        after = replace(after, status=ProductStatus(body.status))
    return after


def _searchable(product: StoredProduct) -> tuple[object, ...]:
    return (product.name, product.description, product.tags, product.status)


def commit(product_id: str, caller: Caller, decide: Decide) -> tuple[StoredProduct, StoredProduct]:
    """Read, decide, save; again on a fresh read when the product changed. (before, after)."""

    def attempt(_: int) -> tuple[StoredProduct, StoredProduct] | kit.Retry:
        before = load(product_id, consistent=True)
        after, changes = decide(before)
        if after == before:
            return before, before
        at = now_iso()
        written = products.save(
            before,
            replace(after, updated_at=at),
            actor=caller.actor(),
            at=at,
            price_changes=changes,
            change_id=uuid.uuid4().hex[:12],
        )
        return (before, written) if written is not None else kit.RETRY

    return kit.retry_on_conflict(attempt, give_up=_busy, attempts=ATTEMPTS)


def patch_product(product_id: str, body: PatchProductIn, caller: Caller) -> ProductOut:
    """Change what was sent of the product; 400 for an unknown category, 404 for no product."""
    path = None
    if "category_id" in body.model_fields_set:
        path = categories.resolve(body.category_id)

    def decide(before: StoredProduct) -> tuple[StoredProduct, list[PriceChange]]:
        return _edited(before, body, path), []

    before, after = commit(product_id, caller, decide)
    if _searchable(before) != _searchable(after):
        reindex(after)
    if before.status is not after.status:
        metrics.add_metric(
            name="ProductArchived" if not after.is_active else "ProductRestored",
            unit=MetricUnit.Count,
            value=1,
        )
    if before != after:
        metrics.add_metric(name="ProductEdited", unit=MetricUnit.Count, value=1)
        logger.info(
            "product edited",
            extra={
                "product_id": product_id,
                "fields": sorted(body.model_fields_set),
                "actor": caller.actor(),
            },
        )
    return products_out([after], consistent=True)[0]


def _known_sku(product: StoredProduct, sku: str) -> StoredSku:
    found = product.sku(sku) if is_valid_sku(sku) else None
    if found is None:
        raise NotFound(f"The product has no SKU {sku[:64]}")
    return found


def patch_sku(product_id: str, sku: str, body: PatchSkuIn, caller: Caller) -> ProductOut:
    """Change a SKU's price (ledgered) or attributes; carts and checkout use the new price."""

    def decide(before: StoredProduct) -> tuple[StoredProduct, list[PriceChange]]:
        old = _known_sku(before, sku)
        new = old
        if body.price is not None:
            new = replace(new, price=Money(body.price.amount, body.price.currency))
        if body.attributes is not None:
            new = replace(new, attributes=dict(body.attributes))
        skus = tuple(new if s.sku == sku else s for s in before.skus)
        changes = [PriceChange(sku, old.price, new.price)] if new.price != old.price else []
        return replace(before, skus=skus), changes

    before, after = commit(product_id, caller, decide)
    old_price = _known_sku(before, sku).price
    new_price = _known_sku(after, sku).price
    if old_price != new_price:
        metrics.add_metric(name="PriceChanged", unit=MetricUnit.Count, value=1)
        logger.info(
            "price changed",
            extra={
                "product_id": product_id,
                "sku": sku,
                "old": old_price.amount,
                "new": new_price.amount,
                "actor": caller.actor(),
            },
        )
    return products_out([after], consistent=True)[0]


def price_history(product_id: str, sku: str) -> PriceHistoryOut:
    """A SKU's price changes, newest first (the last 100)."""
    _known_sku(load(product_id), sku)
    return PriceHistoryOut(
        items=[
            PriceChangeOut(
                sku=entry.sku,
                old=money_out(entry.old),
                new=money_out(entry.new),
                actor=entry.actor,
                at=entry.at,
            )
            for entry in products.price_history(sku)
        ]
    )
