"""Pricing: subtotal, stacked discounts, shipping and points, exact in integer fen."""

from __future__ import annotations

import dataclasses

import pytest
from commerce.domain.money import MAX_AMOUNT, Money
from commerce.domain.pricing import (
    BASIS_POINTS,
    DEFAULT_SHIPPING,
    STACKING_ORDER,
    AmountOff,
    AppliedDiscount,
    Discount,
    FreeShipping,
    PercentageOff,
    PointsRate,
    PointsRedemption,
    PriceLine,
    PricingError,
    Quote,
    ShippingRule,
    SpendReduction,
    TierPercentage,
    Totals,
    percent_of,
    price,
)
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.unit


def line(amount: int, quantity: int = 1, sku: str = "SKU-1") -> PriceLine:
    return PriceLine(sku, quantity, Money(amount))


def fen(quote: Quote) -> tuple[int, int, int, int, int]:
    t = quote.totals
    return (
        t.subtotal.amount,
        t.discount.amount,
        t.shipping.amount,
        t.points_redeemed.amount,
        t.total.amount,
    )


# --- Examples ---------------------------------------------------------------------------------


def test_empty_cart_costs_nothing() -> None:
    quote = price([])
    assert quote.totals == Totals.zero()
    assert quote.discounts == ()
    assert quote.points_used == 0


def test_lines_sum_to_the_subtotal_and_pay_the_flat_fee_below_the_threshold() -> None:
    quote = price([line(1999, 2), line(500, 3, "SKU-2")])
    assert fen(quote) == (5498, 0, 1000, 0, 6498)


@pytest.mark.parametrize(
    ("subtotal", "shipping"), [(9899, 1000), (9900, 0), (9901, 0), (1, 1000), (0, 1000)]
)
def test_default_shipping_is_free_from_99_yuan(subtotal: int, shipping: int) -> None:
    assert price([line(subtotal)]).totals.shipping.amount == shipping


def test_lines_of_zero_units_ship_nothing() -> None:
    assert fen(price([line(1000, 0)])) == (0, 0, 0, 0, 0)


def test_free_threshold_is_judged_after_discounts() -> None:
    quote = price([line(10_000)], discounts=[AmountOff("TEN", Money(200))])
    assert fen(quote) == (10_000, 200, 1000, 0, 10_800)


def test_shipping_rule_is_configurable() -> None:
    never_free = ShippingRule(flat_fee=Money(1500), free_threshold=None)
    assert price([line(10**9)], never_free).totals.shipping.amount == 1500
    always_free = ShippingRule(flat_fee=Money(0))
    assert price([line(1)], always_free).totals.shipping.amount == 0
    assert ShippingRule(Money(1000), Money(9900)) == DEFAULT_SHIPPING


def test_spend_reduction_needs_its_threshold() -> None:
    coupon = SpendReduction("20OFF199", threshold=Money(19_900), amount=Money(2000))
    assert price([line(19_899)], discounts=[coupon]).totals.discount.amount == 0
    quote = price([line(19_900)], discounts=[coupon])
    assert fen(quote) == (19_900, 2000, 0, 0, 17_900)
    assert quote.discounts == (AppliedDiscount("20OFF199", Money(2000)),)


def test_amount_off_is_clamped_to_the_merchandise() -> None:
    quote = price([line(300)], discounts=[AmountOff("BIG", Money(5000))])
    assert fen(quote) == (300, 300, 1000, 0, 1000)


def test_percentage_rounds_down_to_whole_fen() -> None:
    # 15 % of 999 fen is 149.85 fen: the discount is 149.
    quote = price([line(999)], discounts=[PercentageOff("P15", 1500)])
    assert quote.totals.discount.amount == 149


def test_percentage_cap() -> None:
    coupon = PercentageOff("P50", 5000, cap=Money(3000))
    assert price([line(4000)], discounts=[coupon]).totals.discount.amount == 2000
    assert price([line(40_000)], discounts=[coupon]).totals.discount.amount == 3000


def test_tier_applies_to_what_coupons_left() -> None:
    quote = price(
        [line(20_000)],
        discounts=[TierPercentage("gold", 500), AmountOff("TEN", Money(1000))],
    )
    # 20000 - 1000 = 19000; 5 % of 19000 = 950
    assert fen(quote) == (20_000, 1950, 0, 0, 18_050)
    assert [d.code for d in quote.discounts] == ["TEN", "tier:gold"]


