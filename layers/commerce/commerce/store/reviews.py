"""Reviews and buyer records: who may review a product, their reviews, and the rating they make.

A buyer record (pk=BUYER#{sub}, sk=PRODUCT#{id}) says the customer received the product in a
delivered order; it is written when the order is delivered and found in one GetItem when they
review. The review is posted in one transaction: the buyer record gains the ``review_id`` (it
must exist and have none yet: one review per customer and product), the review item is put,
and the product's rating gains the review's rating. Hiding or restoring a review is one
transaction too: the review's status, conditioned on the status it was read with, and the
product's rating moved by exactly the delta of that change (``domain.ratings.delta``), so the
rating always equals its published reviews.

Erasure anonymises the customer's reviews and deletes their buyer records; both are found by
one Query of the customer's own partition of buyer records.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Final

from commerce.domain.privacy import ERASED_OWNER
from commerce.domain.ratings import RatingDelta, ReviewStatus, delta
from commerce.store import keys, kit
from commerce.store.kit import CONDITION_FAILED
from commerce.store.tables.catalog import BuyerModel, ProductModel, ReviewModel
from commerce.store.transactions import LabelledTransaction

_BUYER: Final = "buyer"
_PRODUCT: Final = "product"
#: The attributes of gsi1's last evaluated key: the shape a review-list page token must have.
PAGE_KEY_NAMES: Final = ("pk", "sk", "gsi1pk", "gsi1sk")


@dataclass(frozen=True)
class StoredReview:
    review_id: str
    product_id: str
    customer_id: str
    rating: int
    text: str
    status: ReviewStatus
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Buyer:
    product_id: str
    customer_id: str
    order_id: str
    review_id: str | None


class Posted(Enum):
    POSTED = "posted"
    NOT_A_BUYER = "not_a_buyer"
    ALREADY_REVIEWED = "already_reviewed"
    NO_PRODUCT = "no_product"


def record_buyer(product_id: str, sub: str, order_id: str, *, at: str) -> None:
    """The customer received ``product_id`` in ``order_id``: they may review it. Idempotent:
    the first delivery's order is kept, and a review already posted stays attached."""
    item = BuyerModel(keys.buyer_pk(sub), keys.product_pk(product_id))
    item.update(
        [
            BuyerModel.product_id.set(product_id),
            BuyerModel.customer_id.set(sub),
            BuyerModel.order_id.set(BuyerModel.order_id | order_id),
            BuyerModel.delivered_at.set(BuyerModel.delivered_at | at),
        ]
    )


def buyer(product_id: str, sub: str) -> Buyer | None:
    try:
        row = BuyerModel.get(keys.buyer_pk(sub), keys.product_pk(product_id), consistent_read=True)
    except BuyerModel.DoesNotExist:
        return None
    return Buyer(product_id, sub, row.order_id or "", row.review_id)


def _rating_actions(change: RatingDelta) -> list[Any]:
    return [
        ProductModel.rating_total.add(change.total),
        ProductModel.rating_count.add(change.count),
    ]


def post(review: StoredReview) -> Posted:
    """Post a new review of a product its author received; once per customer and product.

    The caller has found the buyer record first, so a refusal of it means a review is already
    attached (a racing second post), unless the record itself has gone (erasure)."""
    tx = LabelledTransaction()
    tx.update(
        _BUYER,
        BuyerModel(keys.buyer_pk(review.customer_id), keys.product_pk(review.product_id)),
        [BuyerModel.review_id.set(review.review_id)],
        BuyerModel.pk.exists() & BuyerModel.review_id.does_not_exist(),
    )
    tx.put("review", _model(review), ReviewModel.pk.does_not_exist())
    tx.update(
        _PRODUCT,
        ProductModel(keys.product_pk(review.product_id), keys.PRODUCT_SK),
        _rating_actions(delta(review.rating, None, review.status)),
        ProductModel.pk.exists(),
    )
    failures = tx.commit()
    if not failures:
        return Posted.POSTED
    for failure in failures:
        if failure.label == _BUYER and failure.code == CONDITION_FAILED:
            found = buyer(review.product_id, review.customer_id)
            return Posted.NOT_A_BUYER if found is None else Posted.ALREADY_REVIEWED
        if failure.label == _PRODUCT and failure.code == CONDITION_FAILED:
            return Posted.NO_PRODUCT
    raise RuntimeError(f"review refused: {[(f.label, f.code) for f in failures]}")


def _listed_keys(review: StoredReview) -> dict[str, str | None]:
    published = review.status is ReviewStatus.PUBLISHED
    return {
        "gsi1pk": keys.reviews_gsi1pk(review.product_id) if published else None,
        "gsi1sk": keys.review_gsi1sk(review.created_at, review.review_id) if published else None,
    }


