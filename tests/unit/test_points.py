"""Points: earned per yuan paid, reversed on refunds, redeemed within limits, a ledger never < 0."""

from __future__ import annotations

import pytest
from commerce.clock import iso
from commerce.domain.money import Money
from commerce.domain.points import (
    DEFAULT_POLICY,
    DEFAULT_POLICY_SPEC,
    InsufficientPoints,
    LedgerEntry,
    LedgerError,
    PointsPolicy,
    PointsReason,
    RedemptionPlan,
    apply,
    balance,
    earn_entry,
    parse_policy,
    payable,
    plan_redemption,
    points_earned,
    redeem_entry,
    restore_entry,
    reversal_due,
    reversal_entry,
)
from commerce.domain.pricing import PointsRate, PriceLine, Totals, price
from commerce.errors import ValidationFailed
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

AT = 1_750_000_000


def totals(total: int, shipping: int = 0) -> Totals:
    """Totals of an order that paid ``total`` fen, ``shipping`` of it for shipping."""
    return Totals(Money(total - shipping), Money(0), Money(shipping), Money(0), Money(total))


# --- Earning and reversing --------------------------------------------------------------------


@pytest.mark.parametrize(("paid", "points"), [(0, 0), (99, 0), (100, 1), (199, 1), (12_345, 123)])
def test_one_point_per_whole_yuan_paid(paid: int, points: int) -> None:
    assert points_earned(totals(paid)) == points


def test_points_are_earned_on_money_paid_not_on_points_redeemed() -> None:
    paid_half_with_points = Totals(Money(10_000), Money(0), Money(0), Money(5000), Money(5000))
    assert points_earned(paid_half_with_points) == 50


def test_the_earning_rate_is_configurable() -> None:
    double = PointsPolicy(earn_points=2)
    per_ten_yuan = PointsPolicy(earn_points=1, earn_per=Money(1000))
    assert points_earned(totals(12_345), double) == 246
    assert points_earned(totals(12_345), per_ten_yuan) == 12
    with pytest.raises(ValueError, match="earn_per"):
        PointsPolicy(earn_per=Money(0))
    with pytest.raises(ValueError, match="max_share_bp"):
        PointsPolicy(max_share_bp=10_001)


def test_reversal_takes_back_what_the_refund_would_have_earned() -> None:
    earned = points_earned(totals(29_999))  # 299
    first = reversal_due(earned, Money(0), Money(9_950))  # 99.50 yuan: 99 points
    second = reversal_due(earned, Money(9_950), Money(10_050))  # now 200.00 in all: 200 - 99
    third = reversal_due(earned, Money(20_000), Money(9_999))  # the rest: 299 in all
    assert (first, second, third) == (99, 101, 99)
    assert reversal_due(earned, Money(29_999), Money(10_000)) == 0  # nothing left to take


@given(
    st.integers(min_value=0, max_value=10**8),
    st.lists(st.integers(min_value=0, max_value=10**7), max_size=6),
)
def test_reversals_never_exceed_what_was_earned(paid: int, refunds: list[int]) -> None:
    earned = points_earned(totals(paid))
    before = 0
    taken = 0
    for refund in refunds:
        due = reversal_due(earned, Money(before), Money(refund))
        assert due >= 0
        taken += due
        before += refund
    assert taken <= earned
    assert taken == min(earned, DEFAULT_POLICY.points_for(Money(before)))
    if before >= paid:
        assert taken == earned


# --- Redeeming --------------------------------------------------------------------------------


def test_redemption_is_capped_at_half_the_payable_by_default() -> None:
    order = totals(10_000, shipping=1000)  # payable 100.00: at most 50.00 in points
    plan = plan_redemption(balance=20_000, requested=8000, totals=order)
    assert plan.points == 5000
    assert plan.value == Money(5000)
    assert plan.request is not None
    quote = price([PriceLine("SKU-1", 1, Money(9000))], discounts=[], points=plan.request)
    assert quote.points_used == 5000
    assert quote.totals.total == Money(5000)


def test_a_request_within_limits_is_redeemed_in_full() -> None:
    plan = plan_redemption(balance=300, requested=300, totals=totals(10_000))
    assert (plan.points, plan.value) == (300, Money(300))


def test_nothing_requested_redeems_nothing() -> None:
    assert plan_redemption(0, 0, totals(1000)) == RedemptionPlan(0, Money(0), None)
    assert plan_redemption(10, 10, totals(0)) == RedemptionPlan(0, Money(0), None)


