"""Product use cases: create (staff), read and list (public)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from aws_lambda_powertools.metrics import MetricUnit

from commerce.catalog.schemas import (
    CreateProductIn,
    ProductOut,
    ProductPageOut,
    SkuOut,
)
from commerce.clock import now_iso
from commerce.domain.money import Money
from commerce.domain.product import NewProduct, SkuSpec, is_valid_product_id
from commerce.errors import FieldError, NotFound, ValidationFailed
from commerce.http.auth import Caller
from commerce.http.pagination import decode_page_token, encode_page_token, page_size
from commerce.http.schemas import money_out
from commerce.observability import logger, metrics
from commerce.settings import get_settings
from commerce.store import inventory, products
from commerce.store.products import StoredProduct


def _to_domain(body: CreateProductIn) -> NewProduct:
    return NewProduct(
        name=body.name,
        description=body.description,
        skus=tuple(
            SkuSpec(
                sku=s.sku,
                price=Money(s.price.amount, s.price.currency),
                stock=s.stock,
                safety_stock=s.safety_stock,
                attributes=dict(s.attributes),
            )
            for s in body.skus
        ),
    )


def _views(stored: Sequence[StoredProduct], *, consistent: bool = False) -> list[ProductOut]:
    """Products with each SKU's current availability (one batched stock read for all)."""
    stock = inventory.read_stock([s.sku for p in stored for s in p.skus], consistent=consistent)
    return [
        ProductOut(
            product_id=p.product_id,
            name=p.name,
            description=p.description,
            skus=[
                SkuOut(
                    sku=s.sku,
                    price=money_out(s.price),
                    available=stock[s.sku].level.available if s.sku in stock else 0,
                    attributes=dict(s.attributes),
                )
                for s in p.skus
            ],
            created_at=p.created_at,
            updated_at=p.updated_at,
        )
        for p in stored
    ]


def create_product(body: CreateProductIn, caller: Caller) -> ProductOut:
    """Create a product with its SKUs and opening stock; 409 if a SKU is taken."""
    product_id = uuid.uuid4().hex
    new = _to_domain(body)
    products.create(product_id, new, actor=caller.actor(), at=now_iso())
    metrics.add_metric(name="ProductCreated", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="SkusCreated", unit=MetricUnit.Count, value=len(new.skus))
    logger.info("product created", extra={"product_id": product_id, "skus": len(new.skus)})
    return get_product(product_id, consistent=True)


def get_product(product_id: str, *, consistent: bool = False) -> ProductOut:
    """One product by id; ids this catalog could not have issued are simply not found."""
    stored = (
        products.get(product_id, consistent=consistent) if is_valid_product_id(product_id) else None
    )
    if stored is None:
        raise NotFound("No such product")
    return _views([stored], consistent=consistent)[0]


def list_products(limit: int | None, next_token: str | None) -> ProductPageOut:
    """A page of products, newest first."""
    settings = get_settings()
    size = page_size(limit, settings.default_page_size, settings.max_page_size)
    start_key = decode_page_token(next_token, products.PAGE_KEY_NAMES)
    if start_key is not None and not products.is_product_page_key(start_key):
        raise ValidationFailed([FieldError("next_token", "Invalid or expired page token")])
    page, next_key = products.list_page(size, start_key)
    return ProductPageOut(items=_views(page), next_token=encode_page_token(next_key))
