"""Coupon storage: definitions with their use counter, per-customer counters, and what an order
consumed.

Catalog table (ops-managed data):

- ``pk=COUPON#{code}, sk=COUPON``: the definition and ``uses_total``; listed through gsi1
  (``gsi1pk=COUPONS``, ``gsi1sk=code``).
- ``pk=COUPON#{code}, sk=USE#{sub}``: ``uses``, one customer's count for coupons with a
  per-customer limit; ``gsi1pk=COUPON_USES#{sub}`` finds a customer's counters (erasure).

Orders table: ``pk=ORDER#{id}, sk=PERKS``: the coupon codes and points an order consumed at
checkout, and ``given_back_at`` once they were given back (cancel or payment failure).

A use is consumed by a conditional update inside the checkout transaction (``consume``), so the
counters never pass their limits whatever the concurrency; ``return_use`` undoes it, at most once
per order because it is conditioned on the order's perks not having been given back yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from commerce.domain.coupons import Coupon, CouponKind
from commerce.domain.money import Money
from commerce.store import keys, kit
from commerce.store.carts import StoredCart, touch_actions, write_guard
from commerce.store.tables.carts import CartModel
from commerce.store.tables.catalog import CouponModel, CouponUseModel
from commerce.store.tables.orders import OrderPerksModel
from commerce.store.transactions import LabelledTransaction

COUPON_LABEL_PREFIX: Final = "coupon:"
COUPON_USE_LABEL_PREFIX: Final = "coupon_use:"
PERKS_LABEL: Final = "perks"
#: The attributes DynamoDB returns as the last key of a gsi1 query (for page tokens).
PAGE_KEY_NAMES: Final = ("pk", "sk", "gsi1pk", "gsi1sk")


# --- Definitions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredCoupon:
    """A coupon as stored: its definition, the uses consumed so far, and its version."""

    coupon: Coupon
    uses_total: int
    version: int
    created_at: str
    updated_at: str


def _money(raw: Any) -> Money | None:
    if raw is None:
        return None
    return Money(int(raw.amount), str(raw.currency))


def _int(raw: Any) -> int | None:
    return None if raw is None else int(raw)


def _from_model(model: CouponModel) -> StoredCoupon:
    coupon = Coupon(
        code=model.code,
        kind=CouponKind(model.kind),
        rate_bp=_int(model.rate_bp),
        cap=_money(model.cap),
        amount=_money(model.amount),
        threshold=_money(model.threshold),
        repeat=bool(model.repeat),
        min_spend=_money(model.min_spend) or Money.zero(),
        valid_from=_int(model.valid_from),
        valid_until=_int(model.valid_until),
        usage_limit=_int(model.usage_limit),
        per_customer_limit=_int(model.per_customer_limit),
        active=bool(model.active),
        stackable=bool(model.stackable),
    )
    return StoredCoupon(
        coupon, int(model.uses_total or 0), int(model.version), model.created_at, model.updated_at
    )


def _to_model(coupon: Coupon, *, uses_total: int, version: int, created: str, at: str) -> Any:
    def money(value: Money | None) -> dict[str, Any] | None:
        return None if value is None else value.to_dict()

    return CouponModel(
        keys.coupon_pk(coupon.code),
        keys.COUPON_SK,
        code=coupon.code,
        kind=coupon.kind.value,
        rate_bp=coupon.rate_bp,
        cap=money(coupon.cap),
        amount=money(coupon.amount),
        threshold=money(coupon.threshold),
        repeat=coupon.repeat,
        min_spend=coupon.min_spend.to_dict(),
        valid_from=coupon.valid_from,
        valid_until=coupon.valid_until,
        usage_limit=coupon.usage_limit,
        per_customer_limit=coupon.per_customer_limit,
        active=coupon.active,
        stackable=coupon.stackable,
        uses_total=uses_total,
        version=version,
        created_at=created,
        updated_at=at,
        gsi1pk=keys.COUPONS_GSI1PK,
        gsi1sk=coupon.code,
    )


def create(coupon: Coupon, *, at: str) -> StoredCoupon | None:
    """Store a new coupon with no uses; None if a coupon already has its code."""
    model = _to_model(coupon, uses_total=0, version=1, created=at, at=at)
    if not kit.applied(lambda: model.save(condition=CouponModel.pk.does_not_exist())):
        return None
    return StoredCoupon(coupon, 0, 1, at, at)


def load(code: str) -> StoredCoupon | None:
    """The coupon with ``code`` (already normalised), read consistently; None if there is none."""
    try:
        model = CouponModel.get(keys.coupon_pk(code), keys.COUPON_SK, consistent_read=True)
    except CouponModel.DoesNotExist:
        return None
    return _from_model(model)


def load_many(codes: Sequence[str]) -> dict[str, StoredCoupon]:
    """The coupons among ``codes`` that exist, by code (one batch read)."""
    if not codes:
        return {}
    found = CouponModel.batch_get(
        [(keys.coupon_pk(code), keys.COUPON_SK) for code in dict.fromkeys(codes)],
        consistent_read=True,
    )
    return {model.code: _from_model(model) for model in found}


def replace(stored: StoredCoupon, coupon: Coupon, *, at: str) -> StoredCoupon | None:
    """Write ``coupon`` over the definition read as ``stored`` (its uses are untouched); None
    when the coupon changed meanwhile (another PATCH won)."""
    model = _to_model(
        coupon,
        uses_total=stored.uses_total,
        version=stored.version + 1,
        created=stored.created_at,
        at=at,
    )
    # Every definition attribute is rewritten, but uses_total is left to the counter's own
    # writes: checkouts may move it between this read and this write.
    actions = [
        getattr(CouponModel, name).set(getattr(model, name))
        if getattr(model, name) is not None
        else getattr(CouponModel, name).remove()
        for name in (
            "rate_bp",
            "cap",
            "amount",
            "threshold",
            "repeat",
            "min_spend",
            "valid_from",
            "valid_until",
            "usage_limit",
            "per_customer_limit",
            "active",
            "stackable",
            "updated_at",
        )
    ]
    actions.append(CouponModel.version.set(stored.version + 1))
    row = CouponModel(keys.coupon_pk(coupon.code), keys.COUPON_SK)
    if not kit.applied(
        lambda: row.update(actions, condition=CouponModel.version == stored.version)
    ):
        return None
    return load(coupon.code)


def list_page(
    limit: int, start_key: dict[str, Any] | None
) -> tuple[list[StoredCoupon], dict[str, Any] | None]:
    """Up to ``limit`` coupons by code from ``start_key`` on, and the next page's key."""
    result = CouponModel.gsi1.query(
        keys.COUPONS_GSI1PK, limit=limit, page_size=limit, last_evaluated_key=start_key
    )
    found = [_from_model(model) for model in result]
    return found, result.last_evaluated_key


