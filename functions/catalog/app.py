"""CatalogFunction: browsing, search and reviews for everyone; products, categories, prices,
images and review moderation for staff (API.md, catalog)."""

from __future__ import annotations

from commerce.cold_start import init_done

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from commerce.catalog import categories, editing, flash_sales, images, listing, products, reviews
from commerce.catalog.flash_sale_schemas import (
    FlashSaleDetailOut,
    FlashSaleIn,
    FlashSaleOut,
    FlashSalePageOut,
)
from commerce.catalog.review_schemas import ReviewIn, ReviewOut, ReviewPageOut, ReviewStatusIn
from commerce.catalog.schemas import (
    CategoryIn,
    CategoryOut,
    CategoryTreeOut,
    CreateProductIn,
    ImageIn,
    ImageUploadOut,
    PatchProductIn,
    PatchSkuIn,
    PriceHistoryOut,
    ProductOut,
    ProductPageOut,
)
from commerce.domain.listing import Sort
from commerce.domain.money import MAX_AMOUNT
from commerce.domain.product import SKU_PATTERN
from commerce.domain.search import QUERY_MAX
from commerce.http.api import install, lambda_entrypoint
from commerce.http.docs import responses
from commerce.http.params import Authorized, PageLimit, PageToken

app = APIGatewayRestResolver(enable_validation=True)

_TAGS = ["catalog"]
_REVIEW_TAGS = ["catalog", "reviews"]
ProductId = Annotated[str, Path(description="Product id")]
SkuCode = Annotated[str, Path(description="SKU code")]
_SALE_TAGS = ["catalog", "flash sales"]
Amount = Annotated[int | None, Query(ge=0, le=MAX_AMOUNT, description="Minor units (fen)")]


@app.get(
    "/products",
    summary="List and search products",
    description=(
        "Active products with each SKU's available stock, newest first unless `sort` says "
        "otherwise; archived products never appear. Filters combine: `category_id` (a "
        "top-level category includes its children), `tag`, `min_price`/`max_price` (any SKU "
        "in range, minor units), `in_stock=true`, and `q` (words of the name, description or "
        "tags; Chinese is matched by character pairs, so `q=连衣裙` finds 夏季显瘦连衣裙). With "
        "`q` and no `sort`, results rank by how much of the query they hold. A request reads a "
        "bounded number of entries: with selective filters a page may hold fewer than `limit` "
        "items (even none) and still carry a `next_token`; only its absence ends the list. "
        "Public."
    ),
    tags=_TAGS,
    responses=responses(200, ProductPageOut, "A page of products", 400),
)
def list_products(
    limit: PageLimit = None,
    next_token: PageToken = None,
    category_id: Annotated[str | None, Query(max_length=64, description="A category's id")] = None,
    tag: Annotated[
        str | None, Query(max_length=200, description="A tag (at most 40 characters)")
    ] = None,
    q: Annotated[
        str | None, Query(max_length=QUERY_MAX, description="Search words, any language")
    ] = None,
    min_price: Amount = None,
    max_price: Amount = None,
    in_stock: Annotated[
        bool, Query(description="Only products with a SKU that can be bought now")
    ] = False,
    sort: Annotated[
        Literal["newest", "price_asc", "price_desc", "best_selling"] | None,
        Query(description="Order; price sorts use each product's lowest SKU price"),
    ] = None,
) -> ProductPageOut:
    query = listing.ListingQuery(
        category_id=category_id,
        tag=tag,
        q=q,
        min_price=min_price,
        max_price=max_price,
        in_stock=in_stock,
        sort=Sort(sort) if sort else None,
    )
    return listing.list_products(query, limit, next_token)


@app.get(
    "/products/<product_id>",
    summary="Get a product",
    description=(
        "One active product with its SKUs, prices, available stock, images, rating and units "
        "sold. An archived product is 404. Public."
    ),
    tags=_TAGS,
    responses=responses(200, ProductOut, "The product", 404),
)
def get_product(product_id: ProductId) -> ProductOut:
    return products.get_product(product_id)


