"""Coupons: definitions and their field errors, when one applies, which combine, what it takes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from commerce.domain.coupons import (
    Coupon,
    CouponDefinitionError,
    CouponKind,
    CouponRejection,
    RejectionReason,
    check_applicable,
    check_stack,
    normalise_code,
    parse_coupon,
    patch_coupon,
    to_discount,
    to_discounts,
)
from commerce.domain.money import Money
from commerce.domain.pricing import (
    AmountOff,
    FreeShipping,
    PercentageOff,
    PriceLine,
    SpendReduction,
    price,
)
from commerce.errors import CouponInvalid, FieldError
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

K = CouponKind
NOW = 1_750_000_000


def pct(code: str = "P10", **kw: object) -> Coupon:
    return Coupon(code, K.PERCENTAGE, rate_bp=1000, **kw)  # type: ignore[arg-type]


def off(code: str = "A5-OFF", **kw: object) -> Coupon:
    return Coupon(code, K.AMOUNT, amount=Money(500), **kw)  # type: ignore[arg-type]


def spend(code: str = "S20", **kw: object) -> Coupon:
    return Coupon(code, K.SPEND_REDUCTION, threshold=Money(20_000), amount=Money(2000), **kw)  # type: ignore[arg-type]


def ship(code: str = "SHIP", **kw: object) -> Coupon:
    return Coupon(code, K.FREE_SHIPPING, **kw)  # type: ignore[arg-type]


def fields_of(result: Coupon | list[FieldError]) -> dict[str, str]:
    assert isinstance(result, list), result
    return {e.field: e.message for e in result}


# --- Definitions ------------------------------------------------------------------------------


def test_parse_each_kind_and_normalise_the_code() -> None:
    money = {"amount": 500, "currency": "CNY"}
    assert parse_coupon({"code": " save-10 ", "kind": "percentage", "rate_bp": 1000}) == Coupon(
        "SAVE-10", K.PERCENTAGE, rate_bp=1000
    )
    assert parse_coupon({"code": "A5A", "kind": "amount", "amount": money}) == Coupon(
        "A5A", K.AMOUNT, amount=Money(500)
    )
    parsed = parse_coupon(
        {
            "code": "MJ20",
            "kind": "spend_reduction",
            "threshold": {"amount": 20_000},
            "amount": {"amount": 2000, "currency": "CNY"},
            "repeat": True,
            "min_spend": money,
            "valid_from": "2025-06-01T00:00:00Z",
            "valid_until": 1_800_000_000,
            "usage_limit": 100,
            "per_customer_limit": 1,
            "active": False,
            "stackable": False,
        }
    )
    assert parsed == Coupon(
        "MJ20",
        K.SPEND_REDUCTION,
        threshold=Money(20_000),
        amount=Money(2000),
        repeat=True,
        min_spend=Money(500),
        valid_from=1_748_736_000,
        valid_until=1_800_000_000,
        usage_limit=100,
        per_customer_limit=1,
        active=False,
        stackable=False,
    )
    assert parse_coupon({"code": "FREESHIP", "kind": "free_shipping"}) == ship("FREESHIP")
    assert normalise_code("  vip-2025\n") == "VIP-2025"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"code": "AB", "kind": "free_shipping"}, "code"),
        ({"code": "A" * 33, "kind": "free_shipping"}, "code"),
        ({"code": "SAVE_10", "kind": "free_shipping"}, "code"),
        ({"code": "折扣券", "kind": "free_shipping"}, "code"),
        ({"code": "CODE", "kind": "bogus"}, "kind"),
        ({"code": "CODE", "kind": "percentage"}, "rate_bp"),
        ({"code": "CODE", "kind": "percentage", "rate_bp": 0}, "rate_bp"),
        ({"code": "CODE", "kind": "percentage", "rate_bp": 10_000}, "rate_bp"),
        ({"code": "CODE", "kind": "percentage", "rate_bp": 12.5}, "rate_bp"),
        ({"code": "CODE", "kind": "percentage", "rate_bp": True}, "rate_bp"),
        ({"code": "CODE", "kind": "percentage", "rate_bp": 10, "cap": {"amount": 0}}, "cap"),
        ({"code": "CODE", "kind": "amount"}, "amount"),
        ({"code": "CODE", "kind": "amount", "amount": {"amount": 0}}, "amount"),
        ({"code": "CODE", "kind": "amount", "amount": {"amount": -1}}, "amount"),
        ({"code": "CODE", "kind": "amount", "amount": 500}, "amount"),
        ({"code": "CODE", "kind": "amount", "amount": {"amount": 5, "currency": "USD"}}, "amount"),
        ({"code": "CODE", "kind": "amount", "amount": {"amount": 10**11}}, "amount"),
        ({"code": "CODE", "kind": "spend_reduction", "amount": {"amount": 5}}, "threshold"),
        (
            {
                "code": "CODE",
                "kind": "spend_reduction",
                "threshold": {"amount": 100},
                "amount": {"amount": 101},
            },
            "amount",
        ),
        ({"code": "CODE", "kind": "amount", "amount": {"amount": 5}, "rate_bp": 10}, "rate_bp"),
        ({"code": "CODE", "kind": "amount", "amount": {"amount": 5}, "repeat": True}, "repeat"),
        ({"code": "CODE", "kind": "free_shipping", "cap": {"amount": 5}}, "cap"),
        ({"code": "CODE", "kind": "free_shipping", "min_spend": {"amount": -1}}, "min_spend"),
        (
            {"code": "CODE", "kind": "free_shipping", "valid_from": 10, "valid_until": 10},
            "valid_until",
        ),
        (
            {"code": "CODE", "kind": "free_shipping", "valid_from": 11, "valid_until": 10},
            "valid_until",
        ),
        ({"code": "CODE", "kind": "free_shipping", "valid_from": "yesterday"}, "valid_from"),
        (
            {"code": "CODE", "kind": "free_shipping", "valid_from": "2025-01-01T00:00:00"},
            "valid_from",
        ),
        ({"code": "CODE", "kind": "free_shipping", "valid_until": -5}, "valid_until"),
        ({"code": "CODE", "kind": "free_shipping", "usage_limit": 0}, "usage_limit"),
        ({"code": "CODE", "kind": "free_shipping", "usage_limit": "10"}, "usage_limit"),
        ({"code": "CODE", "kind": "free_shipping", "per_customer_limit": 0}, "per_customer_limit"),
        ({"code": "CODE", "kind": "free_shipping", "active": "yes"}, "active"),
        ({"code": "CODE", "kind": "free_shipping", "stackable": 1}, "stackable"),
        ({"code": "CODE", "kind": "free_shipping", "colour": "red"}, "colour"),
    ],
)
def test_definition_field_errors(data: dict[str, object], field: str) -> None:
    assert field in fields_of(parse_coupon(data))


def test_every_bad_field_is_reported_at_once() -> None:
    errors = fields_of(
        parse_coupon(
            {
                "code": "x",
                "kind": "percentage",
                "rate_bp": 0,
                "usage_limit": 0,
                "valid_from": 5,
                "valid_until": 1,
            }
        )
    )
    assert set(errors) == {"code", "rate_bp", "usage_limit", "valid_until"}
    assert set(fields_of(parse_coupon({"code": "x"}))) == {"code", "kind"}


def test_coupons_built_in_code_are_checked_too() -> None:
    with pytest.raises(CouponDefinitionError) as caught:
        Coupon("ok-code", K.PERCENTAGE, rate_bp=0)
    assert {e.field for e in caught.value.errors} == {"code", "rate_bp"}


def test_patch_revalidates_and_keeps_identity() -> None:
    coupon = pct(usage_limit=10)
    patched = patch_coupon(coupon, {"rate_bp": 1500, "usage_limit": None, "code": "p10"})
    assert patched == Coupon("P10", K.PERCENTAGE, rate_bp=1500)
    assert fields_of(patch_coupon(coupon, {"rate_bp": 0})) == {
        "rate_bp": "must be whole basis points, 1..9999"
    }
    assert set(fields_of(patch_coupon(coupon, {"code": "OTHER", "kind": "amount"}))) == {
        "code",
        "kind",
    }


coupon_codes = st.from_regex(r"[A-Z0-9-]{3,8}", fullmatch=True)
positive = st.integers(min_value=1, max_value=100_000).map(Money)
limits = st.none() | st.integers(min_value=1, max_value=1000)
times = st.none() | st.integers(min_value=0, max_value=2_000_000_000)


@st.composite
def coupons(draw: st.DrawFn, code: st.SearchStrategy[str] = coupon_codes) -> Coupon:
    """Any valid coupon."""
    kind = draw(st.sampled_from(K))
    extra: dict[str, object] = {}
    if kind is K.PERCENTAGE:
        extra = {"rate_bp": draw(st.integers(1, 9999)), "cap": draw(st.none() | positive)}
    elif kind is K.AMOUNT:
        extra = {"amount": draw(positive)}
    elif kind is K.SPEND_REDUCTION:
        threshold = draw(st.integers(1, 100_000))
        extra = {
            "threshold": Money(threshold),
            "amount": Money(draw(st.integers(1, threshold))),
            "repeat": draw(st.booleans()),
        }
    start, end = draw(times), draw(times)
    if start is not None and end is not None and end <= start:
        end = start + 1
    return Coupon(
        draw(code),
        kind,
        min_spend=Money(draw(st.integers(0, 50_000))),
        valid_from=start,
        valid_until=end,
        usage_limit=draw(limits),
        per_customer_limit=draw(limits),
        active=draw(st.booleans()),
        stackable=draw(st.booleans()),
        **extra,  # type: ignore[arg-type]
    )


@settings(deadline=None)
@given(coupons())
def test_the_wire_shape_parses_back_to_the_same_coupon(coupon: Coupon) -> None:
    assert parse_coupon(coupon.to_dict()) == coupon


# --- Applicability ----------------------------------------------------------------------------


def apply(
    coupon: Coupon | None,
    subtotal: int = 50_000,
    now: int = NOW,
    uses_total: int = 0,
    uses_by_customer: int = 0,
    sub: str | None = "customer-1",
    alongside: tuple[Coupon, ...] = (),
) -> CouponRejection | None:
    return check_applicable(
        coupon,
        Money(subtotal),
        now,
        uses_total,
        uses_by_customer,
        sub,
        code="nope",
        alongside=alongside,
    )


@pytest.mark.parametrize(
    ("reason", "call"),
    [
        (RejectionReason.UNKNOWN, lambda: apply(None)),
        (RejectionReason.INACTIVE, lambda: apply(pct(active=False))),
        (RejectionReason.NOT_STARTED, lambda: apply(pct(valid_from=NOW + 1))),
        (RejectionReason.EXPIRED, lambda: apply(pct(valid_until=NOW))),
        (RejectionReason.SIGN_IN_REQUIRED, lambda: apply(pct(per_customer_limit=1), sub=None)),
        (RejectionReason.EXHAUSTED, lambda: apply(pct(usage_limit=100), uses_total=100)),
        (
            RejectionReason.CUSTOMER_LIMIT,
            lambda: apply(pct(per_customer_limit=2), uses_by_customer=2),
        ),
        (RejectionReason.BELOW_MINIMUM, lambda: apply(pct(min_spend=Money(50_001)))),
        (RejectionReason.BELOW_MINIMUM, lambda: apply(spend(), subtotal=19_999)),
        (RejectionReason.NOT_STACKABLE, lambda: apply(pct(), alongside=(off(),))),
        (RejectionReason.NOT_STACKABLE, lambda: apply(ship(stackable=False), alongside=(off(),))),
    ],
)
def test_every_rejection_reason(
    reason: RejectionReason, call: Callable[[], CouponRejection | None]
) -> None:
    rejection = call()
    assert rejection is not None
    assert rejection.reason is reason
    assert rejection.detail
    error = rejection.to_error()
    assert isinstance(error, CouponInvalid)
    assert error.status == 422
    assert error.type == "coupon-invalid"
    assert error.extensions == {"code": rejection.code, "reason": reason.value}


@pytest.mark.parametrize(
    "call",
    [
        lambda: apply(pct()),
        lambda: apply(pct(valid_from=NOW, valid_until=NOW + 1)),
        lambda: apply(pct(usage_limit=100), uses_total=99),
        lambda: apply(pct(per_customer_limit=2), uses_by_customer=1),
        lambda: apply(pct(min_spend=Money(50_000))),
        lambda: apply(spend(), subtotal=20_000),
        lambda: apply(
            pct(usage_limit=5), sub=None
        ),  # guests may use coupons without a per-customer limit
        lambda: apply(pct(), alongside=(ship(),)),
        lambda: apply(pct(), alongside=(pct(),)),  # applying a code again changes nothing
    ],
)
def test_applicable(call: Callable[[], CouponRejection | None]) -> None:
    assert call() is None


def test_unknown_reports_the_code_as_typed_normalised() -> None:
    rejection = check_applicable(None, Money(1), NOW, 0, 0, None, code=" summer ")
    assert rejection == CouponRejection(
        "SUMMER", RejectionReason.UNKNOWN, "There is no coupon SUMMER"
    )


def test_the_first_failing_check_is_reported() -> None:
    everything_wrong = pct(
        active=False, valid_until=NOW, usage_limit=1, per_customer_limit=1, min_spend=Money(10**6)
    )
    first = apply(everything_wrong, uses_total=5, uses_by_customer=5)
    assert first is not None
    assert first.reason is RejectionReason.INACTIVE
    both_limits = apply(pct(usage_limit=1, per_customer_limit=1), uses_total=1, uses_by_customer=1)
    assert both_limits is not None
    assert both_limits.reason is RejectionReason.EXHAUSTED


def test_below_minimum_says_how_much_is_missing() -> None:
    rejection = apply(spend(), subtotal=19_950)
    assert rejection is not None
    assert rejection.detail == "S20 needs a subtotal of 200.00 CNY; add 0.50 CNY more"


# --- Stacking ---------------------------------------------------------------------------------


def test_one_money_off_and_one_free_shipping_combine() -> None:
    assert check_stack([pct()], ship()) is None
    assert check_stack([ship()], spend()) is None
    assert check_stack([], pct(stackable=False)) is None


@pytest.mark.parametrize(
    ("existing", "new"),
    [
        ([pct()], off()),
        ([off()], spend()),
        ([spend()], pct("P20")),
        ([ship()], ship("SHIP2")),
        ([pct(stackable=False)], ship()),
        ([ship()], pct(stackable=False)),
        ([pct(), ship()], off()),
    ],
)
def test_stacking_refusals(existing: list[Coupon], new: Coupon) -> None:
    rejection = check_stack(existing, new)
    assert rejection is not None
    assert rejection.reason is RejectionReason.NOT_STACKABLE
    assert rejection.code == new.code


@settings(deadline=None)
@given(st.lists(coupons(st.sampled_from(["AAA", "BBB", "CCC", "DDD"])), max_size=8))
def test_a_cart_built_by_the_stacking_rule_always_obeys_it(offered: list[Coupon]) -> None:
    cart: list[Coupon] = []
    for coupon in offered:
        if check_stack(cart, coupon) is None and coupon.code not in {c.code for c in cart}:
            cart.append(coupon)
    assert sum(c.kind.is_money_off for c in cart) <= 1
    assert sum(not c.kind.is_money_off for c in cart) <= 1
    assert len(cart) <= 2
    if any(not c.stackable for c in cart):
        assert len(cart) == 1


# --- Discounts --------------------------------------------------------------------------------


def test_to_discount_maps_each_kind_to_pricing() -> None:
    assert to_discount(pct(cap=Money(3000))) == PercentageOff("P10", 1000, Money(3000))
    assert to_discount(off()) == AmountOff("A5-OFF", Money(500))
    assert to_discount(spend(repeat=True)) == SpendReduction(
        "S20", Money(20_000), Money(2000), repeat=True
    )
    assert to_discount(ship()) == FreeShipping("SHIP")


def test_repeating_spend_reduction_takes_per_whole_threshold() -> None:
    every_200_off_20 = to_discount(spend(repeat=True))
    once = to_discount(spend())
    lines = [PriceLine("SKU-1", 1, Money(45_000))]
    assert price(lines, discounts=[every_200_off_20]).totals.discount == Money(4000)
    assert price(lines, discounts=[once]).totals.discount == Money(2000)
    assert price(
        [PriceLine("SKU-1", 1, Money(19_999))], discounts=[every_200_off_20]
    ).totals.discount == Money(0)


def test_to_discounts_skips_coupons_whose_minimum_the_cart_fell_below() -> None:
    cart = [spend(), ship(min_spend=Money(5000))]
    assert to_discounts(cart, Money(30_000)) == [to_discount(spend()), FreeShipping("SHIP")]
    assert to_discounts(cart, Money(19_999)) == [FreeShipping("SHIP")]
    assert to_discounts(cart, Money(4999)) == []
