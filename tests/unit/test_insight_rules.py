"""Insight's pure rules: facts of an order's writes, ranges, figures, RFM, segments, campaigns."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from commerce.domain.campaigns import (
    ATTRIBUTION_WINDOW_SECONDS,
    CampaignStatus,
    attributed,
    campaign_id_for,
    request_digest,
    split_channels,
    status,
)
from commerce.domain.consent import Channel
from commerce.domain.figures import (
    DateRange,
    DayCounts,
    average,
    parse_range,
    plan_range,
    rate,
    sales_report,
    top_products,
)
from commerce.domain.money import Money
from commerce.domain.order_facts import Paid, Refunded, buyer_key, order_facts
from commerce.domain.privacy import ERASED_EMAIL, ERASED_OWNER
from commerce.domain.rfm import (
    DEFAULT_THRESHOLDS,
    SEGMENTS,
    CustomerValue,
    RfmConfigError,
    Scores,
    parse_thresholds,
    rfm,
    scores,
    segment_of,
)
from commerce.domain.segments import Rules, check, matches, recency_window
from hypothesis import given
from hypothesis import strategies as st
from stream_builders import OrderStory

pytestmark = pytest.mark.unit

DAY = 86_400
START = 1_893_456_000  # 2030-01-01T00:00:00Z


def _story(owner: str | None = "c-1", email: str = "a@example.com") -> OrderStory:
    return OrderStory("order-1", owner, email, (("SKU-A", 2, 500), ("SKU-B", 1, 300)), START)


# --- Facts ---------------------------------------------------------------------------------------


def test_an_order_counts_on_the_day_it_was_paid_at_its_total_and_lines() -> None:
    story = _story().pay(START + 2 * DAY + 5)
    (placed, _), (paid, at) = story.versions
    assert order_facts(None, placed.order, START) == []
    (fact,) = order_facts(placed.order, paid.order, at)
    assert isinstance(fact, Paid)
    assert (fact.at, fact.total, fact.units) == (START + 2 * DAY + 5, Money(1300), 3)
    assert [(line.sku, line.quantity, line.amount.amount) for line in fact.lines] == [
        ("SKU-A", 2, 1000),
        ("SKU-B", 1, 300),
    ]
    # A later write of a paid order (shipping, an address) is no new payment.
    assert order_facts(paid.order, paid.order, at + 10) == []


def test_refunds_are_the_growth_of_refunded_money_on_the_day_of_the_write() -> None:
    story = _story().pay(START + 10).refund(400, START + 3 * DAY).cancel(START + 4 * DAY)
    versions = story.versions
    facts = [
        order_facts(versions[i - 1][0].order, versions[i][0].order, versions[i][1])
        for i in range(2, len(versions))
    ]
    assert [(f.amount.amount, f.at) for (f,) in facts if isinstance(f, Refunded)] == [
        (400, START + 3 * DAY),
        (900, START + 4 * DAY),
    ]


def test_money_back_on_an_order_never_paid_counts_nothing() -> None:
    placed = _story().current.order
    refunded_anyway = replace(placed, payment=replace(placed.payment, refunded=Money(1300)))
    assert order_facts(placed, refunded_anyway, START + 5) == []


def test_buyers_are_counted_by_customer_or_by_email_and_stored_hashed() -> None:
    signed_in = _story(owner="c-1", email="x@example.com").current.order
    same_customer = _story(owner="c-1", email="y@example.com").current.order
    guest = _story(owner=None, email="Guest@Example.com ").current.order
    same_guest = _story(owner=None, email="guest@example.com").current.order
    assert buyer_key(signed_in) == buyer_key(same_customer)
    assert buyer_key(guest) == buyer_key(same_guest) != buyer_key(signed_in)
    assert "guest" not in buyer_key(guest)
    assert "c-1" not in buyer_key(signed_in)


def test_an_erased_customers_refund_counts_for_no_customer() -> None:
    story = _story().pay(START + 10)
    paid = story.current.order
    erased = replace(paid, owner=ERASED_OWNER, email=ERASED_EMAIL)
    assert order_facts(paid, erased, START + 20) == []  # anonymising is no fact
    refunded = replace(erased, payment=paid.payment.refund(Money(100), Money(1300)))
    (fact,) = order_facts(erased, refunded, START + 30)
    assert isinstance(fact, Refunded)
    assert fact.customer_id is None


# --- Ranges and figures --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [
        ("2030-02-01", "2030-01-31", "from"),
        ("2030-01-01", "2031-01-02", "to"),
        ("2030-13-01", "2030-12-31", "from"),
        ("2030-1-1", "2030-01-31", "from"),
        ("2030-01-01", "yesterday", "to"),
    ],
)
def test_bad_ranges_name_the_field(first: str, last: str, field: str) -> None:
    errors = parse_range(first, last)
    assert isinstance(errors, list)
    assert [e.field for e in errors] == [field]


def test_the_last_month_of_the_calendar_is_planned_like_any_other() -> None:
    span = parse_range("9999-11-15", "9999-12-31")
    assert isinstance(span, DateRange)
    reads = plan_range(span)
    assert reads.months == ("9999-12",)
    assert reads.days[0] == "9999-11-15"
    assert reads.days[-1] == "9999-11-30"


def test_a_leap_year_may_be_asked_whole() -> None:
    span = parse_range("2028-01-01", "2028-12-31")
    assert isinstance(span, DateRange)
    assert span.days == 366


@given(
    first=st.dates(date(2024, 1, 1), date(2031, 12, 31)),
    length=st.integers(0, 365),
)
def test_a_range_is_read_as_whole_months_and_the_days_around_them(first: date, length: int) -> None:
    span = DateRange(first, date.fromordinal(first.toordinal() + length))
    reads = plan_range(span)
    covered = [d for d in span.dates() if d[:7] in reads.months] + list(reads.days)
    assert sorted(covered) == span.dates()  # every day once, nothing outside
    assert len(set(covered)) == len(covered)
    for month in reads.months:  # a month is read whole only when the range holds all of it
        assert f"{month}-01" in span.dates()
    assert len(reads.days) <= 60


def test_figures_of_a_range_follow_api_md() -> None:
    span = parse_range("2030-01-01", "2030-01-03")
    assert isinstance(span, DateRange)
    days = {
        "2030-01-01": DayCounts(orders=2, gmv=1001, units=3, customers=2, carts=4),
        "2030-01-03": DayCounts(orders=1, gmv=500, refunds=700, units=1, customers=1, carts=1),
    }
    report = sales_report(span, days, {"b1": 2, "b2": 1})
    assert [d.date for d in report.days] == ["2030-01-01", "2030-01-02", "2030-01-03"]
    first, empty, third = report.days
    assert (first.aov.amount, first.net.amount) == (501, 1001)  # 1001 / 2 rounds half up
    assert (empty.orders, empty.aov.amount, empty.net.amount) == (0, 0, 0)
    assert third.net.amount == -200  # refunds of earlier orders may exceed a day's sales
    totals = report.totals
    assert (totals.orders, totals.gmv.amount, totals.refunds.amount) == (3, 1501, 700)
    assert (totals.customers, totals.repeat_customers, totals.repurchase_rate) == (2, 1, 0.5)
    assert (totals.carts, totals.conversion_rate) == (5, 0.6)


@given(st.integers(0, 10**12), st.integers(1, 10**6))
def test_average_is_rounded_half_up_in_whole_minor_units(total: int, count: int) -> None:
    exact = total / count
    assert abs(average(total, count) - exact) <= 0.5
    assert average(total, count) == int(exact + 0.5) or abs(exact % 1 - 0.5) < 1e-9


@given(st.integers(-5, 10**6), st.integers(-5, 10**6))
def test_rates_stay_in_zero_to_one(numerator: int, denominator: int) -> None:
    assert 0.0 <= rate(numerator, denominator) <= 1.0


def test_top_products_rank_by_revenue_then_units_then_sku() -> None:
    ranked = top_products(
        {
            "B": {"units": 1, "revenue": 900},
            "A": {"units": 3, "revenue": 900},
            "C": {"units": 9, "revenue": 100},
        },
        2,
    )
    assert [(p.sku, p.units, p.revenue.amount) for p in ranked] == [("A", 3, 900), ("B", 1, 900)]


# --- RFM -----------------------------------------------------------------------------------------


def test_thresholds_parse_and_refuse_what_makes_no_sense() -> None:
    assert parse_thresholds("") == DEFAULT_THRESHOLDS
    parsed = parse_thresholds("r=7,14,30,60; f=8,4,2,1 ;m=500,400,300,200")
    assert parsed.recency_days == (7, 14, 30, 60)
    for bad in ("r=1,2,3", "r=3,2,1,0;f=4,3,2,1;m=4,3,2,1", "x=1,2,3,4", "r=1,2,3,4;f=4,3,2,1"):
        with pytest.raises(RfmConfigError):
            parse_thresholds(bad)


@pytest.mark.parametrize(
    ("r", "f", "m", "segment"),
    [
        (5, 5, 1, "champions"),
        (3, 3, 1, "loyal"),
        (5, 1, 1, "new"),
        (4, 2, 1, "promising"),
        (2, 3, 1, "at_risk"),
        (1, 1, 4, "at_risk"),
        (1, 2, 1, "lost"),
        (2, 1, 1, "hibernating"),
        (3, 2, 1, "need_attention"),
    ],
)
def test_scores_name_a_segment_by_the_documented_table(
    r: int, f: int, m: int, segment: str
) -> None:
    assert segment_of(Scores(r, f, m)) == segment


def test_rfm_of_a_customer_now() -> None:
    value = CustomerValue(orders=5, spend=Money(300_000), last_order_at=START)
    later = rfm(value, START + 45 * DAY + 3600)
    assert (later.recency_days, later.frequency, later.monetary.amount) == (45, 5, 300_000)
    assert later.scores == Scores(recency=4, frequency=4, monetary=4)
    assert later.segment == "champions"
    assert rfm(None, START).segment == "none"
    assert rfm(None, START).recency_days is None


@given(
    orders=st.integers(0, 50),
    spend=st.integers(0, 2_000_000),
    age=st.integers(0, 900 * DAY),
)
def test_every_customer_has_exactly_one_known_segment(orders: int, spend: int, age: int) -> None:
    value = CustomerValue(orders, Money(spend), START if orders else None)
    s = scores(value, START + age, DEFAULT_THRESHOLDS)
    assert (s is None) is (orders == 0)
    assert rfm(value, START + age).segment in SEGMENTS


# --- Segments ------------------------------------------------------------------------------------


def test_segment_rules_are_checked_against_what_exists() -> None:
    errors = check(
        Rules(
            tiers=("gold", "platinum"),
            rfm_segments=(),
            last_order_within_days=30,
            no_order_within_days=30,
        ),
        ["member", "silver", "gold"],
    )
    assert [e.field for e in errors] == [
        "rules.tiers[1]",
        "rules.rfm_segments",
        "rules.no_order_within_days",
    ]
    assert check(Rules(rfm_segments=("at_risk",), min_orders=2), ["member"]) == []


def test_members_satisfy_every_rule_given() -> None:
    now = START + 100 * DAY
    value = CustomerValue(orders=3, spend=Money(50_000), last_order_at=now - 40 * DAY)
    thresholds = DEFAULT_THRESHOLDS
    assert matches(Rules(), value, now, thresholds)
    assert matches(Rules(min_orders=3, min_spend=Money(50_000)), value, now, thresholds)
    assert not matches(Rules(min_orders=4), value, now, thresholds)
    assert not matches(Rules(min_spend=Money(50_001)), value, now, thresholds)
    assert matches(Rules(last_order_within_days=40), value, now, thresholds)
    assert not matches(Rules(last_order_within_days=39), value, now, thresholds)
    # An order exactly 40 days ago is within 40 days: not "no order within 40 days".
    assert not matches(Rules(no_order_within_days=40), value, now, thresholds)
    assert matches(Rules(no_order_within_days=39), value, now, thresholds)
    assert matches(Rules(rfm_segments=("loyal",)), value, now, thresholds)
    assert matches(Rules(tiers=("silver",)), value, now, thresholds, tier="silver")
    assert not matches(Rules(tiers=("gold",)), value, now, thresholds, tier="silver")
    assert not matches(Rules(), CustomerValue(), now, thresholds)  # never bought


def test_recency_rules_give_the_index_its_range() -> None:
    window = recency_window(Rules(last_order_within_days=30, no_order_within_days=7), START)
    assert (window.since, window.before) == (START - 30 * DAY, START - 7 * DAY)
    assert recency_window(Rules(), START) == recency_window(Rules(min_orders=1), START)


# --- Campaigns -----------------------------------------------------------------------------------


def test_attribution_counts_orders_paid_within_seven_days_after_the_message() -> None:
    assert attributed(START, START)
    assert attributed(START, START + ATTRIBUTION_WINDOW_SECONDS)
    assert not attributed(START, START + ATTRIBUTION_WINDOW_SECONDS + 1)
    assert not attributed(START, START - 1)


def test_chosen_channels_split_by_consent_in_a_fixed_order() -> None:
    split = split_channels(
        [Channel.PUSH, Channel.EMAIL, Channel.SMS], [Channel.EMAIL, Channel.PUSH]
    )
    assert (split.sent, split.skipped) == ((Channel.EMAIL, Channel.PUSH), (Channel.SMS,))


def test_a_campaign_is_sent_once_every_member_is_known_and_done() -> None:
    assert status(expanded=False, recipients=3, done=3) is CampaignStatus.SENDING
    assert status(expanded=True, recipients=3, done=2) is CampaignStatus.SENDING
    assert status(expanded=True, recipients=3, done=3) is CampaignStatus.SENT
    assert status(expanded=True, recipients=0, done=0) is CampaignStatus.SENT


def test_a_retried_request_finds_its_campaign_and_a_changed_body_is_told_apart() -> None:
    assert campaign_id_for("ops-1", "k") == campaign_id_for("ops-1", "k")
    assert campaign_id_for("ops-1", "k") != campaign_id_for("ops-2", "k")
    assert request_digest({"a": 1, "b": [1, 2]}) == request_digest({"b": [1, 2], "a": 1})
    assert request_digest({"a": 1}) != request_digest({"a": 2})