@app.post(
    "/admin/products",
    status_code=201,
    summary="Create a product",
    description=(
        "Creates a product with its SKUs and their opening stock in one step, optionally filed "
        "in a category and tagged. SKU codes are unique across the catalog (409). An unknown "
        "category is 400. Role: ops (or admin)."
    ),
    tags=_TAGS,
    responses=responses(201, ProductOut, "The new product", 400, 401, 403, 409),
)
def create_product(body: CreateProductIn, caller: Authorized) -> ProductOut:
    return products.create_product(body, caller)


@app.get(
    "/admin/products/<product_id>",
    summary="Get a product in any status",
    description="One product, archived ones included. Roles: ops, support (or admin).",
    tags=_TAGS,
    responses=responses(200, ProductOut, "The product", 401, 403, 404),
)
def get_any_product(product_id: ProductId, caller: Authorized) -> ProductOut:
    del caller
    return products.get_any_product(product_id)


@app.patch(
    "/admin/products/<product_id>",
    summary="Edit or archive a product",
    description=(
        "Changes only the fields sent: name, description, category_id (null takes the "
        "product out of its category), tags, status. Archiving hides the product from the "
        "storefront and refuses its SKUs in carts (409); orders already placed keep what they "
        "bought; `active` restores it. An unknown category is 400. Role: ops (or admin)."
    ),
    tags=_TAGS,
    responses=responses(200, ProductOut, "The product as changed", 400, 401, 403, 404, 429),
)
def patch_product(product_id: ProductId, body: PatchProductIn, caller: Authorized) -> ProductOut:
    return editing.patch_product(product_id, body, caller)


@app.patch(
    "/admin/products/<product_id>/skus/<sku>",
    summary="Change a SKU's price or attributes",
    description=(
        "A price change is one conditional write with its ledger entry (who, when, old, new: "
        "GET .../prices); carts and checkout use the new price from then on. `attributes` "
        "replaces the SKU's attributes whole. Role: ops (or admin)."
    ),
    tags=_TAGS,
    responses=responses(200, ProductOut, "The product as changed", 400, 401, 403, 404, 429),
)
def patch_sku(
    product_id: ProductId, sku: SkuCode, body: PatchSkuIn, caller: Authorized
) -> ProductOut:
    return editing.patch_sku(product_id, sku, body, caller)


@app.get(
    "/admin/products/<product_id>/skus/<sku>/prices",
    summary="A SKU's price history",
    description="Every price change of the SKU, newest first (the last 100). Role: ops.",
    tags=_TAGS,
    responses=responses(200, PriceHistoryOut, "The price changes", 401, 403, 404),
)
def price_history(product_id: ProductId, sku: SkuCode, caller: Authorized) -> PriceHistoryOut:
    del caller
    return editing.price_history(product_id, sku)


@app.post(
    "/admin/products/<product_id>/images",
    status_code=201,
    summary="Add an image",
    description=(
        "Records an image of the product and returns a presigned S3 PUT for its bytes (valid "
        "15 minutes; send the same Content-Type). Types: image/jpeg, image/png, image/webp "
        "(anything else is 400). At most 10 images (409). Role: ops (or admin)."
    ),
    tags=_TAGS,
    responses=responses(201, ImageUploadOut, "Where to upload", 400, 401, 403, 404, 409),
)
def add_image(product_id: ProductId, body: ImageIn, caller: Authorized) -> ImageUploadOut:
    return images.add_image(product_id, body, caller)


@app.delete(
    "/admin/products/<product_id>/images/<image_id>",
    summary="Remove an image",
    description="Takes the image off the product and deletes its bytes. Role: ops (or admin).",
    tags=_TAGS,
    responses=responses(200, ProductOut, "The product without it", 401, 403, 404),
)
def delete_image(
    product_id: ProductId,
    image_id: Annotated[str, Path(description="Image id")],
    caller: Authorized,
) -> ProductOut:
    return images.delete_image(product_id, image_id, caller)


@app.post(
    "/admin/categories",
    status_code=201,
    summary="Create a category",
    description=(
        "A top-level category, or with `parent_id` the child of a top-level one: two levels at "
        "most (a parent that has a parent is 409). An unknown parent is 400; a name taken by a "
        "sibling is 409. Role: ops (or admin)."
    ),
    tags=_TAGS,
    responses=responses(201, CategoryOut, "The new category", 400, 401, 403, 409),
)
def create_category(body: CategoryIn, caller: Authorized) -> CategoryOut:
    return categories.create_category(body, caller)


