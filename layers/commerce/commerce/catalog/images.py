"""Product images (ops): ask for an upload URL, or take an image off a product.

``POST /admin/products/{id}/images`` records the image on the product (at most ``MAX_IMAGES``)
and answers a presigned S3 PUT for it: the client uploads the bytes straight to the private
bucket with the content type it declared, and the product shows the image from then on through
a presigned GET. Until the upload is made that URL reads nothing; ops remove an image they never
uploaded (or no longer want) with ``DELETE /admin/products/{id}/images/{image_id}``.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from aws_lambda_powertools.metrics import MetricUnit

from commerce.catalog.editing import commit
from commerce.catalog.schemas import ImageIn, ImageUploadOut, ProductOut
from commerce.catalog.views import image_out, products_out
from commerce.domain.product import IMAGE_TYPES, MAX_IMAGES, is_valid_image_id
from commerce.errors import Conflict, NotFound
from commerce.http.auth import Caller
from commerce.observability import logger, metrics
from commerce.store import images
from commerce.store.products import PriceChange, StoredImage, StoredProduct


def add_image(product_id: str, body: ImageIn, caller: Caller) -> ImageUploadOut:
    """Record a new image of the product and answer where to upload it."""
    image_id = uuid.uuid4().hex
    image = StoredImage(
        image_id=image_id,
        key=images.object_key(product_id, image_id, IMAGE_TYPES[body.content_type]),
        content_type=body.content_type,
        alt=body.alt,
    )

    def decide(before: StoredProduct) -> tuple[StoredProduct, list[PriceChange]]:
        if len(before.images) >= MAX_IMAGES:
            raise Conflict(f"A product has at most {MAX_IMAGES} images; delete one first")
        return replace(before, images=(*before.images, image)), []

    commit(product_id, caller, decide)
    metrics.add_metric(name="ImageRequested", unit=MetricUnit.Count, value=1)
    logger.info("image requested", extra={"product_id": product_id, "image_id": image_id})
    return ImageUploadOut(
        upload_url=images.upload_url(image.key, image.content_type), image=image_out(image)
    )


def delete_image(product_id: str, image_id: str, caller: Caller) -> ProductOut:
    """Take the image off the product, then delete its object."""
    if not is_valid_image_id(image_id):
        raise NotFound("No such image")
    removed: list[StoredImage] = []

    def decide(before: StoredProduct) -> tuple[StoredProduct, list[PriceChange]]:
        kept = tuple(i for i in before.images if i.image_id != image_id)
        if len(kept) == len(before.images):
            raise NotFound("No such image")
        removed[:] = [i for i in before.images if i.image_id == image_id]
        return replace(before, images=kept), []

    _, after = commit(product_id, caller, decide)
    for image in removed:
        images.delete(image.key)
    logger.info("image deleted", extra={"product_id": product_id, "image_id": image_id})
    return products_out([after], consistent=True)[0]
