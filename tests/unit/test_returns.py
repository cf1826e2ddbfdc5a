"""Returns: validation against the delivered order, and refunds that never exceed what was paid."""

from __future__ import annotations

import pytest
from commerce.domain.money import Money
from commerce.domain.orders import OrderLine
from commerce.domain.pricing import (
    AmountOff,
    PercentageOff,
    PointsRedemption,
    PriceLine,
    Totals,
    price,
)
from commerce.domain.returns import (
    MAX_REASON_CHARS,
    Return,
    ReturnLine,
    line_shares,
    plan_return,
    refund_for,
    refundable_pool,
    returnable_quantities,
    returned_quantities,
    units_share,
    validate_return,
)
from commerce.errors import FieldError
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

NOW = 1_700_000_000

LINES = (
    OrderLine("SKU-A", 3, Money(1000)),
    OrderLine("SKU-B", 1, Money(2000)),
)


def totals_of(lines: tuple[OrderLine, ...], **kwargs: object) -> Totals:
    price_lines = [PriceLine(x.sku, x.quantity, x.unit_price) for x in lines]
    return price(price_lines, **kwargs).totals  # type: ignore[arg-type]


# --- Validation -------------------------------------------------------------------------------


def test_a_valid_return_has_no_errors() -> None:
    assert validate_return(LINES, {}, [ReturnLine("SKU-A", 3), ReturnLine("SKU-B", 1)]) == []
    assert validate_return(LINES, {"SKU-A": 2}, [ReturnLine("SKU-A", 1)]) == []


def test_every_bad_line_is_named_as_sent() -> None:
    errors = validate_return(
        LINES,
        {"SKU-A": 2},
        [
            ReturnLine("SKU-X", 1),
            ReturnLine("SKU-A", 2),
            ReturnLine("SKU-B", 0),
            ReturnLine("SKU-B", 1),
        ],
        reason="x" * (MAX_REASON_CHARS + 1),
    )
    assert errors == [
        FieldError("reason", f"must be at most {MAX_REASON_CHARS} characters"),
        FieldError("lines[0].sku", "is not a line of this order"),
        FieldError("lines[1].quantity", "at most 1 may still be returned"),
        FieldError("lines[2].quantity", "must be a whole number of at least 1"),
        FieldError("lines[3].sku", "appears more than once"),
    ]


def test_an_empty_return_and_a_fully_returned_line_are_refused() -> None:
    assert validate_return(LINES, {}, []) == [FieldError("lines", "must name at least one line")]
    assert validate_return(LINES, {"SKU-B": 1}, [ReturnLine("SKU-B", 1)]) == [
        FieldError("lines[0].quantity", "at most 0 may still be returned")
    ]
    assert returnable_quantities(LINES, {"SKU-B": 1}) == {"SKU-A": 3, "SKU-B": 0}


def test_plan_return_counts_previous_returns() -> None:
    totals = totals_of(LINES)
    first = plan_return(
        LINES, totals, [], [ReturnLine("SKU-A", 2)], reason="", return_id="r1", requested_at=NOW
    )
    assert isinstance(first, Return)
    assert returned_quantities([first]) == {"SKU-A": 2}
    second = plan_return(
        LINES,
        totals,
        [first],
        [ReturnLine("SKU-A", 2)],
        reason="",
        return_id="r2",
        requested_at=NOW,
    )
    assert second == [FieldError("lines[0].quantity", "at most 1 may still be returned")]
    assert first.to_dict()["refund"] == {"amount": 2000, "currency": "CNY"}


# --- Refund amounts ---------------------------------------------------------------------------


def test_without_discounts_a_return_refunds_the_unit_prices() -> None:
    totals = totals_of(LINES)  # 5000 of merchandise: shipping 10.00 is not refunded
    assert totals.shipping == Money(1000)
    assert refundable_pool(totals) == 5000
    assert refund_for(LINES, totals, {}, [ReturnLine("SKU-A", 1)]) == Money(1000)
    assert refund_for(LINES, totals, {}, [ReturnLine("SKU-B", 1)]) == Money(2000)


