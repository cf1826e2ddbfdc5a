"""Member tiers: the table, its boundaries, trailing twelve-month spend and the tier discount."""

from __future__ import annotations

import pytest
from commerce.domain.money import Money
from commerce.domain.orders import (
    Order,
    OrderHistoryEntry,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentStatus,
)
from commerce.domain.pricing import FreeShipping, PriceLine, TierPercentage, Totals, price
from commerce.domain.tiers import (
    DEFAULT_TIERS,
    DEFAULT_TIERS_SPEC,
    FREE_SHIPPING,
    TRAILING_WINDOW_SECONDS,
    Tier,
    TierError,
    TierTable,
    next_tier,
    parse_tiers,
    tier_discounts,
    tier_for,
    to_discount,
    trailing_spend,
)
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

NOW = 1_750_000_000
DAY = 24 * 60 * 60


@pytest.mark.parametrize(
    ("spend", "tier"),
    [
        (0, "member"),
        (99_999, "member"),
        (100_000, "silver"),
        (499_999, "silver"),
        (500_000, "gold"),
        (10**12, "gold"),
        (-1, "member"),
    ],
)
def test_default_tier_boundaries(spend: int, tier: str) -> None:
    assert tier_for(Money(spend)).name == tier


def test_the_default_table_is_the_seeds() -> None:
    """Seed 001: 普通会员9.5折 ... 金卡8.5折, gold shipping free."""
    assert [(t.name, t.threshold.amount, t.price_bp, t.benefits) for t in DEFAULT_TIERS.tiers] == [
        ("member", 0, 9500, ()),
        ("silver", 100_000, 9000, ()),
        ("gold", 500_000, 8500, (FREE_SHIPPING,)),
    ]
    assert parse_tiers(DEFAULT_TIERS_SPEC) == DEFAULT_TIERS
    spaced = "member:0:500, silver:100000:1000, gold:500000:1500: free_shipping"
    assert parse_tiers(spaced) == DEFAULT_TIERS


def test_tier_discounts_go_through_pricing() -> None:
    assert to_discount(Tier("member", Money(0), 0)) is None
    gold = to_discount(tier_for(Money(600_000)))
    assert gold == TierPercentage("gold", 1500)
    quote = price([PriceLine("SKU-1", 1, Money(999))], discounts=[gold])
    assert quote.totals.discount == Money(149)  # 15 % of 9.99, rounded down


def test_a_member_pays_95_and_gold_85_percent_and_ships_free() -> None:
    lines = [PriceLine("SKU-1", 1, Money(5_000))]  # 50.00: under the free-shipping threshold
    member = price(lines, discounts=tier_discounts(tier_for(Money(0)))).totals
    assert (member.discount, member.shipping, member.total) == (
        Money(250),
        Money(1000),
        Money(5_750),
    )
    gold = price(lines, discounts=tier_discounts(tier_for(Money(500_000)))).totals
    assert (gold.discount, gold.shipping, gold.total) == (Money(750), Money(0), Money(4_250))
    assert tier_discounts(Tier("plain", Money(0), 0)) == ()
    assert tier_discounts(Tier("ship", Money(0), 0, (FREE_SHIPPING,))) == (
        FreeShipping("tier:ship"),
    )


def test_benefits_other_than_free_shipping_are_labels() -> None:
    table = parse_tiers("member:0:0:priority_support+birthday_gift")
    assert table.tiers[0].benefits == ("priority_support", "birthday_gift")
    assert tier_discounts(table.tiers[0]) == ()


def test_next_tier_and_what_is_missing() -> None:
    assert next_tier(Money(40_000)) == (DEFAULT_TIERS.tiers[1], Money(60_000))
    assert next_tier(Money(100_000)) == (DEFAULT_TIERS.tiers[2], Money(400_000))
    assert next_tier(Money(500_000)) is None


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "member:0",
        "member:100:0",  # the lowest tier starts at 0
        "member:0:0,silver:0:500",  # thresholds rise
        "member:0:500,silver:100:0",  # rates never fall
        "member:0:0,member:100:5",  # names are distinct
        "member:0:10000",  # 100 % off is not a tier
        "member:0:-5",
        "member:x:0",
        "member:0:0:Free Shipping",  # benefits are lower-case words
        "member:0:0:free_shipping+free_shipping",  # once each
        "member:0:0:a+b+c+d+e+f+g+h+i",  # at most eight
        "member:0:0:free_shipping:extra",
    ],
)
def test_bad_tables(spec: str) -> None:
    with pytest.raises(TierError):
        parse_tiers(spec)


