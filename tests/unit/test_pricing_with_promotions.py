"""Coupons, a member tier and points together, priced by pricing.price: exact, never negative."""

from __future__ import annotations

import dataclasses

import pytest
from commerce.domain.coupons import Coupon, CouponKind, check_stack, to_discounts
from commerce.domain.money import Money
from commerce.domain.points import PointsPolicy, plan_redemption
from commerce.domain.pricing import (
    BASIS_POINTS,
    AmountOff,
    Discount,
    PercentageOff,
    PointsRate,
    PriceLine,
    PricingError,
    SpendReduction,
    TierPercentage,
    price,
)
from commerce.domain.tiers import DEFAULT_TIERS, Tier, tier_for, to_discount
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

K = CouponKind


def test_a_worked_example() -> None:
    """Every 200 off 20, free shipping, gold (15 %), then 5,000 points (50 % cap not reached).

    450.00 -> 40.00 off (two whole 200s) -> 410.00 -> gold 61.50 off -> 348.50; shipping waived;
    5,000 points pay 50.00 -> total 298.50.
    """
    cart = [
        Coupon(
            "MJ200-20", K.SPEND_REDUCTION, threshold=Money(20_000), amount=Money(2000), repeat=True
        ),
        Coupon("SHIPFREE", K.FREE_SHIPPING),
    ]
    lines = [PriceLine("SKU-1", 3, Money(15_000))]
    discounts: list[Discount] = [*to_discounts(cart, Money(45_000))]
    gold = to_discount(tier_for(Money(600_000)))
    assert gold is not None
    discounts.append(gold)
    before = price(lines, discounts=discounts)
    plan = plan_redemption(balance=8000, requested=5000, totals=before.totals)
    quote = price(lines, discounts=discounts, points=plan.request)
    assert [(d.code, d.amount.amount) for d in quote.discounts] == [
        ("MJ200-20", 4000),
        ("tier:gold", 6150),
    ]
    assert quote.shipping_waived_by == "SHIPFREE"
    assert quote.points_used == 5000
    t = quote.totals
    assert (t.subtotal, t.discount, t.shipping, t.points_redeemed, t.total) == (
        Money(45_000),
        Money(10_150),
        Money(0),
        Money(5000),
        Money(29_850),
    )


money = st.integers(min_value=1, max_value=60_000)


@st.composite
def coupon(draw: st.DrawFn, code: str) -> Coupon:
    kind = draw(st.sampled_from(K))
    min_spend = Money(draw(st.integers(min_value=0, max_value=30_000)))
    stackable = draw(st.booleans())
    if kind is K.PERCENTAGE:
        cap = draw(st.none() | money.map(Money))
        rate = draw(st.integers(min_value=1, max_value=9999))
        return Coupon(code, kind, rate_bp=rate, cap=cap, min_spend=min_spend, stackable=stackable)
    if kind is K.AMOUNT:
        return Coupon(
            code, kind, amount=Money(draw(money)), min_spend=min_spend, stackable=stackable
        )
    if kind is K.SPEND_REDUCTION:
        threshold = draw(money)
        return Coupon(
            code,
            kind,
            threshold=Money(threshold),
            amount=Money(draw(st.integers(min_value=1, max_value=threshold))),
            repeat=draw(st.booleans()),
            min_spend=min_spend,
            stackable=stackable,
        )
    return Coupon(code, kind, min_spend=min_spend, stackable=stackable)


offered_coupons = st.tuples(coupon("AAA"), coupon("BBB"), coupon("CCC"))
lines = st.lists(
    st.builds(
        PriceLine,
        st.sampled_from(["SKU-1", "SKU-2", "SKU-3"]),
        st.integers(min_value=0, max_value=99),
        st.integers(min_value=0, max_value=50_000).map(Money),
    ),
    max_size=4,
    unique_by=lambda line: line.sku,
)
tiers = st.sampled_from(DEFAULT_TIERS.tiers) | st.builds(
    Tier, st.just("custom"), st.just(Money(0)), st.integers(min_value=0, max_value=BASIS_POINTS - 1)
)
policies = st.builds(
    PointsPolicy,
    rate=st.builds(
        PointsRate,
        st.integers(min_value=1, max_value=200),
        st.integers(min_value=1, max_value=200).map(Money),
    ),
    max_share_bp=st.integers(min_value=0, max_value=BASIS_POINTS),
)


