"""The failures a client can cause or observe, each tied to one problem type of the HTTP contract.

Services raise these; the HTTP layer turns them into RFC 9457 problem responses. Keeping the
slug, status and title on the class means a new failure is declared once and every handler
reports it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldError:
    """One bad field of a request, named the way the client sent it (e.g. ``skus[0].price``)."""

    field: str
    message: str


class CommerceError(Exception):
    """Base of every failure that maps to a problem type; ``detail`` is safe to show a client."""

    type: ClassVar[str] = "internal-error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extensions: dict[str, Any] = extensions

    def headers(self) -> dict[str, str]:
        """Extra response headers this failure needs (e.g. ``Retry-After``)."""
        return {}


class ValidationFailed(CommerceError):
    type = "validation-error"
    status = 400
    title = "The request is not valid"

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        super().__init__(
            detail or "; ".join(f"{e.field}: {e.message}" for e in errors) or self.title,
            errors=[{"field": e.field, "message": e.message} for e in errors],
        )
        self.errors = errors


class Unauthorized(CommerceError):
    type = "unauthorized"
    status = 401
    title = "Authentication required"


class Forbidden(CommerceError):
    type = "forbidden"
    status = 403
    title = "Not allowed"


class NotFound(CommerceError):
    type = "not-found"
    status = 404
    title = "Not found"


class MethodNotAllowed(CommerceError):
    type = "method-not-allowed"
    status = 405
    title = "Method not allowed"

    def __init__(self, allowed: list[str]) -> None:
        super().__init__(f"Allowed methods: {', '.join(allowed)}")
        self.allowed = allowed

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(self.allowed)}


class Conflict(CommerceError):
    type = "conflict"
    status = 409
    title = "The current state does not allow this"


class OutOfStock(CommerceError):
    type = "out-of-stock"
    status = 409
    title = "Not enough stock"

    def __init__(self, sku: str, available: int, detail: str | None = None) -> None:
        super().__init__(
            detail or f"Only {available} of {sku} available", available=available, sku=sku
        )
        self.sku = sku
        self.available = available


class PurchaseLimit(CommerceError):
    """More units of a live flash sale's SKU than the customer's per-customer limit allows."""

    type = "purchase-limit"
    status = 409
    title = "Over the purchase limit"

    def __init__(self, sku: str, limit: int, detail: str | None = None) -> None:
        super().__init__(
            detail or f"At most {limit} of {sku} per customer while the flash sale runs",
            limit=limit,
            sku=sku,
        )
        self.sku = sku
        self.limit = limit


class PayloadTooLarge(CommerceError):
    type = "payload-too-large"
    status = 413
    title = "Request body too large"


class UnsupportedMediaType(CommerceError):
    type = "unsupported-media-type"
    status = 415
    title = "Unsupported content type"


class IdempotencyKeyReuse(CommerceError):
    type = "idempotency-key-reuse"
    status = 422
    title = "Idempotency-Key reused with a different request"


class CouponInvalid(CommerceError):
    type = "coupon-invalid"
    status = 422
    title = "Coupon cannot be applied"


class PaymentDeclined(CommerceError):
    type = "payment-declined"
    status = 402
    title = "Payment declined"


class TooManyRequests(CommerceError):
    type = "too-many-requests"
    status = 429
    title = "Too many requests"

    def __init__(self, retry_after_seconds: int, detail: str | None = None) -> None:
        super().__init__(detail or f"Retry after {retry_after_seconds} seconds")
        self.retry_after_seconds = retry_after_seconds

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}
