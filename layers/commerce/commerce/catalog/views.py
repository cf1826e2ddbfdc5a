"""A stored product as clients see it: SKUs with their stock now, images to read, the rating."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from commerce.catalog.schemas import ImageOut, ProductOut, RatingOut, SkuOut
from commerce.http.schemas import money_out
from commerce.store import images, inventory
from commerce.store.inventory import SkuStock
from commerce.store.products import StoredImage, StoredProduct


def image_out(image: StoredImage) -> ImageOut:
    return ImageOut(url=images.read_url(image.key), alt=image.alt, image_id=image.image_id)


def product_out(product: StoredProduct, stock: Mapping[str, SkuStock]) -> ProductOut:
    return ProductOut(
        product_id=product.product_id,
        name=product.name,
        description=product.description,
        skus=[
            SkuOut(
                sku=s.sku,
                price=money_out(s.price),
                available=stock[s.sku].level.available if s.sku in stock else 0,
                attributes=dict(s.attributes),
            )
            for s in product.skus
        ],
        category_id=product.category_id,
        tags=list(product.tags),
        status=product.status.value,
        images=[image_out(i) for i in product.images],
        rating=RatingOut(average=product.rating.average, count=product.rating.count),
        sold=product.sold,
        created_at=product.created_at,
        updated_at=product.updated_at,
    )


def stock_of(products: Sequence[StoredProduct], *, consistent: bool = False) -> dict[str, SkuStock]:
    """Every SKU's stock of ``products`` (one batched read for all)."""
    return inventory.read_stock([s.sku for p in products for s in p.skus], consistent=consistent)


def products_out(
    products: Sequence[StoredProduct],
    *,
    consistent: bool = False,
    stock: Mapping[str, SkuStock] | None = None,
) -> list[ProductOut]:
    """Products with each SKU's current availability (``stock`` if already read)."""
    known = stock if stock is not None else stock_of(products, consistent=consistent)
    return [product_out(p, known) for p in products]
