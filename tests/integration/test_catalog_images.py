"""Product images: a presigned PUT into the template's private bucket (moto), read back through
the presigned GET the product shows."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from catalog_world import Catalog, make_bucket
from http_problems import assert_problem

pytestmark = pytest.mark.integration

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def catalog(dynamodb: Any, catalog_module: ModuleType) -> Catalog:
    make_bucket()
    return Catalog(catalog_module)


def test_an_upload_with_the_url_is_what_the_product_shows(catalog: Catalog) -> None:
    product = catalog.create()["product_id"]
    reply = catalog.add_image(product, {"content_type": "image/png", "alt": "Front"})
    assert reply.status == 201, reply.body
    upload = requests.put(
        reply.body["upload_url"], data=PNG, headers={"Content-Type": "image/png"}, timeout=10
    )
    assert upload.status_code == 200, upload.text
    [shown] = catalog.get(product).body["images"]
    assert shown["alt"] == "Front"
    assert shown["image_id"] == reply.body["image"]["image_id"]
    assert requests.get(shown["url"], timeout=10).content == PNG


def test_the_bucket_is_private(catalog: Catalog) -> None:
    product = catalog.create()["product_id"]
    reply = catalog.add_image(product, {"content_type": "image/jpeg"})
    requests.put(
        reply.body["upload_url"], data=b"jpeg", headers={"Content-Type": "image/jpeg"}, timeout=10
    )
    unsigned = reply.body["image"]["url"].split("?", 1)[0]
    assert requests.get(unsigned, timeout=10).status_code == 403


def test_the_upload_signature_covers_the_declared_type(catalog: Catalog) -> None:
    """S3 refuses an upload whose headers differ from those signed (the emulator does not
    check, so the test reads what was signed)."""
    product = catalog.create()["product_id"]
    reply = catalog.add_image(product, {"content_type": "image/webp"})
    query = parse_qs(urlsplit(reply.body["upload_url"]).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert "content-type" in query["X-Amz-SignedHeaders"][0].split(";")
    assert int(query["X-Amz-Expires"][0]) == 900
    assert reply.body["image"]["url"].split("?")[0].endswith(".webp")


@pytest.mark.parametrize(
    "body",
    [
        {"content_type": "image/gif"},
        {"content_type": "text/html"},
        {"content_type": "image/png", "alt": "x" * 201},
        {},
    ],
)
def test_unsupported_images_are_400_and_change_nothing(
    catalog: Catalog, scan_all: Callable[[], Any], body: Any
) -> None:
    product = catalog.create()["product_id"]
    before = scan_all()
    assert_problem(catalog.add_image(product, body), 400, "validation-error")
    assert scan_all() == before


def test_ten_images_at_most_and_deleting_one_frees_a_place(catalog: Catalog) -> None:
    product = catalog.create()["product_id"]
    ids = [
        catalog.add_image(product, {"content_type": "image/jpeg"}).body["image"]["image_id"]
        for _ in range(10)
    ]
    assert_problem(catalog.add_image(product, {"content_type": "image/jpeg"}), 409, "conflict")
    after = catalog.delete_image(product, ids[0])
    assert after.status == 200
    assert [i["image_id"] for i in after.body["images"]] == ids[1:]
    assert catalog.add_image(product, {"content_type": "image/jpeg"}).status == 201
    assert_problem(catalog.delete_image(product, ids[0]), 404, "not-found")


def test_deleting_an_image_deletes_its_object(catalog: Catalog) -> None:
    bucket = make_bucket()
    product = catalog.create()["product_id"]
    reply = catalog.add_image(product, {"content_type": "image/png"})
    requests.put(
        reply.body["upload_url"], data=PNG, headers={"Content-Type": "image/png"}, timeout=10
    )
    s3 = boto3.client("s3", region_name="us-east-1")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1
    catalog.delete_image(product, reply.body["image"]["image_id"])
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_images_of_unknown_products_and_by_others(catalog: Catalog) -> None:
    assert_problem(catalog.add_image("0" * 32, {"content_type": "image/png"}), 404, "not-found")
    product = catalog.create()["product_id"]
    reply = catalog.add_image(product, {"content_type": "image/png"}, who="customer")
    assert_problem(reply, 403, "forbidden")