@app.get(
    "/categories",
    summary="The category tree",
    description="Every category, two levels, each level by name. Public.",
    tags=_TAGS,
    responses=responses(200, CategoryTreeOut, "The tree"),
)
def category_tree() -> CategoryTreeOut:
    return categories.category_tree()


@app.post(
    "/products/<product_id>/reviews",
    status_code=201,
    summary="Review a product",
    description=(
        "A customer who received the product in a delivered order reviews it, once: anyone "
        "else is 403, a second review 409. Published at once; it counts in the product's "
        "rating while published."
    ),
    tags=_REVIEW_TAGS,
    responses=responses(201, ReviewOut, "The review", 400, 401, 403, 404, 409),
)
def post_review(product_id: ProductId, body: ReviewIn, caller: Authorized) -> ReviewOut:
    return reviews.post_review(product_id, body, caller)


@app.get(
    "/products/<product_id>/reviews",
    summary="A product's reviews",
    description="The published reviews of an active product, newest first. Public.",
    tags=_REVIEW_TAGS,
    responses=responses(200, ReviewPageOut, "A page of reviews", 400, 404),
)
def list_reviews(
    product_id: ProductId, limit: PageLimit = None, next_token: PageToken = None
) -> ReviewPageOut:
    return reviews.list_reviews(product_id, limit, next_token)


@app.patch(
    "/admin/reviews/<review_id>",
    summary="Hide or restore a review",
    description=(
        "`hidden` takes the review out of the list and the rating; `published` puts it back. "
        "Setting the status it has changes nothing. Role: ops (or admin)."
    ),
    tags=_REVIEW_TAGS,
    responses=responses(200, ReviewOut, "The review", 400, 401, 403, 404, 429),
)
def moderate_review(
    review_id: Annotated[str, Path(description="Review id")],
    body: ReviewStatusIn,
    caller: Authorized,
) -> ReviewOut:
    return reviews.moderate(review_id, body, caller)


@app.post(
    "/admin/flash-sales",
    status_code=201,
    summary="Schedule a flash sale",
    description=(
        "A sale price for one SKU over `[starts_at, ends_at)`, with a per-customer limit (限购). "
        "While it is live the SKU's price is the sale price everywhere (product views, carts, "
        "checkout), and a customer may hold and buy at most `per_customer_limit` units across "
        "all their carts and orders of the sale. 400 naming the field: an unknown SKU, "
        "`ends_at` not after `starts_at` (or already past), `starts_at` more than 5 minutes "
        "past, a price not below the SKU's current price, a limit below 1. 409: the window "
        "overlaps another sale of the SKU (`flash_sale_id` names it), the SKU already has 20 "
        "sales to come, or its product is archived. Role: ops (or admin)."
    ),
    tags=_SALE_TAGS,
    responses=responses(201, FlashSaleOut, "The sale", 400, 401, 403, 409, 429),
)
def create_flash_sale(body: FlashSaleIn, caller: Authorized) -> FlashSaleOut:
    return flash_sales.create_sale(body, caller)


@app.get(
    "/flash-sales/<flash_sale_id>",
    summary="Get a flash sale",
    description=(
        "The sale, its status now (`scheduled`, `live`, `ended`) and the SKU's available "
        "stock. Public."
    ),
    tags=_SALE_TAGS,
    responses=responses(200, FlashSaleDetailOut, "The sale", 404),
)
def get_flash_sale(
    flash_sale_id: Annotated[str, Path(description="Flash sale id")],
) -> FlashSaleDetailOut:
    return flash_sales.get_sale(flash_sale_id)


@app.get(
    "/admin/flash-sales",
    summary="A SKU's flash sales",
    description="Every sale of the SKU, ended ones too, latest start first. Role: ops (or admin).",
    tags=_SALE_TAGS,
    responses=responses(200, FlashSalePageOut, "A page of sales", 400, 401, 403),
)
def list_flash_sales(
    sku: Annotated[str, Query(pattern=SKU_PATTERN, description="The SKU's code")],
    caller: Authorized,
    limit: PageLimit = None,
    next_token: PageToken = None,
) -> FlashSalePageOut:
    del caller
    return flash_sales.list_sales(sku, limit, next_token)


install(app)
lambda_handler = lambda_entrypoint(app)


init_done()
