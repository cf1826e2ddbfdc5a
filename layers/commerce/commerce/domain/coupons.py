"""Coupons: their definition, when one may be applied, which may be combined, and their discount.

A coupon is a value defined by ops or admin (``parse_coupon`` turns the admin's fields into one,
or into field errors). Applying it to a cart is decided here, purely, from counters the store
reads (``check_applicable``); the use itself is consumed at checkout by a conditional write in
the store, so these checks are advice to the customer, and the write is the guarantee.

What a coupon takes off is decided by ``pricing.price``: ``to_discount`` maps a coupon to one of
the pricing module's discount values, so there is one implementation of every discount rule.
docs/customers.md states the rules; this module is their single implementation.

Times are whole epoch seconds; a coupon is valid from ``valid_from`` (inclusive) until
``valid_until`` (exclusive).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from commerce.clock import iso
from commerce.domain.money import DEFAULT_CURRENCY, MAX_AMOUNT, Money
from commerce.domain.pricing import (
    BASIS_POINTS,
    AmountOff,
    Discount,
    FreeShipping,
    PercentageOff,
    SpendReduction,
)
from commerce.errors import CouponInvalid, FieldError

#: What a coupon code looks like once normalised: upper-case letters, digits and dashes.
CODE_PATTERN: Final = re.compile(r"^[A-Z0-9-]{3,32}$")
#: A percentage coupon takes 0.01 % .. 99.99 % off (100 % is a free-item giveaway, not a coupon).
MIN_RATE_BP: Final = 1
MAX_RATE_BP: Final = BASIS_POINTS - 1


class CouponKind(StrEnum):
    """What a coupon does; the value is the wire form."""

    PERCENTAGE = "percentage"
    AMOUNT = "amount"
    SPEND_REDUCTION = "spend_reduction"
    FREE_SHIPPING = "free_shipping"

    @property
    def is_money_off(self) -> bool:
        """True for the kinds that reduce the merchandise (all but free shipping)."""
        return self is not CouponKind.FREE_SHIPPING


class CouponDefinitionError(ValueError):
    """A coupon built in code that breaks the definition rules (admins get field errors)."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = tuple(errors)


def normalise_code(raw: str) -> str:
    """The stored form of a code as a customer may type it: stripped and upper-cased."""
    return raw.strip().upper()


@dataclass(frozen=True)
class Coupon:
    """A coupon as ops define it.

    Per kind, exactly these are used (the others stay None / False):

    - ``percentage``: ``rate_bp`` (1..9999) and an optional ``cap``;
    - ``amount``: ``amount`` off;
    - ``spend_reduction`` (满减): ``amount`` off from ``threshold``; with ``repeat``, ``amount``
      off for every whole ``threshold`` (every 200 off 20);
    - ``free_shipping``: nothing more.

    ``min_spend`` applies to every kind (a spend reduction's effective minimum is the larger of
    it and ``threshold``). ``usage_limit`` and ``per_customer_limit`` are None for unlimited.
    A coupon that is not ``stackable`` must be the only coupon in its cart.
    """

    code: str
    kind: CouponKind
    rate_bp: int | None = None
    cap: Money | None = None
    amount: Money | None = None
    threshold: Money | None = None
    repeat: bool = False
    min_spend: Money = field(default_factory=Money.zero)
    valid_from: int | None = None
    valid_until: int | None = None
    usage_limit: int | None = None
    per_customer_limit: int | None = None
    active: bool = True
    stackable: bool = True

    def __post_init__(self) -> None:
        errors = coupon_errors({f.name: getattr(self, f.name) for f in fields(self)})
        if errors:
            raise CouponDefinitionError(errors)

    @property
    def minimum_spend(self) -> Money:
        """The merchandise subtotal from which this coupon may be applied."""
        if self.kind is CouponKind.SPEND_REDUCTION and self.threshold is not None:
            return Money(max(self.min_spend.amount, self.threshold.amount))
        return self.min_spend

    def to_dict(self) -> dict[str, object]:
        """The wire shape of the admin API: money as Money objects, times as ISO 8601 UTC."""
        body: dict[str, object] = {"code": self.code, "kind": self.kind.value}
        if self.rate_bp is not None:
            body["rate_bp"] = self.rate_bp
        for name, money in (("cap", self.cap), ("amount", self.amount)):
            if money is not None:
                body[name] = money.to_dict()
        if self.threshold is not None:
            body["threshold"] = self.threshold.to_dict()
            body["repeat"] = self.repeat
        body["min_spend"] = self.min_spend.to_dict()
        body["valid_from"] = None if self.valid_from is None else iso(self.valid_from)
        body["valid_until"] = None if self.valid_until is None else iso(self.valid_until)
        body["usage_limit"] = self.usage_limit
        body["per_customer_limit"] = self.per_customer_limit
        body["active"] = self.active
        body["stackable"] = self.stackable
        return body