def test_stacking_order_is_by_kind_not_by_position() -> None:
    discounts: list[Discount] = [
        TierPercentage("silver", 1000),
        PercentageOff("P10", 1000),
        AmountOff("A5", Money(500)),
        SpendReduction("S", Money(10_000), Money(1000)),
    ]
    quote = price([line(10_000)], discounts=discounts)
    # 10000 -S-> 9000 -A5-> 8500 -P10(850)-> 7650 -tier(765)-> 6885; below 99 yuan: shipping.
    assert [(d.code, d.amount.amount) for d in quote.discounts] == [
        ("S", 1000),
        ("A5", 500),
        ("P10", 850),
        ("tier:silver", 765),
    ]
    assert fen(quote) == (10_000, 3115, 1000, 0, 7885)
    assert price([line(10_000)], discounts=discounts[::-1]) == quote
    assert (SpendReduction, AmountOff, PercentageOff, TierPercentage) == STACKING_ORDER


def test_free_shipping_coupon_waives_the_fee_and_is_not_a_discount() -> None:
    quote = price([line(500)], discounts=[FreeShipping("SHIPFREE")])
    assert fen(quote) == (500, 0, 0, 0, 500)
    assert quote.shipping_waived_by == "SHIPFREE"
    assert price([], discounts=[FreeShipping("SHIPFREE")]).shipping_waived_by is None


def test_points_pay_in_whole_blocks_and_never_too_much() -> None:
    quote = price([line(500)], points=PointsRedemption(300))
    assert fen(quote) == (500, 0, 1000, 300, 1200)
    assert quote.points_used == 300
    quote = price([line(500)], points=PointsRedemption(1_000_000))
    assert fen(quote) == (500, 0, 1000, 1500, 0)
    assert quote.points_used == 1500


def test_points_at_another_rate() -> None:
    hundred_for_a_yuan = PointsRate(points=100, value=Money(100))
    quote = price([line(250)], points=PointsRedemption(1_000, hundred_for_a_yuan))
    # payable 1250: 12 whole blocks of 100 points = 1200 fen, 1000 points give only 10 blocks
    assert fen(quote) == (250, 0, 1000, 1000, 250)
    quote = price([line(250)], points=PointsRedemption(5_000, hundred_for_a_yuan))
    assert fen(quote) == (250, 0, 1000, 1200, 50)
    assert quote.points_used == 1200


def test_points_share_cap() -> None:
    quote = price([line(10_000)], points=PointsRedemption(100_000, max_share_bp=2000))
    assert fen(quote) == (10_000, 0, 0, 2000, 8000)


def test_wire_shape() -> None:
    totals = price([line(100)]).totals.to_dict()
    assert totals["total"] == {"amount": 1100, "currency": "CNY"}
    assert list(totals) == ["subtotal", "discount", "shipping", "points_redeemed", "total"]


@pytest.mark.parametrize(
    ("amount", "rate", "expected"),
    [(0, 5000, 0), (1, 5000, 0), (3, 3333, 0), (100, 1, 0), (10_000, 1, 1), (999, 10_000, 999)],
)
def test_percent_of_floors(amount: int, rate: int, expected: int) -> None:
    assert percent_of(amount, rate) == expected


@pytest.mark.parametrize(
    "build",
    [
        lambda: PriceLine("S", -1, Money(1)),
        lambda: PriceLine("S", True, Money(1)),
        lambda: PriceLine("S", 1.0, Money(1)),  # type: ignore[arg-type]
        lambda: PriceLine("S", 1, Money(-1)),
        lambda: PercentageOff("P", 10_001),
        lambda: PercentageOff("P", -1),
        lambda: PercentageOff("P", 10, cap=Money(-1)),
        lambda: TierPercentage("t", 2.5),  # type: ignore[arg-type]
        lambda: AmountOff("A", Money(-5)),
        lambda: SpendReduction("S", Money(-1), Money(1)),
        lambda: ShippingRule(Money(-1)),
        lambda: PointsRate(0, Money(1)),
        lambda: PointsRate(1, Money(0)),
        lambda: PointsRedemption(-1),
        lambda: PointsRedemption(1, max_share_bp=BASIS_POINTS + 1),
        lambda: percent_of(-1, 10),
    ],
)
def test_rejects_impossible_inputs(build: object) -> None:
    assert callable(build)
    with pytest.raises(PricingError):
        build()


# --- Properties -------------------------------------------------------------------------------