def test_redemption_refusals() -> None:
    with pytest.raises(InsufficientPoints) as caught:
        plan_redemption(balance=99, requested=100, totals=totals(10_000))
    assert caught.value.status == 409
    assert caught.value.extensions == {"balance": 99, "requested": 100}
    with pytest.raises(ValidationFailed):
        plan_redemption(balance=99, requested=-1, totals=totals(10_000))
    with pytest.raises(ValidationFailed, match="sign in"):
        plan_redemption(balance=0, requested=1, totals=totals(10_000), signed_in=False)


def test_redemption_in_blocks_at_another_rate() -> None:
    policy = PointsPolicy(rate=PointsRate(points=100, value=Money(100)), max_share_bp=10_000)
    plan = plan_redemption(balance=1_000, requested=950, totals=totals(10_000), policy=policy)
    assert (plan.points, plan.value) == (900, Money(900))


@given(
    st.integers(min_value=0, max_value=10**7),
    st.integers(min_value=0, max_value=10**7),
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=1, max_value=500),
    st.integers(min_value=1, max_value=500),
)
def test_a_plan_is_exactly_what_pricing_redeems(
    balance_: int, requested: int, merchandise: int, share: int, block: int, worth: int
) -> None:
    policy = PointsPolicy(rate=PointsRate(block, Money(worth)), max_share_bp=share)
    lines = [PriceLine("SKU-1", 1, Money(merchandise))]
    before = price(lines).totals
    requested = min(requested, balance_)
    plan = plan_redemption(balance_, requested, before, policy)
    assert 0 <= plan.points <= requested <= balance_
    assert plan.points % block == 0
    assert plan.value.amount * 10_000 <= payable(before).amount * share
    after = price(lines, points=plan.request)
    assert after.points_used == plan.points
    assert after.totals.points_redeemed == plan.value
    assert after.totals.total.amount >= 0


# --- The ledger -------------------------------------------------------------------------------


def test_entries_carry_the_sign_of_their_reason() -> None:
    LedgerEntry(5, PointsReason.EARNED, "o-1", AT)
    LedgerEntry(-5, PointsReason.ADJUSTED, None, AT)
    bad: list[tuple[int, PointsReason, str | None]] = [
        (-5, PointsReason.EARNED, "o-1"),
        (5, PointsReason.REDEEMED, "o-1"),
        (5, PointsReason.REVERSED, "o-1"),
        (-5, PointsReason.RESTORED, "o-1"),
        (0, PointsReason.ADJUSTED, None),
        (5, PointsReason.EARNED, None),
    ]
    for delta, reason, order_id in bad:
        with pytest.raises(LedgerError):
            LedgerEntry(delta, reason, order_id, AT)


def test_balance_never_goes_below_zero() -> None:
    earned = LedgerEntry(100, PointsReason.EARNED, "o-1", AT)
    spent = LedgerEntry(-100, PointsReason.REDEEMED, "o-2", AT)
    assert balance([earned, spent]) == 0
    with pytest.raises(LedgerError):
        balance([spent, earned])  # the order matters: never below zero on the way
    with pytest.raises(LedgerError):
        apply(50, spent)


def test_a_reversal_takes_at_most_the_balance() -> None:
    assert reversal_entry("o-1", "r-1", due=80, current_balance=30, at=AT) == LedgerEntry(
        -30, PointsReason.REVERSED, "o-1", AT, ref="r-1"
    )
    assert reversal_entry("o-1", "r-1", due=80, current_balance=0, at=AT) is None
    assert reversal_entry("o-1", "r-1", due=0, current_balance=50, at=AT) is None


def test_builders_and_keys() -> None:
    earn = earn_entry("o-1", totals(12_345), AT)
    assert earn == LedgerEntry(123, PointsReason.EARNED, "o-1", AT)
    assert earn_entry("o-1", totals(99), AT) is None
    assert redeem_entry("o-1", 500, AT) == LedgerEntry(-500, PointsReason.REDEEMED, "o-1", AT)
    assert restore_entry("o-1", 500, AT) == LedgerEntry(500, PointsReason.RESTORED, "o-1", AT)
    assert redeem_entry("o-1", 0, AT) is None
    assert restore_entry("o-1", 0, AT) is None
    keys = {
        earn.key,
        LedgerEntry(-1, PointsReason.REDEEMED, "o-1", AT).key,
        LedgerEntry(-1, PointsReason.REVERSED, "o-1", AT, ref="r-1").key,
        LedgerEntry(-1, PointsReason.REVERSED, "o-1", AT, ref="r-2").key,
    }
    assert len(keys) == 4
    assert earn.to_dict() == {
        "delta": 123,
        "reason": "earned",
        "order_id": "o-1",
        "ref": None,
        "at": iso(AT),
    }