# --- Definition rules ---------------------------------------------------------------------------

_USED_BY: Final[Mapping[CouponKind, frozenset[str]]] = {
    CouponKind.PERCENTAGE: frozenset({"rate_bp", "cap"}),
    CouponKind.AMOUNT: frozenset({"amount"}),
    CouponKind.SPEND_REDUCTION: frozenset({"amount", "threshold", "repeat"}),
    CouponKind.FREE_SHIPPING: frozenset(),
}
_REQUIRED_BY: Final[Mapping[CouponKind, tuple[str, ...]]] = {
    CouponKind.PERCENTAGE: ("rate_bp",),
    CouponKind.AMOUNT: ("amount",),
    CouponKind.SPEND_REDUCTION: ("threshold", "amount"),
    CouponKind.FREE_SHIPPING: (),
}
_KIND_FIELDS: Final = ("rate_bp", "cap", "amount", "threshold", "repeat")
_CODE_MESSAGE: Final = "must be 3..32 upper-case letters, digits or dashes"
_KIND_MESSAGE: Final = f"must be one of {', '.join(k.value for k in CouponKind)}"


def _whole(value: object) -> int | None:
    """``value`` if it is a whole number (a bool is not), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _money_error(money: Money, *, positive: bool) -> str | None:
    if money.currency != DEFAULT_CURRENCY:
        return f"must be in {DEFAULT_CURRENCY}"
    if positive and money.amount <= 0:
        return "must be greater than 0"
    if money.amount < 0:
        return "must not be negative"
    if money.amount > MAX_AMOUNT:
        return f"must be at most {MAX_AMOUNT}"
    return None


def coupon_errors(values: Mapping[str, object]) -> list[FieldError]:
    """Every definition rule broken by a coupon's field ``values``, at most one per field."""
    errors: list[FieldError] = []

    def bad(field: str, message: str) -> None:
        if not any(e.field == field for e in errors):
            errors.append(FieldError(field, message))

    code, kind = values.get("code"), values.get("kind")
    if not isinstance(code, str) or not CODE_PATTERN.fullmatch(code):
        bad("code", _CODE_MESSAGE)
    if not isinstance(kind, CouponKind):
        bad("kind", _KIND_MESSAGE)
        return errors
    used = _USED_BY[kind]
    for name in _KIND_FIELDS:
        value = values.get(name)
        if name not in used and value is not None and value is not False:
            bad(name, f"is not used by a {kind.value} coupon")
        elif name in _REQUIRED_BY[kind] and value is None:
            bad(name, f"is required for a {kind.value} coupon")
    rate = _whole(values.get("rate_bp"))
    bad_rate = rate is None or not MIN_RATE_BP <= rate <= MAX_RATE_BP
    if "rate_bp" in used and values.get("rate_bp") is not None and bad_rate:
        bad("rate_bp", f"must be whole basis points, {MIN_RATE_BP}..{MAX_RATE_BP}")
    for name in ("cap", "amount", "threshold", "min_spend"):
        money = values.get(name)
        if name in used or name == "min_spend":
            if isinstance(money, Money):
                message = _money_error(money, positive=name != "min_spend")
                if message:
                    bad(name, message)
            elif money is not None or name == "min_spend":
                bad(name, "must be money")
    amount, threshold = values.get("amount"), values.get("threshold")
    if (
        kind is CouponKind.SPEND_REDUCTION
        and isinstance(amount, Money)
        and isinstance(threshold, Money)
        and 0 < threshold.amount < amount.amount
    ):
        bad("amount", "must not exceed the threshold")
    for name in ("valid_from", "valid_until"):
        when = _whole(values.get(name))
        if values.get(name) is not None and (when is None or when < 0):
            bad(name, "must be a time")
    start, end = _whole(values.get("valid_from")), _whole(values.get("valid_until"))
    if start is not None and end is not None and end <= start:
        bad("valid_until", "must be after valid_from")
    for name in ("usage_limit", "per_customer_limit"):
        limit = _whole(values.get(name))
        if values.get(name) is not None and (limit is None or limit < 1):
            bad(name, "must be a whole number of at least 1")
    for name in ("repeat", "active", "stackable"):
        if not isinstance(values.get(name), bool):
            bad(name, "must be true or false")
    return errors


