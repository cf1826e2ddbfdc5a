"""A stored product as clients see it: SKUs with their price and stock now (the price of a live
flash sale, with its terms), images to read, the rating."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from commerce.catalog.schemas import ImageOut, ProductOut, RatingOut, SkuFlashSaleOut, SkuOut
from commerce.clock import iso
from commerce.http.schemas import money_out
from commerce.store import images, inventory
from commerce.store import products as catalog
from commerce.store.inventory import SkuStock
from commerce.store.products import SkuOffer, StoredImage, StoredProduct, StoredSku


def image_out(image: StoredImage) -> ImageOut:
    return ImageOut(url=images.read_url(image.key), alt=image.alt, image_id=image.image_id)


def flash_sale_on(offer: SkuOffer | None) -> SkuFlashSaleOut | None:
    """The terms of the flash sale live in ``offer``, as a SKU shows them; None without one."""
    sale = offer.flash_sale if offer is not None else None
    if offer is None or sale is None:
        return None
    return SkuFlashSaleOut(
        flash_sale_id=sale.sale_id,
        price=money_out(offer.price),
        regular_price=money_out(offer.regular_price or offer.price),
        ends_at=iso(sale.ends_at),
        per_customer_limit=sale.per_customer_limit,
    )


def sku_out(sku: StoredSku, stock: SkuStock | None, offer: SkuOffer | None) -> SkuOut:
    """A SKU at the price a shopper pays now (``offer``'s; the product's copy without one)."""
    return SkuOut(
        sku=sku.sku,
        price=money_out(offer.price if offer is not None else sku.price),
        available=stock.level.available if stock is not None else 0,
        attributes=dict(sku.attributes),
        flash_sale=flash_sale_on(offer),
    )


def product_out(
    product: StoredProduct,
    stock: Mapping[str, SkuStock],
    offers: Mapping[str, SkuOffer] | None = None,
) -> ProductOut:
    priced = offers or {}
    return ProductOut(
        product_id=product.product_id,
        name=product.name,
        description=product.description,
        skus=[sku_out(s, stock.get(s.sku), priced.get(s.sku)) for s in product.skus],
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
    """Products with each SKU's current availability (``stock`` if already read) and price:
    the SKU records are read for it (``store.products.offers``, one BatchGetItem per 100
    SKUs), so a live flash sale's price is what the product shows."""
    known = stock if stock is not None else stock_of(products, consistent=consistent)
    priced = catalog.offers([s.sku for p in products for s in p.skus], consistent=consistent)
    return [product_out(p, known, priced) for p in products]
