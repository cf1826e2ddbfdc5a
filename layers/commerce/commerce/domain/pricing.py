"""Cart and order totals: one pure function from lines, discounts, shipping and points to Money.

Every amount is an integer number of fen. The only rounding anywhere is the floor of a
percentage (a discount never exceeds its stated rate); points are redeemed in whole blocks, so
they need none. docs/pricing.md states the rules; this module is their single implementation.

The result always satisfies, exactly::

    total = subtotal - discount + shipping - points_redeemed
    0 <= discount <= subtotal
    0 <= points_redeemed <= subtotal - discount + shipping
    total >= 0
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from commerce.domain.money import DEFAULT_CURRENCY, Money

#: Rates are whole basis points: 10_000 bp = 100 %, 850 bp = 8.5 %.
BASIS_POINTS: Final = 10_000


class PricingError(ValueError):
    """Inputs no cart could hold (negative quantities or prices, rates outside 0..100 %)."""


def _check_int(value: object, name: str, *, minimum: int = 0, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PricingError(f"{name} must be an integer")
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f"..{maximum}"
        raise PricingError(f"{name} must be in {minimum}{upper}, got {value}")


def _check_amount(money: Money, name: str) -> None:
    if money.currency != DEFAULT_CURRENCY:
        raise PricingError(f"{name} must be in {DEFAULT_CURRENCY}")
    if money.amount < 0:
        raise PricingError(f"{name} must not be negative")


def percent_of(amount: int, rate_bp: int) -> int:
    """``rate_bp`` basis points of ``amount`` fen, rounded down to a whole fen (exact integers)."""
    _check_int(amount, "amount")
    _check_int(rate_bp, "rate_bp", maximum=BASIS_POINTS)
    return amount * rate_bp // BASIS_POINTS


@dataclass(frozen=True)
class PriceLine:
    """One line to price: ``quantity`` units of ``sku`` at ``unit_price`` each."""

    sku: str
    quantity: int
    unit_price: Money

    def __post_init__(self) -> None:
        _check_int(self.quantity, "quantity")
        _check_amount(self.unit_price, "unit_price")

    @property
    def amount(self) -> Money:
        return self.unit_price.times(self.quantity)


#: 10.00 CNY per order, free from 99.00 CNY of merchandise after discounts.
DEFAULT_FLAT_FEE: Final = Money(1000)
DEFAULT_FREE_THRESHOLD: Final = Money(9900)


@dataclass(frozen=True)
class ShippingRule:
    """A flat fee per order, waived once the merchandise after discounts reaches a threshold.

    An order with no units ships nothing and pays nothing. ``free_threshold=None`` means
    shipping is never free by amount (a free-shipping coupon still waives it).
    """

    flat_fee: Money = DEFAULT_FLAT_FEE
    free_threshold: Money | None = DEFAULT_FREE_THRESHOLD

    def __post_init__(self) -> None:
        _check_amount(self.flat_fee, "flat_fee")
        if self.free_threshold is not None:
            _check_amount(self.free_threshold, "free_threshold")

    def fee(self, units: int, merchandise_after_discount: int) -> int:
        """Shipping in fen for ``units`` units whose discounted merchandise is the given fen."""
        if units == 0:
            return 0
        if self.free_threshold is not None and (
            merchandise_after_discount >= self.free_threshold.amount
        ):
            return 0
        return self.flat_fee.amount


DEFAULT_SHIPPING: Final = ShippingRule()


# --- Discounts. Each kind is a value; ``price`` applies them in STACKING_ORDER. -------------


@dataclass(frozen=True)
class SpendReduction:
    """Coupon: ``amount`` off once the merchandise reaches ``threshold`` (e.g. 20 off 199).

    With ``repeat``, ``amount`` off for every whole ``threshold`` reached (every 200 off 20:
    40 off 450); ``threshold`` must then be at least one fen.
    """

    code: str
    threshold: Money
    amount: Money
    repeat: bool = False

    def __post_init__(self) -> None:
        _check_amount(self.threshold, "threshold")
        _check_amount(self.amount, "amount")
        if self.repeat and self.threshold.amount == 0:
            raise PricingError("a repeating spend reduction needs a threshold of at least one fen")

    def reduction(self, base: int) -> int:
        if self.repeat:
            return (base // self.threshold.amount) * self.amount.amount
        return self.amount.amount if base >= self.threshold.amount else 0


@dataclass(frozen=True)
class AmountOff:
    """Coupon: a fixed ``amount`` off the merchandise (never more than the merchandise)."""

    code: str
    amount: Money

    def __post_init__(self) -> None:
        _check_amount(self.amount, "amount")

    def reduction(self, base: int) -> int:
        del base
        return self.amount.amount


@dataclass(frozen=True)
class PercentageOff:
    """Coupon: ``rate_bp`` basis points off the merchandise, at most ``cap`` if one is set."""

    code: str
    rate_bp: int
    cap: Money | None = None

    def __post_init__(self) -> None:
        _check_int(self.rate_bp, "rate_bp", maximum=BASIS_POINTS)
        if self.cap is not None:
            _check_amount(self.cap, "cap")

    def reduction(self, base: int) -> int:
        off = percent_of(base, self.rate_bp)
        return off if self.cap is None else min(off, self.cap.amount)


@dataclass(frozen=True)
class TierPercentage:
    """Member tier: ``rate_bp`` basis points off what the coupons left of the merchandise."""

    tier: str
    rate_bp: int

    def __post_init__(self) -> None:
        _check_int(self.rate_bp, "rate_bp", maximum=BASIS_POINTS)

    @property
    def code(self) -> str:
        return f"tier:{self.tier}"

    def reduction(self, base: int) -> int:
        return percent_of(base, self.rate_bp)


@dataclass(frozen=True)
class FreeShipping:
    """Coupon: the shipping fee is waived (it is not counted as a merchandise discount)."""

    code: str


MerchandiseDiscount = SpendReduction | AmountOff | PercentageOff | TierPercentage
Discount = MerchandiseDiscount | FreeShipping

#: Merchandise discounts apply kind by kind in this order, whatever order they are given in;
#: within one kind, in the order given. Each sees the merchandise the ones before it left.
STACKING_ORDER: Final[tuple[type[MerchandiseDiscount], ...]] = (
    SpendReduction,
    AmountOff,
    PercentageOff,
    TierPercentage,
)


ONE_FEN: Final = Money(1)


@dataclass(frozen=True)
class PointsRate:
    """``points`` loyalty points are worth ``value``; they are redeemed in whole blocks."""

    points: int = 1
    value: Money = ONE_FEN

    def __post_init__(self) -> None:
        _check_int(self.points, "points", minimum=1)
        _check_amount(self.value, "value")
        if self.value.amount == 0:
            raise PricingError("a block of points must be worth at least one fen")


#: One point is worth one fen: 100 points pay 1.00 CNY.
DEFAULT_POINTS_RATE: Final = PointsRate()


@dataclass(frozen=True)
class PointsRedemption:
    """A request to pay with up to ``points`` points, at most ``max_share_bp`` of the payable."""

    points: int
    rate: PointsRate = DEFAULT_POINTS_RATE
    max_share_bp: int = BASIS_POINTS

    def __post_init__(self) -> None:
        _check_int(self.points, "points")
        _check_int(self.max_share_bp, "max_share_bp", maximum=BASIS_POINTS)

    def redeem(self, payable: int) -> tuple[int, int]:
        """(points used, fen redeemed) against ``payable`` fen: whole blocks, never too many."""
        limit = percent_of(payable, self.max_share_bp)
        blocks = min(self.points // self.rate.points, limit // self.rate.value.amount)
        return blocks * self.rate.points, blocks * self.rate.value.amount


# --- Results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    """The five figures of a cart or order, as API.md names them."""

    subtotal: Money
    discount: Money
    shipping: Money
    points_redeemed: Money
    total: Money

    @classmethod
    def zero(cls) -> Totals:
        nothing = Money.zero()
        return cls(nothing, nothing, nothing, nothing, nothing)

    def to_dict(self) -> dict[str, dict[str, int | str]]:
        return {
            "subtotal": self.subtotal.to_dict(),
            "discount": self.discount.to_dict(),
            "shipping": self.shipping.to_dict(),
            "points_redeemed": self.points_redeemed.to_dict(),
            "total": self.total.to_dict(),
        }


@dataclass(frozen=True)
class AppliedDiscount:
    """What one merchandise discount actually took off (zero when it did not apply)."""

    code: str
    amount: Money


@dataclass(frozen=True)
class Quote:
    """Totals and how they came about: per-discount amounts, waived shipping, points used."""

    totals: Totals
    discounts: tuple[AppliedDiscount, ...] = ()
    shipping_waived_by: str | None = None
    points_used: int = 0


def _stacked(discounts: Iterable[Discount]) -> list[MerchandiseDiscount]:
    given = list(discounts)
    ordered: list[MerchandiseDiscount] = []
    for kind in STACKING_ORDER:
        ordered.extend(d for d in given if isinstance(d, kind))
    return ordered


def price(
    lines: Sequence[PriceLine],
    shipping: ShippingRule = DEFAULT_SHIPPING,
    discounts: Sequence[Discount] = (),
    points: PointsRedemption | None = None,
) -> Quote:
    """Price ``lines``: subtotal, stacked discounts, shipping, then points (docs/pricing.md)."""
    subtotal = sum(line.amount.amount for line in lines)
    units = sum(line.quantity for line in lines)

    remaining = subtotal
    applied: list[AppliedDiscount] = []
    for discount in _stacked(discounts):
        off = min(discount.reduction(remaining), remaining)
        remaining -= off
        applied.append(AppliedDiscount(discount.code, Money(off)))
    discount_total = subtotal - remaining

    waiver = next((d.code for d in discounts if isinstance(d, FreeShipping)), None)
    fee = 0 if waiver is not None else shipping.fee(units, remaining)

    payable = remaining + fee
    points_used, redeemed = (0, 0) if points is None else points.redeem(payable)

    totals = Totals(
        subtotal=Money(subtotal),
        discount=Money(discount_total),
        shipping=Money(fee),
        points_redeemed=Money(redeemed),
        total=Money(payable - redeemed),
    )
    return Quote(totals, tuple(applied), waiver if units else None, points_used)