def uses_by(code: str, sub: str | None) -> int:
    """How often customer ``sub`` has used coupon ``code`` (0 for a guest)."""
    if sub is None:
        return 0
    try:
        row = CouponUseModel.get(
            keys.coupon_pk(code), keys.coupon_use_sk(sub), consistent_read=True
        )
    except CouponUseModel.DoesNotExist:
        return 0
    return int(row.uses or 0)


def delete_customer_uses(sub: str) -> int:
    """Erasure: delete every per-coupon use counter of customer ``sub`` (found through gsi1
    ``COUPON_USES#{sub}``); the coupons' ``uses_total`` are kept. Deleting none is no error, so
    a retried erasure runs it again harmlessly."""
    deleted = 0
    for row in CouponUseModel.customer_uses.query(keys.coupon_uses_gsi1pk(sub)):
        CouponUseModel(row.pk, row.sk).delete()
        deleted += 1
    return deleted


# --- Consuming and giving back uses (inside the checkout / cancel transactions) ------------------


def consume(tx: LabelledTransaction, coupon: Coupon, sub: str | None, now: int) -> None:
    """Add to ``tx``: one use of ``coupon``, only while it is still active, inside its validity
    window and below its usage limit (``coupon:{code}``), and, for a coupon with a per-customer
    limit, the customer's count below that limit (``coupon_use:{code}``)."""
    condition: Condition = CouponModel.active == True  # noqa: E712 - an expression, not a test
    condition &= CouponModel.usage_limit.does_not_exist() | (
        CouponModel.uses_total < CouponModel.usage_limit
    )
    condition &= CouponModel.valid_from.does_not_exist() | (CouponModel.valid_from <= now)
    condition &= CouponModel.valid_until.does_not_exist() | (CouponModel.valid_until > now)
    tx.update(
        f"{COUPON_LABEL_PREFIX}{coupon.code}",
        CouponModel(keys.coupon_pk(coupon.code), keys.COUPON_SK),
        [CouponModel.uses_total.add(1)],
        condition,
    )
    if coupon.per_customer_limit is None or sub is None:
        return
    tx.update(
        f"{COUPON_USE_LABEL_PREFIX}{coupon.code}",
        CouponUseModel(keys.coupon_pk(coupon.code), keys.coupon_use_sk(sub)),
        [
            CouponUseModel.uses.add(1),
            CouponUseModel.code.set(coupon.code),
            CouponUseModel.customer_id.set(sub),
            CouponUseModel.gsi1pk.set(keys.coupon_uses_gsi1pk(sub)),
            CouponUseModel.gsi1sk.set(coupon.code),
        ],
        CouponUseModel.uses.does_not_exist() | (CouponUseModel.uses < coupon.per_customer_limit),
    )