# --- Parsing the admin's fields ----------------------------------------------------------------

#: The fields ``parse_coupon`` reads; anything else is a field error.
COUPON_FIELDS: Final = tuple(f.name for f in fields(Coupon))
#: Fields a PATCH may not change: a code is the coupon's identity, its kind its meaning.
IMMUTABLE_FIELDS: Final = frozenset({"code", "kind"})


class _Reader:
    """Reads an admin's raw fields into typed values, collecting one error per bad field."""

    def __init__(self, data: Mapping[str, object]) -> None:
        self.data = data
        self.errors: list[FieldError] = [
            FieldError(name, "is not a coupon field") for name in data if name not in COUPON_FIELDS
        ]

    def _bad(self, name: str, message: str) -> None:
        self.errors.append(FieldError(name, message))

    def money(self, name: str) -> Money | None:
        raw = self.data.get(name)
        if raw is None or isinstance(raw, Money):
            return raw
        if isinstance(raw, Mapping):
            amount = _whole(raw.get("amount"))
            if amount is not None and raw.get("currency", DEFAULT_CURRENCY) == DEFAULT_CURRENCY:
                return Money(amount)
        self._bad(name, f'must be {{"amount": <integer fen>, "currency": "{DEFAULT_CURRENCY}"}}')
        return None

    def time(self, name: str) -> int | None:
        raw = self.data.get(name)
        if raw is None or _whole(raw) is not None:
            return _whole(raw)
        if isinstance(raw, str):
            try:
                parsed = datetime.fromisoformat(raw)
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                return int(parsed.astimezone(UTC).timestamp())
        self._bad(name, "must be a UTC ISO 8601 time, e.g. 2025-01-01T00:00:00Z")
        return None

    def whole(self, name: str) -> int | None:
        raw = self.data.get(name)
        if raw is not None and _whole(raw) is None:
            self._bad(name, "must be a whole number")
        return _whole(raw)

    def flag(self, name: str, default: bool) -> bool:
        raw = self.data.get(name)
        if raw is None:
            return default
        if isinstance(raw, bool):
            return raw
        self._bad(name, "must be true or false")
        return default


