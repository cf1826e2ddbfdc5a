"""Helpers of the catalog tests: the catalog handler called as the gateway would, with products,
categories and reviews made through it, and the images bucket on moto built from the template.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
from orders_world import ROOT, Reply, event, invoke

from infra.local.resources import CreatedResources, create_buckets
from infra.local.template import Resolver, load_template

TEMPLATE = load_template(ROOT / "template.yaml")
_SKUS = itertools.count(1)


def make_bucket() -> str:
    """The template's images bucket in moto; its name."""
    from commerce.store import images

    created = CreatedResources()
    create_buckets(Resolver(TEMPLATE), boto3.client("s3", region_name="us-east-1"), created)
    images._s3.cache_clear()
    return created.buckets["ImagesBucket"]


def new_sku(prefix: str = "SKU") -> str:
    return f"{prefix}-{next(_SKUS):05d}"


def money(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "CNY"}


class Catalog:
    """The catalog handler, as ``who`` (None: anonymous)."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def call(
        self,
        sample: str,
        *,
        who: str | None = "ops",
        body: Any = None,
        params: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> Reply:
        return invoke(self.module, event(sample, who=who, body=body, params=params, query=query))

    # --- products --------------------------------------------------------------------------

    def create(
        self,
        name: str = "Test product",
        *,
        prices: tuple[int, ...] = (1000,),
        stock: int = 10,
        description: str = "",
        category_id: str | None = None,
        tags: list[str] | None = None,
        skus: list[str] | None = None,
    ) -> dict[str, Any]:
        codes = skus or [new_sku() for _ in prices]
        body: dict[str, Any] = {
            "name": name,
            "description": description,
            "skus": [
                {"sku": code, "price": money(price), "stock": stock}
                for code, price in zip(codes, prices, strict=True)
            ],
        }
        if category_id is not None:
            body["category_id"] = category_id
        if tags is not None:
            body["tags"] = tags
        reply = self.call("catalog_create_product.json", body=body)
        assert reply.status == 201, reply.body
        product: dict[str, Any] = reply.body
        return product

    def get(self, product_id: str) -> Reply:
        return self.call("catalog_get_product.json", who=None, params={"product_id": product_id})

    def get_any(self, product_id: str, who: str | None = "ops") -> Reply:
        return self.call("catalog_get_any_product.json", who=who, params={"product_id": product_id})

    def patch(self, product_id: str, body: Any, who: str | None = "ops") -> Reply:
        return self.call(
            "catalog_patch_product.json", who=who, body=body, params={"product_id": product_id}
        )

    def patch_sku(self, product_id: str, sku: str, body: Any, who: str | None = "ops") -> Reply:
        return self.call(
            "catalog_patch_sku.json",
            who=who,
            body=body,
            params={"product_id": product_id, "sku": sku},
        )

    def prices(self, product_id: str, sku: str, who: str | None = "ops") -> Reply:
        return self.call(
            "catalog_price_history.json", who=who, params={"product_id": product_id, "sku": sku}
        )

    def archive(self, product_id: str) -> None:
        reply = self.patch(product_id, {"status": "archived"})
        assert reply.status == 200, reply.body

    # --- lists -----------------------------------------------------------------------------

    def list(self, **query: str) -> Reply:
        return self.call("catalog_list_products.json", who=None, query=query or None)

    def walk(self, **query: str) -> Iterator[list[dict[str, Any]]]:
        """Every page of a listing in turn (asserting each is 200)."""
        token: str | None = None
        while True:
            params = dict(query)
            if token:
                params["next_token"] = token
            reply = self.list(**params)
            assert reply.status == 200, reply.body
            yield reply.body["items"]
            token = reply.body.get("next_token")
            if not token:
                return

    def all(self, **query: str) -> list[dict[str, Any]]:
        return [item for page in self.walk(**query) for item in page]

    def ids(self, **query: str) -> list[str]:
        return [item["product_id"] for item in self.all(**query)]

    # --- categories ------------------------------------------------------------------------

    def category(self, name: str, parent_id: str | None = None) -> str:
        body: dict[str, Any] = {"name": name}
        if parent_id is not None:
            body["parent_id"] = parent_id
        reply = self.call("catalog_create_category.json", body=body)
        assert reply.status == 201, reply.body
        return str(reply.body["category_id"])

    def tree(self) -> Reply:
        return self.call("catalog_category_tree.json", who=None)

    # --- images ----------------------------------------------------------------------------

    def add_image(self, product_id: str, body: Any, who: str | None = "ops") -> Reply:
        return self.call(
            "catalog_add_image.json", who=who, body=body, params={"product_id": product_id}
        )

    def delete_image(self, product_id: str, image_id: str, who: str | None = "ops") -> Reply:
        return self.call(
            "catalog_delete_image.json",
            who=who,
            params={"product_id": product_id, "image_id": image_id},
        )

    # --- reviews ---------------------------------------------------------------------------

    def review(self, product_id: str, body: Any, who: str | None = "customer") -> Reply:
        return self.call(
            "catalog_post_review.json", who=who, body=body, params={"product_id": product_id}
        )

    def reviews(self, product_id: str, **query: str) -> Reply:
        return self.call(
            "catalog_list_reviews.json",
            who=None,
            params={"product_id": product_id},
            query=query or None,
        )

    def moderate(self, review_id: str, status: str, who: str | None = "ops") -> Reply:
        return self.call(
            "catalog_moderate_review.json",
            who=who,
            body={"status": status},
            params={"review_id": review_id},
        )


class FlashSales:
    """The flash sale routes of the catalog handler."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def create(self, body: Any, who: str | None = "ops") -> Reply:
        return self.catalog.call("catalog_create_flash_sale.json", who=who, body=body)

    def schedule(self, sku: str, price: int, starts_at: int, ends_at: int, limit: int = 2) -> str:
        """A sale of ``sku`` scheduled by ops (asserting 201); its id."""
        reply = self.create(sale_body(sku, price, starts_at, ends_at, limit))
        assert reply.status == 201, reply.body
        return str(reply.body["flash_sale_id"])

    def get(self, sale_id: str, who: str | None = None) -> Reply:
        return self.catalog.call(
            "catalog_get_flash_sale.json", who=who, params={"flash_sale_id": sale_id}
        )

    def of_sku(self, sku: str, who: str | None = "ops", **query: str) -> Reply:
        return self.catalog.call(
            "catalog_list_flash_sales.json", who=who, query={"sku": sku, **query}
        )


def sale_body(sku: str, price: int, starts_at: int, ends_at: int, limit: int = 2) -> dict[str, Any]:
    """A ``POST /admin/flash-sales`` body (times as epoch seconds, sent as UTC ISO 8601)."""
    from commerce.clock import iso

    return {
        "sku": sku,
        "price": money(price),
        "starts_at": iso(starts_at),
        "ends_at": iso(ends_at),
        "per_customer_limit": limit,
    }


def operations_during(action: Callable[[], Any]) -> list[str]:
    """The DynamoDB operations ``action`` made (every client goes through botocore's
    ``_make_api_call``, PynamoDB's too)."""
    import botocore.client

    seen: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def spy(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            seen.append(operation_name)
        return original(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = spy  # type: ignore[method-assign]
    try:
        action()
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
    return seen