prices = st.integers(min_value=0, max_value=MAX_AMOUNT)
small_prices = st.integers(min_value=0, max_value=50_000)
rates = st.integers(min_value=0, max_value=BASIS_POINTS)
price_lines = st.lists(
    st.builds(
        PriceLine,
        st.from_regex(r"[A-Z]{1,3}", fullmatch=True),
        st.integers(min_value=0, max_value=99),
        st.one_of(small_prices, prices).map(Money),
    ),
    max_size=6,
)
codes = st.sampled_from(["A", "B", "C"])
discount_values: st.SearchStrategy[Discount] = st.one_of(
    st.builds(SpendReduction, codes, small_prices.map(Money), small_prices.map(Money)),
    st.builds(AmountOff, codes, st.one_of(small_prices, prices).map(Money)),
    st.builds(PercentageOff, codes, rates, st.none() | small_prices.map(Money)),
    st.builds(TierPercentage, st.sampled_from(["silver", "gold"]), rates),
    st.builds(FreeShipping, codes),
)
shipping_rules = st.builds(
    ShippingRule, small_prices.map(Money), st.none() | small_prices.map(Money)
)
redemptions = st.none() | st.builds(
    PointsRedemption,
    st.integers(min_value=0, max_value=10**12),
    st.builds(
        PointsRate,
        st.integers(min_value=1, max_value=1000),
        st.integers(min_value=1, max_value=1000).map(Money),
    ),
    rates,
)


@settings(max_examples=300)
@given(price_lines, shipping_rules, st.lists(discount_values, max_size=5), redemptions)
def test_totals_add_up_exactly_and_never_go_negative(
    lines: list[PriceLine],
    shipping: ShippingRule,
    discounts: list[Discount],
    points: PointsRedemption | None,
) -> None:
    quote = price(lines, shipping, discounts, points)
    t = quote.totals
    for field in dataclasses.fields(t):
        money = getattr(t, field.name)
        assert type(money) is Money
        assert type(money.amount) is int
        assert money.currency == "CNY"
    assert t.subtotal.amount == sum(x.unit_price.amount * x.quantity for x in lines)
    assert t.total.amount == (
        t.subtotal.amount - t.discount.amount + t.shipping.amount - t.points_redeemed.amount
    )
    assert 0 <= t.discount.amount <= t.subtotal.amount
    assert (
        0 <= t.points_redeemed.amount <= t.subtotal.amount - t.discount.amount + t.shipping.amount
    )
    assert t.shipping.amount in {0, shipping.flat_fee.amount}
    assert t.total.amount >= 0
    assert sum(d.amount.amount for d in quote.discounts) == t.discount.amount
    assert all(d.amount.amount >= 0 for d in quote.discounts)
    assert type(quote.points_used) is int
    if points is None:
        assert quote.points_used == 0 == t.points_redeemed.amount
    else:
        assert quote.points_used <= points.points
        assert quote.points_used % points.rate.points == 0
        blocks = quote.points_used // points.rate.points
        assert t.points_redeemed.amount == blocks * points.rate.value.amount


@given(price_lines, st.lists(discount_values, max_size=5))
def test_each_discount_takes_at_most_what_is_left(
    lines: list[PriceLine], discounts: list[Discount]
) -> None:
    quote = price(lines, discounts=discounts)
    left = quote.totals.subtotal.amount
    for applied in quote.discounts:
        assert 0 <= applied.amount.amount <= left
        left -= applied.amount.amount
    assert left == quote.totals.subtotal.amount - quote.totals.discount.amount


@given(price_lines, st.lists(discount_values, max_size=5))
def test_price_does_not_depend_on_the_order_of_kinds(
    lines: list[PriceLine], discounts: list[Discount]
) -> None:
    by_kind = sorted(
        discounts,
        key=lambda d: STACKING_ORDER.index(type(d)) if not isinstance(d, FreeShipping) else -1,
    )
    assert price(lines, discounts=by_kind).totals == price(lines, discounts=discounts).totals


@given(prices, rates, st.none() | prices)
def test_percentage_never_exceeds_its_rate_or_cap(base: int, rate: int, cap: int | None) -> None:
    off = PercentageOff("P", rate, None if cap is None else Money(cap)).reduction(base)
    assert type(off) is int
    assert 0 <= off <= base
    assert off * BASIS_POINTS <= base * rate < (off + 1) * BASIS_POINTS or (
        cap is not None and off == cap
    )
    if cap is not None:
        assert off <= cap


@given(price_lines, shipping_rules)
def test_no_discounts_means_discount_zero(lines: list[PriceLine], shipping: ShippingRule) -> None:
    t = price(lines, shipping).totals
    assert t.discount == Money(0)
    assert t.points_redeemed == Money(0)
    units = sum(x.quantity for x in lines)
    expected = shipping.fee(units, t.subtotal.amount)
    assert t.shipping.amount == expected
    assert t.total.amount == t.subtotal.amount + expected