operations = st.lists(
    st.tuples(
        st.sampled_from(["deliver", "redeem", "cancel", "refund"]),
        st.integers(min_value=0, max_value=10**6),
    ),
    max_size=30,
)


@settings(deadline=None)
@given(operations)
def test_any_sequence_of_changes_keeps_the_balance_at_or_above_zero(
    ops: list[tuple[str, int]],
) -> None:
    """Orders are delivered (earn), paid with points (redeem), cancelled (restore) and refunded
    (reverse) in any order; every entry built by the rules keeps the ledger valid."""
    entries: list[LedgerEntry] = []
    earned: dict[str, tuple[int, int]] = {}  # order -> (points earned, fen refunded so far)
    redeemed: dict[str, int] = {}
    for n, (op, amount) in enumerate(ops):
        order_id = f"o-{n}"
        current = balance(entries)
        entry: LedgerEntry | None = None
        if op == "deliver":
            entry = earn_entry(order_id, totals(amount), AT)
            earned[order_id] = (entry.delta if entry else 0, 0)
        elif op == "redeem":
            plan = plan_redemption(current, min(amount, current), totals(amount))
            entry = redeem_entry(order_id, plan.points, AT)
            redeemed[order_id] = plan.points
        elif op == "cancel" and redeemed:
            victim = sorted(redeemed)[amount % len(redeemed)]
            entry = restore_entry(victim, redeemed.pop(victim), AT)
        elif op == "refund" and earned:
            victim = sorted(earned)[amount % len(earned)]
            points, refunded = earned[victim]
            due = reversal_due(points, Money(refunded), Money(amount))
            earned[victim] = (points, refunded + amount)
            entry = reversal_entry(victim, f"r-{n}", due, current, AT)
        if entry is not None:
            entries.append(entry)
        assert balance(entries) >= 0


# --- The rates as one setting (POINTS_POLICY) -------------------------------------------------


def test_the_default_setting_is_the_default_policy() -> None:
    assert parse_policy("") == DEFAULT_POLICY
    assert parse_policy(DEFAULT_POLICY_SPEC) == DEFAULT_POLICY


def test_one_point_one_yuan_is_one_key() -> None:
    seed = parse_policy("redeem_fen=100")
    assert seed.rate == PointsRate(1, Money(100))
    assert (seed.earn_points, seed.earn_per) == (1, Money(100))
    totals = Totals(Money(10_000), Money(0), Money(0), Money(0), Money(10_000))
    plan = plan_redemption(30, 30, totals, seed)
    assert (plan.points, plan.value) == (30, Money(3_000))  # 30 points pay 30.00


def test_a_setting_may_change_every_rate() -> None:
    policy = parse_policy(
        " earn_points = 2, earn_per_fen=1000 ,redeem_points=10,redeem_fen=5,max_share_bp=2000"
    )
    assert policy == PointsPolicy(2, Money(1000), PointsRate(10, Money(5)), 2000)
    assert policy.points_for(Money(5_999)) == 10


@pytest.mark.parametrize(
    "spec",
    [
        "earn=1",
        "earn_points=-1",
        "earn_points=1.5",
        "earn_points",
        "earn_points=1,earn_points=2",
        "earn_per_fen=0",
        "redeem_points=0",
        "redeem_fen=0",
        "max_share_bp=10001",
    ],
)
def test_a_bad_setting_fails_loudly(spec: str) -> None:
    with pytest.raises(ValueError, match=r"must|not one of"):
        parse_policy(spec)


@given(
    st.integers(min_value=0, max_value=10),
    st.integers(min_value=1, max_value=10_000),
    st.integers(min_value=1, max_value=100),
    st.integers(min_value=1, max_value=10_000),
    st.integers(min_value=0, max_value=10_000),
)
def test_any_written_policy_reads_back(
    earn: int, per: int, points: int, fen: int, share: int
) -> None:
    spec = (
        f"earn_points={earn},earn_per_fen={per},redeem_points={points},redeem_fen={fen},"
        f"max_share_bp={share}"
    )
    assert parse_policy(spec) == PointsPolicy(
        earn, Money(per), PointsRate(points, Money(fen)), share
    )