def parse_coupon(data: Mapping[str, object]) -> Coupon | list[FieldError]:
    """A coupon from an admin's fields (``POST /admin/coupons``), or every field error found.

    The code is normalised (stripped, upper-cased); money is ``{"amount", "currency"}``; times
    are ISO 8601 with a zone, or epoch seconds. Defaults: ``min_spend`` 0, no window, no limits,
    active, stackable, not repeating.
    """
    read = _Reader(data)
    raw_code = data.get("code")
    code = normalise_code(raw_code) if isinstance(raw_code, str) else ""
    try:
        kind: CouponKind | None = CouponKind(str(data.get("kind")))
    except ValueError:
        kind = None
    rate_bp, usage_limit = read.whole("rate_bp"), read.whole("usage_limit")
    per_customer_limit = read.whole("per_customer_limit")
    cap, amount, threshold = read.money("cap"), read.money("amount"), read.money("threshold")
    min_spend = read.money("min_spend") or Money.zero()
    valid_from, valid_until = read.time("valid_from"), read.time("valid_until")
    repeat = read.flag("repeat", default=False)
    active = read.flag("active", default=True)
    stackable = read.flag("stackable", default=True)
    values: dict[str, object] = {
        "code": code,
        "kind": kind,
        "rate_bp": rate_bp,
        "cap": cap,
        "amount": amount,
        "threshold": threshold,
        "repeat": repeat,
        "min_spend": min_spend,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "usage_limit": usage_limit,
        "per_customer_limit": per_customer_limit,
        "active": active,
        "stackable": stackable,
    }
    seen = {e.field for e in read.errors}
    errors = read.errors + [e for e in coupon_errors(values) if e.field not in seen]
    if errors or kind is None:
        return errors
    return Coupon(
        code,
        kind,
        rate_bp,
        cap,
        amount,
        threshold,
        repeat,
        min_spend,
        valid_from,
        valid_until,
        usage_limit,
        per_customer_limit,
        active,
        stackable,
    )


def patch_coupon(coupon: Coupon, changes: Mapping[str, object]) -> Coupon | list[FieldError]:
    """``coupon`` with an admin's ``changes`` (``PATCH /admin/coupons/{code}``), re-validated.

    ``code`` and ``kind`` cannot change (define a new coupon instead); a field set to null
    returns to its default.
    """
    errors = [
        FieldError(name, "cannot be changed")
        for name, value in changes.items()
        if name in IMMUTABLE_FIELDS
        and (normalise_code(value) if isinstance(value, str) else value) != getattr(coupon, name)
    ]
    if errors:
        return errors
    current = {f.name: getattr(coupon, f.name) for f in fields(coupon)}
    return parse_coupon({**current, **changes})


# --- Applying a coupon to a cart ---------------------------------------------------------------


class RejectionReason(StrEnum):
    """Why a coupon cannot be applied; the value is the ``reason`` of the 422 problem."""

    UNKNOWN = "unknown"
    INACTIVE = "inactive"
    NOT_STARTED = "not_started"
    EXPIRED = "expired"
    SIGN_IN_REQUIRED = "sign_in_required"
    EXHAUSTED = "exhausted"
    CUSTOMER_LIMIT = "customer_limit"
    BELOW_MINIMUM = "below_minimum"
    NOT_STACKABLE = "not_stackable"


@dataclass(frozen=True)
class CouponRejection:
    """A coupon that cannot be applied: the reason code and a sentence safe to show a customer."""

    code: str
    reason: RejectionReason
    detail: str

    def to_error(self) -> CouponInvalid:
        """The 422 ``coupon-invalid`` problem, with ``code`` and ``reason`` extensions."""
        return CouponInvalid(self.detail, code=self.code, reason=self.reason.value)


def _yuan(money: Money) -> str:
    return f"{money.amount // 100}.{money.amount % 100:02d} {money.currency}"


def check_stack(existing: Sequence[Coupon], new: Coupon) -> CouponRejection | None:
    """Whether ``new`` may join the coupons already in a cart (docs/customers.md, "Stacking").

    A cart holds at most one money-off coupon (percentage, amount or spend reduction) and at
    most one free-shipping coupon, and a coupon that is not stackable must be alone. A code
    already in the cart is no conflict: applying it again changes nothing.
    """
    others = [c for c in existing if c.code != new.code]
    if len(others) != len(existing):
        return None
    if others and not new.stackable:
        return CouponRejection(
            new.code, RejectionReason.NOT_STACKABLE, f"{new.code} cannot be combined with others"
        )
    lone = next((c for c in others if not c.stackable), None)
    if lone is not None:
        return CouponRejection(
            new.code,
            RejectionReason.NOT_STACKABLE,
            f"{lone.code} is already applied and cannot be combined with another coupon",
        )
    same = next((c for c in others if c.kind.is_money_off == new.kind.is_money_off), None)
    if same is not None:
        what = "money-off" if new.kind.is_money_off else "free-shipping"
        return CouponRejection(
            new.code,
            RejectionReason.NOT_STACKABLE,
            f"Only one {what} coupon per cart: remove {same.code} first",
        )
    return None