def return_use(tx: LabelledTransaction, code: str, sub: str | None, per_customer: bool) -> None:
    """Add to ``tx``: one use of ``code`` returned (never below zero), and the customer's."""
    tx.update(
        f"{COUPON_LABEL_PREFIX}{code}",
        CouponModel(keys.coupon_pk(code), keys.COUPON_SK),
        [CouponModel.uses_total.add(-1)],
        CouponModel.uses_total > 0,
    )
    if per_customer and sub is not None:
        tx.update(
            f"{COUPON_USE_LABEL_PREFIX}{code}",
            CouponUseModel(keys.coupon_pk(code), keys.coupon_use_sk(sub)),
            [CouponUseModel.uses.add(-1)],
            CouponUseModel.uses > 0,
        )


# --- What an order consumed ------------------------------------------------------------------


@dataclass(frozen=True)
class OrderPerks:
    """The coupons (and which of them count per customer) and points an order consumed."""

    order_id: str
    coupons: tuple[str, ...]
    per_customer: tuple[str, ...]
    points_used: int
    given_back_at: str | None = None


def put_perks(tx: LabelledTransaction, perks: OrderPerks, *, at: str) -> None:
    """Add to ``tx``: the order's perks record (label ``perks``)."""
    row = OrderPerksModel(
        keys.order_pk(perks.order_id),
        keys.ORDER_PERKS_SK,
        order_id=perks.order_id,
        coupons=list(perks.coupons),
        per_customer=list(perks.per_customer),
        points_used=perks.points_used,
        created_at=at,
    )
    tx.put(PERKS_LABEL, row, OrderPerksModel.pk.does_not_exist())


def load_perks(order_id: str) -> OrderPerks | None:
    """What the order consumed at checkout; None when it used no coupon and no points."""
    try:
        row = OrderPerksModel.get(
            keys.order_pk(order_id), keys.ORDER_PERKS_SK, consistent_read=True
        )
    except OrderPerksModel.DoesNotExist:
        return None
    return OrderPerks(
        order_id=row.order_id,
        coupons=tuple(str(c) for c in row.coupons or []),
        per_customer=tuple(str(c) for c in row.per_customer or []),
        points_used=int(row.points_used or 0),
        given_back_at=row.given_back_at,
    )


def mark_given_back(tx: LabelledTransaction, order_id: str, *, at: str) -> None:
    """Add to ``tx``: the perks are given back, once (label ``perks``)."""
    tx.update(
        PERKS_LABEL,
        OrderPerksModel(keys.order_pk(order_id), keys.ORDER_PERKS_SK),
        [OrderPerksModel.given_back_at.set(at)],
        OrderPerksModel.pk.exists() & OrderPerksModel.given_back_at.does_not_exist(),
    )


# --- A cart's coupon codes (its header's ``coupons`` list) ------------------------------------


def set_cart_coupons(cart: StoredCart, codes: Sequence[str], *, at: str, now: int) -> bool:
    """Store the cart's coupon codes; False when the cart changed since it was read (another
    change, a claim) or was checked out: read it again and decide again."""
    actions: list[Action] = [
        CartModel.coupons.set(list(codes)),  # type: ignore[arg-type]  # a list of str
        *touch_actions(cart, at, now),
    ]
    header = CartModel(keys.cart_pk(cart.cart_id), keys.CART_SK)
    condition = write_guard(cart) & (CartModel.version == cart.version)
    return kit.applied(lambda: header.update(actions, condition=condition))