@settings(max_examples=400, deadline=None)
@given(
    lines,
    offered_coupons,
    tiers,
    policies,
    st.integers(min_value=0, max_value=10**7),
    st.integers(min_value=0, max_value=10**7),
)
def test_coupons_tier_and_points_together(
    cart_lines: list[PriceLine],
    offered: tuple[Coupon, ...],
    tier: Tier,
    policy: PointsPolicy,
    balance: int,
    requested: int,
) -> None:
    # The cart keeps the coupons the stacking rule lets in, in the order they were applied.
    cart: list[Coupon] = []
    for candidate in offered:
        if check_stack(cart, candidate) is None:
            cart.append(candidate)
    subtotal = Money(sum(line.amount.amount for line in cart_lines))
    discounts: list[Discount] = [*to_discounts(cart, subtotal)]
    tier_discount = to_discount(tier)
    if tier_discount is not None:
        discounts.append(tier_discount)

    before = price(cart_lines, discounts=discounts)
    plan = plan_redemption(balance, min(requested, balance), before.totals, policy)
    quote = price(cart_lines, discounts=discounts, points=plan.request)
    t = quote.totals

    # Exact integers in CNY, nothing negative, and the parts add up to the fen.
    for field in dataclasses.fields(t):
        figure = getattr(t, field.name)
        assert type(figure.amount) is int
        assert figure.currency == "CNY"
        assert figure.amount >= 0
    assert t.subtotal == subtotal
    assert t.total.amount == (
        t.subtotal.amount - t.discount.amount + t.shipping.amount - t.points_redeemed.amount
    )
    assert sum(d.amount.amount for d in quote.discounts) == t.discount.amount

    # Points change nothing but the points line and the total.
    assert (t.subtotal, t.discount, t.shipping) == (
        before.totals.subtotal,
        before.totals.discount,
        before.totals.shipping,
    )
    payable = t.subtotal.amount - t.discount.amount + t.shipping.amount
    assert quote.points_used == plan.points <= balance
    assert t.points_redeemed == plan.value
    assert t.points_redeemed.amount * BASIS_POINTS <= payable * policy.max_share_bp

    # Each discount takes at most what it applies to, and never more than its own rule allows.
    by_code = {d.code: d for d in discounts}  # codes are distinct: AAA, BBB, CCC, tier:*
    left = t.subtotal.amount
    for applied in quote.discounts:
        off = applied.amount.amount
        assert 0 <= off <= left
        rule = by_code[applied.code]
        if isinstance(rule, PercentageOff | TierPercentage):
            assert off * BASIS_POINTS <= left * rule.rate_bp
        if isinstance(rule, PercentageOff) and rule.cap is not None:
            assert off <= rule.cap.amount
        if isinstance(rule, AmountOff):
            assert off <= rule.amount.amount
        if isinstance(rule, SpendReduction):
            assert off <= (left // rule.threshold.amount) * rule.amount.amount
        left -= off

    # A coupon whose minimum the cart does not reach takes nothing; free shipping ships free.
    for kept in cart:
        if subtotal.amount < kept.minimum_spend.amount:
            assert all(d.code != kept.code for d in quote.discounts)
    if any(c.kind is K.FREE_SHIPPING and subtotal.amount >= c.minimum_spend.amount for c in cart):
        assert t.shipping == Money(0)


@pytest.mark.parametrize(
    ("merchandise", "off"), [(19_999, 0), (20_000, 2000), (39_999, 2000), (45_000, 4000)]
)
def test_a_repeating_spend_reduction_takes_per_whole_threshold(merchandise: int, off: int) -> None:
    every_200_off_20 = SpendReduction("MJ", Money(20_000), Money(2000), repeat=True)
    assert every_200_off_20.reduction(merchandise) == off


def test_a_repeating_spend_reduction_needs_a_threshold() -> None:
    with pytest.raises(PricingError):
        SpendReduction("MJ", Money(0), Money(2000), repeat=True)
    assert SpendReduction("MJ", Money(0), Money(2000)).reduction(0) == 2000