def check_applicable(
    coupon: Coupon | None,
    subtotal: Money,
    now: int,
    uses_total: int,
    uses_by_customer: int,
    customer_sub: str | None,
    *,
    code: str = "",
    alongside: Sequence[Coupon] = (),
) -> CouponRejection | None:
    """None if ``coupon`` may be applied now to a cart of ``subtotal`` merchandise, else why not.

    ``coupon`` is None when no coupon has the code (pass the code typed as ``code``).
    ``uses_total`` and ``uses_by_customer`` are the uses consumed so far; ``customer_sub`` is
    None for a guest; ``alongside`` are the coupons already in the cart. The checks run in the
    order of ``RejectionReason`` and the first that fails is reported.
    """
    if coupon is None:
        typed = normalise_code(code)
        return CouponRejection(typed, RejectionReason.UNKNOWN, f"There is no coupon {typed}")
    c = coupon.code

    def no(reason: RejectionReason, detail: str) -> CouponRejection:
        return CouponRejection(c, reason, detail)

    if not coupon.active:
        return no(RejectionReason.INACTIVE, f"{c} is not available")
    if coupon.valid_from is not None and now < coupon.valid_from:
        return no(RejectionReason.NOT_STARTED, f"{c} is valid from {iso(coupon.valid_from)}")
    if coupon.valid_until is not None and now >= coupon.valid_until:
        return no(RejectionReason.EXPIRED, f"{c} expired at {iso(coupon.valid_until)}")
    if coupon.per_customer_limit is not None and customer_sub is None:
        return no(RejectionReason.SIGN_IN_REQUIRED, f"Sign in to use {c}")
    if coupon.usage_limit is not None and uses_total >= coupon.usage_limit:
        return no(RejectionReason.EXHAUSTED, f"{c} has been used up")
    if coupon.per_customer_limit is not None and uses_by_customer >= coupon.per_customer_limit:
        times = coupon.per_customer_limit
        return no(
            RejectionReason.CUSTOMER_LIMIT,
            f"{c} can be used {times} time{'s' if times != 1 else ''} per customer",
        )
    minimum = coupon.minimum_spend
    if subtotal.amount < minimum.amount:
        short = Money(minimum.amount - subtotal.amount)
        return no(
            RejectionReason.BELOW_MINIMUM,
            f"{c} needs a subtotal of {_yuan(minimum)}; add {_yuan(short)} more",
        )
    return check_stack(alongside, coupon)


# --- The discount a coupon gives ---------------------------------------------------------------


def to_discount(coupon: Coupon) -> Discount:
    """The pricing module's discount value for ``coupon`` (its minimum is not re-checked here)."""
    match coupon.kind:
        case CouponKind.PERCENTAGE:
            assert coupon.rate_bp is not None
            return PercentageOff(coupon.code, coupon.rate_bp, coupon.cap)
        case CouponKind.AMOUNT:
            assert coupon.amount is not None
            return AmountOff(coupon.code, coupon.amount)
        case CouponKind.SPEND_REDUCTION:
            assert coupon.threshold is not None
            assert coupon.amount is not None
            return SpendReduction(coupon.code, coupon.threshold, coupon.amount, coupon.repeat)
        case CouponKind.FREE_SHIPPING:
            return FreeShipping(coupon.code)


def to_discounts(coupons: Sequence[Coupon], subtotal: Money) -> list[Discount]:
    """The discounts of a cart's coupons at ``subtotal``: a coupon whose minimum spend the
    cart no longer reaches (lines removed since it was applied) stays in the cart but gives
    nothing until the subtotal reaches it again.
    """
    return [to_discount(c) for c in coupons if subtotal.amount >= c.minimum_spend.amount]