def _model(review: StoredReview) -> ReviewModel:
    listed = _listed_keys(review)
    return ReviewModel(
        keys.review_pk(review.review_id),
        keys.REVIEW_SK,
        review_id=review.review_id,
        product_id=review.product_id,
        customer_id=review.customer_id,
        rating=review.rating,
        text=review.text,
        status=review.status.value,
        created_at=review.created_at,
        updated_at=review.updated_at,
        gsi1pk=listed["gsi1pk"],
        gsi1sk=listed["gsi1sk"],
    )


def _from_model(row: ReviewModel) -> StoredReview:
    return StoredReview(
        review_id=row.review_id,
        product_id=row.product_id,
        customer_id=row.customer_id,
        rating=int(row.rating),
        text=row.text or "",
        status=ReviewStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def get(review_id: str) -> StoredReview | None:
    try:
        return _from_model(
            ReviewModel.get(keys.review_pk(review_id), keys.REVIEW_SK, consistent_read=True)
        )
    except ReviewModel.DoesNotExist:
        return None


def set_status(review: StoredReview, status: ReviewStatus, *, at: str) -> bool:
    """Move ``review`` (as read) to ``status`` and its product's rating with it; False when
    the review's status changed since it was read (decide again on a fresh read)."""
    after = replace(review, status=status, updated_at=at)
    listed = _listed_keys(after)
    actions: list[Any] = [ReviewModel.status.set(status.value), ReviewModel.updated_at.set(at)]
    if listed["gsi1pk"] is None:
        actions += [ReviewModel.gsi1pk.remove(), ReviewModel.gsi1sk.remove()]
    else:
        actions += [
            ReviewModel.gsi1pk.set(listed["gsi1pk"]),
            ReviewModel.gsi1sk.set(str(listed["gsi1sk"])),
        ]
    tx = LabelledTransaction()
    tx.update(
        "review",
        ReviewModel(keys.review_pk(review.review_id), keys.REVIEW_SK),
        actions,
        ReviewModel.status == review.status.value,
    )
    change = delta(review.rating, review.status, status)
    if not change.is_zero:
        tx.update(
            _PRODUCT,
            ProductModel(keys.product_pk(review.product_id), keys.PRODUCT_SK),
            _rating_actions(change),
            ProductModel.pk.exists(),
        )
    failures = tx.commit()
    if not failures:
        return True
    if any(f.label == "review" and f.code == CONDITION_FAILED for f in failures):
        return False
    raise RuntimeError(f"review status refused: {[(f.label, f.code) for f in failures]}")


@dataclass(frozen=True)
class ReviewPage:
    reviews: tuple[StoredReview, ...]
    next_key: dict[str, dict[str, str]] | None


def published(product_id: str, limit: int, start_key: Mapping[str, Any] | None) -> ReviewPage:
    """A product's published reviews, newest first, ``limit`` at a time."""
    rows = list(
        ReviewModel.published.query(
            keys.reviews_gsi1pk(product_id),
            scan_index_forward=False,
            limit=limit + 1,
            page_size=limit + 1,
            last_evaluated_key=dict(start_key) if start_key else None,
        )
    )
    next_key = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_key = {
            "pk": {"S": last.pk},
            "sk": {"S": last.sk},
            "gsi1pk": {"S": str(last.gsi1pk)},
            "gsi1sk": {"S": str(last.gsi1sk)},
        }
    return ReviewPage(tuple(_from_model(row) for row in rows[:limit]), next_key)


def is_page_key_of(product_id: str, key: Mapping[str, Any]) -> bool:
    """True when a decoded page token points into this product's review list."""
    try:
        return bool(
            key["gsi1pk"]["S"] == keys.reviews_gsi1pk(product_id)
            and key["sk"]["S"] == keys.REVIEW_SK
            and str(key["pk"]["S"]).startswith(keys.review_pk(""))
        )
    except (KeyError, TypeError):
        return False


def _buyer_rows(sub: str) -> Iterator[BuyerModel]:
    return BuyerModel.query(keys.buyer_pk(sub), consistent_read=True)


def customer_reviews(sub: str) -> list[StoredReview]:
    """Every review the customer wrote (found through their buyer records)."""
    ids = [row.review_id for row in _buyer_rows(sub) if row.review_id]
    found = ReviewModel.batch_get([(keys.review_pk(rid), keys.REVIEW_SK) for rid in ids])
    return sorted((_from_model(row) for row in found), key=lambda r: r.created_at)


def erase_customer(sub: str) -> int:
    """Anonymise the customer's reviews (their author becomes the erased placeholder; the
    rating and text stay, as the shop's content) and delete their buyer records. Idempotent:
    a review is anonymised before its buyer record goes, so a retry finds what is left."""
    done = 0
    for row in list(_buyer_rows(sub)):
        if row.review_id:
            _anonymise(row.review_id)
        BuyerModel(row.pk, row.sk).delete()
        done += 1
    return done


def _anonymise(review_id: str) -> bool:
    review = ReviewModel(keys.review_pk(review_id), keys.REVIEW_SK)
    return kit.applied(
        lambda: review.update(
            [ReviewModel.customer_id.set(ERASED_OWNER)], condition=ReviewModel.pk.exists()
        )
    )
