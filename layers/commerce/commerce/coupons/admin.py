"""Coupon definitions for ops and admin (support may read): create, list, read, patch.

The rules live in ``domain.coupons`` (``parse_coupon``, ``patch_coupon``); this module turns
their field errors into one 400 and the store's answers into 404 / 409.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aws_lambda_powertools.metrics import MetricUnit

from commerce.clock import now_iso
from commerce.coupons.schemas import CouponOut, CouponPageOut
from commerce.domain.coupons import CODE_PATTERN, Coupon, normalise_code, parse_coupon, patch_coupon
from commerce.errors import Conflict, FieldError, NotFound, TooManyRequests, ValidationFailed
from commerce.http.auth import Caller
from commerce.http.pagination import decode_page_token, encode_page_token, page_size
from commerce.observability import logger, metrics
from commerce.settings import get_settings
from commerce.store import coupons as store
from commerce.store import keys, kit
from commerce.store.coupons import StoredCoupon

#: PATCHes retried on a fresh read when another PATCH of the same coupon won the race.
_PATCH_ATTEMPTS: Final = 3
#: The latest time a coupon may name (9999-12-31T23:59:59Z): later ones cannot be shown in ISO.
MAX_TIME: Final = 253_402_300_799
#: The largest usage limit stored; beyond it a limit means nothing a store could reach.
MAX_LIMIT: Final = 1_000_000_000


def _bounds(coupon: Coupon) -> list[FieldError]:
    """Bounds the domain's definition rules leave open but storage and the wire need."""
    errors = [
        FieldError(name, "must be a UTC time before the year 10000")
        for name in ("valid_from", "valid_until")
        if (getattr(coupon, name) or 0) > MAX_TIME
    ]
    errors += [
        FieldError(name, f"must be at most {MAX_LIMIT}")
        for name in ("usage_limit", "per_customer_limit")
        if (getattr(coupon, name) or 0) > MAX_LIMIT
    ]
    return errors


def _valid(parsed: Coupon | list[FieldError]) -> Coupon:
    if isinstance(parsed, list):
        raise ValidationFailed(parsed)
    errors = _bounds(parsed)
    if errors:
        raise ValidationFailed(errors)
    return parsed


def view(stored: StoredCoupon) -> CouponOut:
    body: dict[str, Any] = {
        **stored.coupon.to_dict(),
        "uses_total": stored.uses_total,
        "created_at": stored.created_at,
        "updated_at": stored.updated_at,
    }
    return CouponOut.model_validate(body)


def _body(body: object) -> Mapping[str, object]:
    if not isinstance(body, Mapping):
        raise ValidationFailed([FieldError("body", "must be a JSON object")])
    return body


def create_coupon(body: object, caller: Caller) -> CouponOut:
    """``POST /admin/coupons``: 201 with the coupon; 400 with every bad field; 409 if the code
    is taken."""
    parsed = _valid(parse_coupon(_body(body)))
    stored = store.create(parsed, at=now_iso())
    if stored is None:
        raise Conflict(f"A coupon with code {parsed.code} already exists", code=parsed.code)
    metrics.add_metric(name="CouponCreated", unit=MetricUnit.Count, value=1)
    logger.info("coupon created", extra={"code": parsed.code, "actor": caller.actor()})
    return view(stored)


def _load(code: str) -> StoredCoupon:
    normalised = normalise_code(code)
    stored = store.load(normalised) if CODE_PATTERN.fullmatch(normalised) else None
    if stored is None:
        raise NotFound(f"No coupon {normalised[:32]}")
    return stored


def get_coupon(code: str) -> CouponOut:
    return view(_load(code))


def list_coupons(limit: int | None, next_token: str | None) -> CouponPageOut:
    """A page of coupons by code."""
    settings = get_settings()
    size = page_size(limit, settings.default_page_size, settings.max_page_size)
    start_key = decode_page_token(next_token, store.PAGE_KEY_NAMES)
    if start_key is not None and (
        start_key["gsi1pk"]["S"] != keys.COUPONS_GSI1PK or start_key["sk"]["S"] != keys.COUPON_SK
    ):
        raise ValidationFailed([FieldError("next_token", "Invalid or expired page token")])
    found, next_key = store.list_page(size, start_key)
    return CouponPageOut(items=[view(s) for s in found], next_token=encode_page_token(next_key))


def update_coupon(code: str, body: object, caller: Caller) -> CouponOut:
    """``PATCH /admin/coupons/{code}``: the changes re-validated with the rest of the coupon;
    ``code`` and ``kind`` never change; null returns a field to its default."""
    changes = _body(body)

    def attempt(_: int) -> CouponOut | kit.Retry:
        stored = _load(code)
        patched = _valid(patch_coupon(stored.coupon, changes))
        written = store.replace(stored, patched, at=now_iso())
        if written is None:
            return kit.RETRY
        logger.info("coupon changed", extra={"code": patched.code, "actor": caller.actor()})
        return view(written)

    return kit.retry_on_conflict(
        attempt,
        give_up=lambda: TooManyRequests(
            1, "This coupon is being changed concurrently; retry shortly"
        ),
        attempts=_PATCH_ATTEMPTS,
    )