def test_discounts_are_shared_in_proportion_with_the_odd_fen_last() -> None:
    totals = totals_of(LINES, discounts=[AmountOff("TEN", Money(1001))])  # 3999 paid
    assert refundable_pool(totals) == 3999
    # 3999 * 3000/5000 = 2399.4 -> 2399; 3999 * 2000/5000 = 1599.6 -> 1600 (larger remainder)
    assert line_shares(LINES, totals) == {"SKU-A": 2399, "SKU-B": 1600}
    # SKU-A's 2399 over 3 units: 799, 800, 800.
    refunds = [refund_for(LINES, totals, {"SKU-A": n}, [ReturnLine("SKU-A", 1)]) for n in range(3)]
    assert refunds == [Money(799), Money(800), Money(800)]


def test_points_are_not_refunded_as_money() -> None:
    # 5000 merchandise + 1000 shipping, 5500 in points: the 500 charged pays for shipping.
    totals = totals_of(LINES, points=PointsRedemption(5500))
    assert totals.total == Money(500)
    assert refundable_pool(totals) == 0
    assert refund_for(LINES, totals, {}, [ReturnLine("SKU-A", 3)]) == Money(0)


def test_units_share_bounds() -> None:
    assert [units_share(10, 3, i, 1) for i in range(3)] == [3, 3, 4]
    assert units_share(10, 3, 0, 3) == 10
    assert units_share(0, 3, 0, 3) == 0
    with pytest.raises(ValueError, match="outside"):
        units_share(10, 3, 2, 2)


# --- Properties -------------------------------------------------------------------------------


@st.composite
def orders(draw: st.DrawFn) -> tuple[tuple[OrderLine, ...], Totals]:
    count = draw(st.integers(min_value=1, max_value=5))
    lines = tuple(
        OrderLine(
            f"SKU-{i}",
            draw(st.integers(min_value=1, max_value=20)),
            Money(draw(st.integers(min_value=0, max_value=100_000))),
        )
        for i in range(count)
    )
    discounts = draw(
        st.lists(
            st.one_of(
                st.builds(
                    AmountOff,
                    st.just("AMT"),
                    st.integers(min_value=0, max_value=500_000).map(Money),
                ),
                st.builds(
                    PercentageOff, st.just("PCT"), st.integers(min_value=0, max_value=10_000)
                ),
            ),
            max_size=3,
        )
    )
    points = draw(st.none() | st.integers(min_value=0, max_value=500_000).map(PointsRedemption))
    return lines, totals_of(lines, discounts=discounts, points=points)


@settings(max_examples=300, deadline=None)
@given(order=orders(), data=st.data())
def test_partial_returns_never_refund_more_than_was_paid(
    order: tuple[tuple[OrderLine, ...], Totals], data: st.DataObject
) -> None:
    lines, totals = order
    shares = line_shares(lines, totals)
    pool = refundable_pool(totals)
    assert sum(shares.values()) == pool <= totals.total.amount
    assert all(isinstance(v, int) and v >= 0 for v in shares.values())

    returned: dict[str, int] = {}
    refunded_per_line = dict.fromkeys(shares, 0)
    total_refunded = 0
    for _ in range(data.draw(st.integers(min_value=1, max_value=8))):
        left = {s: q for s, q in returnable_quantities(lines, returned).items() if q}
        if not left:
            break
        skus = data.draw(st.lists(st.sampled_from(sorted(left)), min_size=1, unique=True))
        request = [
            ReturnLine(sku, data.draw(st.integers(min_value=1, max_value=left[sku])))
            for sku in skus
        ]
        assert validate_return(lines, returned, request) == []
        refund = refund_for(lines, totals, returned, request)
        assert isinstance(refund.amount, int)
        assert refund.amount >= 0
        for line in request:
            one = refund_for(lines, totals, returned, [line]).amount
            refunded_per_line[line.sku] += one
        total_refunded += refund.amount
        returned = _merge(returned, request)

        assert total_refunded <= pool <= totals.total.amount
        for sku, amount in refunded_per_line.items():
            assert amount <= shares[sku]

    if all(q == 0 for q in returnable_quantities(lines, returned).values()):
        assert total_refunded == pool  # everything back: the pool to the fen


def _merge(returned: dict[str, int], request: list[ReturnLine]) -> dict[str, int]:
    merged = dict(returned)
    for line in request:
        merged[line.sku] = merged.get(line.sku, 0) + line.quantity
    return merged
