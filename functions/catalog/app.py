"""CatalogFunction: public product browsing and staff product creation (API.md, catalog)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Path
from commerce.catalog import products
from commerce.catalog.schemas import CreateProductIn, ProductOut, ProductPageOut
from commerce.http.api import install, lambda_entrypoint
from commerce.http.docs import responses
from commerce.http.params import Authorized, PageLimit, PageToken

app = APIGatewayRestResolver(enable_validation=True)

_TAGS = ["catalog"]


@app.get(
    "/products",
    summary="List products",
    description="Every product, newest first, with each SKU's available stock. Public.",
    tags=_TAGS,
    responses=responses(200, ProductPageOut, "A page of products", 400),
)
def list_products(
    limit: PageLimit = None,
    next_token: PageToken = None,
) -> ProductPageOut:
    return products.list_products(limit, next_token)


@app.get(
    "/products/<product_id>",
    summary="Get a product",
    description="One product with its SKUs, prices and available stock. Public.",
    tags=_TAGS,
    responses=responses(200, ProductOut, "The product", 404),
)
def get_product(product_id: Annotated[str, Path(description="Product id")]) -> ProductOut:
    return products.get_product(product_id)


@app.post(
    "/admin/products",
    status_code=201,
    summary="Create a product",
    description=(
        "Creates a product with its SKUs and their opening stock in one step. SKU codes are "
        "unique across the catalog. Role: ops (or admin)."
    ),
    tags=_TAGS,
    responses=responses(201, ProductOut, "The new product", 400, 401, 403, 409),
)
def create_product(body: CreateProductIn, caller: Authorized) -> ProductOut:
    return products.create_product(body, caller)


install(app)
lambda_handler = lambda_entrypoint(app)
