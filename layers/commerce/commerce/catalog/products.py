"""Product use cases: create (staff), read (public, and staff who also see archived ones)."""

from __future__ import annotations

import uuid

from aws_lambda_powertools.metrics import MetricUnit

from commerce.catalog import categories
from commerce.catalog.schemas import CreateProductIn, ProductOut
from commerce.catalog.search import search_index
from commerce.catalog.views import products_out
from commerce.clock import now_iso
from commerce.domain.money import Money
from commerce.domain.product import NewProduct, SkuSpec, is_valid_product_id, normalise_tags
from commerce.errors import NotFound
from commerce.http.auth import Caller
from commerce.observability import logger, metrics
from commerce.store import products
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
        category_id=body.category_id,
        tags=normalise_tags(body.tags),
    )


def reindex(product: StoredProduct) -> None:
    """Bring the search index in step after the product's own write. A failure is logged, not
    raised: the product is written, and its next change (or a reindex) catches the index up."""
    try:
        search_index().index(product)
    except Exception:  # the write it follows has already happened
        logger.exception("search index not updated", extra={"product_id": product.product_id})


def create_product(body: CreateProductIn, caller: Caller) -> ProductOut:
    """Create a product with its SKUs and opening stock; 409 if a SKU is taken."""
    product_id = uuid.uuid4().hex
    new = _to_domain(body)
    path = categories.resolve(new.category_id)
    products.create(product_id, new, actor=caller.actor(), at=now_iso(), category_path=path)
    metrics.add_metric(name="ProductCreated", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="SkusCreated", unit=MetricUnit.Count, value=len(new.skus))
    logger.info("product created", extra={"product_id": product_id, "skus": len(new.skus)})
    stored = load(product_id, consistent=True)
    reindex(stored)
    return products_out([stored], consistent=True)[0]


def load(product_id: str, *, consistent: bool = False) -> StoredProduct:
    """The product in any status; ids this catalog could not have issued are not found."""
    stored = (
        products.get(product_id, consistent=consistent) if is_valid_product_id(product_id) else None
    )
    if stored is None:
        raise NotFound("No such product")
    return stored


def load_active(product_id: str, *, consistent: bool = False) -> StoredProduct:
    """The product if the storefront shows it: an archived one is not found."""
    stored = load(product_id, consistent=consistent)
    if not stored.is_active:
        raise NotFound("No such product")
    return stored


def get_product(product_id: str, *, consistent: bool = False) -> ProductOut:
    """``GET /products/{id}``: one active product."""
    return products_out([load_active(product_id, consistent=consistent)], consistent=consistent)[0]


def get_any_product(product_id: str) -> ProductOut:
    """``GET /admin/products/{id}``: one product in any status (staff)."""
    return products_out([load(product_id, consistent=True)], consistent=True)[0]