def test_a_table_needs_a_tier() -> None:
    with pytest.raises(TierError):
        TierTable(())


def test_a_configured_table() -> None:
    table = parse_tiers("basic:0:0,vip:1000:250")
    assert tier_for(Money(999), table).name == "basic"
    assert tier_for(Money(1000), table) == Tier("vip", Money(1000), 250)


def order(
    n: int,
    total: int,
    delivered_at: int | None,
    refunded: int = 0,
    created_at: int = NOW - 400 * DAY,
) -> Order:
    history = [OrderHistoryEntry(OrderStatus.PENDING_PAYMENT, created_at)]
    status = OrderStatus.PENDING_PAYMENT
    if delivered_at is not None:
        history += [
            OrderHistoryEntry(OrderStatus.PAID, created_at),
            OrderHistoryEntry(OrderStatus.SHIPPED, created_at),
            OrderHistoryEntry(OrderStatus.DELIVERED, delivered_at),
        ]
        status = OrderStatus.DELIVERED
        if refunded:
            history += [
                OrderHistoryEntry(OrderStatus.RETURN_REQUESTED, delivered_at),
                OrderHistoryEntry(OrderStatus.REFUNDED, delivered_at),
            ]
            status = OrderStatus.REFUNDED
    zero = Money(0)
    return Order(
        order_id=f"o-{n}",
        email="buyer@example.com",
        lines=(OrderLine("SKU-1", 1, Money(total)),),
        totals=Totals(Money(total), zero, zero, zero, Money(total)),
        status=status,
        history=tuple(history),
        created_at=created_at,
        payment=Payment(status=PaymentStatus.APPROVED, refunded=Money(refunded)),
        owner="customer-1",
    )


def test_trailing_spend_counts_delivered_orders_of_the_last_365_days_less_refunds() -> None:
    orders = [
        order(1, 10_000, NOW),  # delivered now: counts
        order(2, 20_000, NOW - TRAILING_WINDOW_SECONDS + 1),  # just inside
        order(3, 40_000, NOW - TRAILING_WINDOW_SECONDS),  # exactly a year ago: out
        order(4, 80_000, None),  # never delivered
        order(5, 30_000, NOW - 10 * DAY, refunded=12_000),  # counts 18_000
        order(6, 5_000, NOW - 10 * DAY, refunded=5_000),  # fully refunded
        order(7, 7_000, NOW + 1),  # in the future of ``now``: not yet
    ]
    assert trailing_spend(orders, NOW) == Money(10_000 + 20_000 + 18_000)
    assert trailing_spend([], NOW) == Money(0)


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10**9))
def test_more_spend_never_means_a_lower_tier(a: int, b: int) -> None:
    low, high = sorted((a, b))
    tiers = DEFAULT_TIERS.tiers
    assert tiers.index(tier_for(Money(low))) <= tiers.index(tier_for(Money(high)))
    assert tier_for(Money(high)).threshold.amount <= high


@settings(deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10**7),
            st.none() | st.integers(min_value=NOW - 800 * DAY, max_value=NOW + 10 * DAY),
            st.integers(min_value=0, max_value=10**7),
        ),
        max_size=8,
    )
)
def test_trailing_spend_is_never_negative_nor_more_than_was_paid(
    specs: list[tuple[int, int | None, int]],
) -> None:
    orders = [
        order(n, total, delivered, min(refunded, total))
        for n, (total, delivered, refunded) in enumerate(specs)
    ]
    spend = trailing_spend(orders, NOW).amount
    assert 0 <= spend <= sum(total for total, _, _ in specs)
