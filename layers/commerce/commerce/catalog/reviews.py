"""Reviews: customers who received a product review it once; everyone reads the published ones;
ops hide (or restore) a review. The product's rating follows exactly (``store.reviews``).

Who may review: a customer with a delivered order of the product. The buyer record written at
delivery (``catalog.sales.record_delivery``) answers that in one read. When it is missing (an
order delivered before buyer records existed, or a delivery whose record was not written), the
customer's own orders are read through their index (the Orders table's gsi1, newest first, at
most ``ORDERS_CHECKED``), and a delivered order of the product writes the record then.
"""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import replace
from typing import Final

from aws_lambda_powertools.metrics import MetricUnit

from commerce.catalog.products import load_active
from commerce.catalog.review_schemas import ReviewIn, ReviewOut, ReviewPageOut, ReviewStatusIn
from commerce.clock import now_iso
from commerce.domain.orders import OrderStatus
from commerce.domain.ratings import ReviewStatus
from commerce.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
)
from commerce.http.auth import Caller
from commerce.http.pagination import decode_page_token, encode_page_token, page_size
from commerce.observability import logger, metrics
from commerce.settings import get_settings
from commerce.store import kit, reviews
from commerce.store import orders as order_store
from commerce.store.products import StoredProduct
from commerce.store.reviews import Buyer, Posted, StoredReview

#: Orders of a customer read, newest first, when no buyer record answers.
ORDERS_CHECKED: Final = 200
_REVIEW_ID_RE: Final = re.compile(r"^[0-9a-f]{32}$")


def review_out(review: StoredReview) -> ReviewOut:
    return ReviewOut(
        review_id=review.review_id,
        rating=review.rating,
        text=review.text,
        status=review.status.value,
        created_at=review.created_at,
        product_id=review.product_id,
    )


def _delivered_in_orders(product: StoredProduct, sub: str) -> Buyer | None:
    """Look for a delivered order of the product among the customer's own orders; record the
    buyer when one is found."""
    skus = {s.sku for s in product.skus}
    for stored in itertools.islice(order_store.each_customer_order(sub), ORDERS_CHECKED):
        order = stored.order
        delivered = any(h.status is OrderStatus.DELIVERED for h in order.history)
        if delivered and any(line.sku in skus for line in order.lines):
            reviews.record_buyer(product.product_id, sub, order.order_id, at=now_iso())
            return reviews.buyer(product.product_id, sub)
    return None


def post_review(product_id: str, body: ReviewIn, caller: Caller) -> ReviewOut:
    """A customer's review of a product they received: 403 otherwise, 409 the second time."""
    product = load_active(product_id)
    sub = caller.sub
    if sub is None:  # the authorizer answers this first on AWS; said again here
        raise Unauthorized("Sign in to review")
    buyer = reviews.buyer(product_id, sub) or _delivered_in_orders(product, sub)
    if buyer is None:
        raise Forbidden(
            "Only a customer who received this product in a delivered order may review it"
        )
    if buyer.review_id is not None:
        raise Conflict("You have already reviewed this product")
    at = now_iso()
    review = StoredReview(
        review_id=uuid.uuid4().hex,
        product_id=product_id,
        customer_id=sub,
        rating=body.rating,
        text=body.text,
        status=ReviewStatus.PUBLISHED,
        created_at=at,
        updated_at=at,
    )
    outcome = reviews.post(review)
    if outcome is Posted.ALREADY_REVIEWED:
        raise Conflict("You have already reviewed this product")
    if outcome is Posted.NOT_A_BUYER:
        raise Forbidden(
            "Only a customer who received this product in a delivered order may review it"
        )
    if outcome is Posted.NO_PRODUCT:
        raise NotFound("No such product")
    metrics.add_metric(name="ReviewPosted", unit=MetricUnit.Count, value=1)
    logger.info("review posted", extra={"product_id": product_id, "review_id": review.review_id})
    return review_out(review)


def list_reviews(product_id: str, limit: int | None, next_token: str | None) -> ReviewPageOut:
    """A product's published reviews, newest first."""
    load_active(product_id)
    settings = get_settings()
    size = page_size(limit, settings.default_page_size, settings.max_page_size)
    start = decode_page_token(next_token, reviews.PAGE_KEY_NAMES)
    if start is not None and not reviews.is_page_key_of(product_id, start):
        raise ValidationFailed([FieldError("next_token", "Invalid or expired page token")])
    page = reviews.published(product_id, size, start)
    return ReviewPageOut(
        items=[review_out(r) for r in page.reviews], next_token=encode_page_token(page.next_key)
    )


def moderate(review_id: str, body: ReviewStatusIn, caller: Caller) -> ReviewOut:
    """Hide or restore a review (ops); setting the status it already has changes nothing."""
    target = ReviewStatus(body.status)

    def attempt(_: int) -> StoredReview | kit.Retry:
        review = reviews.get(review_id) if _REVIEW_ID_RE.fullmatch(review_id) else None
        if review is None:
            raise NotFound("No such review")
        if review.status is target:
            return review
        at = now_iso()
        if not reviews.set_status(review, target, at=at):
            return kit.RETRY
        metrics.add_metric(name="ReviewModerated", unit=MetricUnit.Count, value=1)
        logger.info(
            "review moderated",
            extra={"review_id": review_id, "status": target.value, "actor": caller.actor()},
        )
        return replace(review, status=target, updated_at=at)

    written = kit.retry_on_conflict(
        attempt,
        give_up=lambda: TooManyRequests(1, "This review is being changed concurrently; retry"),
    )
    return review_out(written)
