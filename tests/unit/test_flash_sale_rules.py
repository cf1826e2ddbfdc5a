"""Flash sale rules: half-open windows, status from the clock, no overlap within a SKU's schedule,
the price a shopper pays, and the fields a new sale is refused for."""

from __future__ import annotations

from dataclasses import replace

import pytest
from commerce.domain.flash_sales import (
    MAX_SCHEDULED,
    START_GRACE_SECONDS,
    FlashSale,
    NewSale,
    Overlap,
    SaleStatus,
    ScheduleFull,
    kept,
    live_at,
    overlapping,
    overlaps,
    price_now,
    sale_errors,
    schedule_with,
)
from commerce.domain.money import Money
from hypothesis import assume, given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

NOW = 1_800_000_000
times = st.integers(min_value=0, max_value=10**6)


@st.composite
def windows(draw: st.DrawFn) -> tuple[int, int]:
    start = draw(times)
    return start, start + draw(st.integers(min_value=1, max_value=10**5))


def sale(start: int, end: int, sale_id: str = "s", price: int = 500, limit: int = 2) -> FlashSale:
    return FlashSale(sale_id, "SKU-1", Money(price), start, end, limit)


def new(**changes: object) -> NewSale:
    base = NewSale("SKU-1", Money(500), NOW, NOW + 3600, 2)
    return replace(base, **changes)  # type: ignore[arg-type]


# --- windows and status ------------------------------------------------------------------


@given(windows(), times)
def test_status_follows_the_half_open_window(window: tuple[int, int], now: int) -> None:
    s = sale(*window)
    start, end = window
    expected = (
        SaleStatus.SCHEDULED if now < start else SaleStatus.LIVE if now < end else SaleStatus.ENDED
    )
    assert s.status(now) is expected
    assert s.is_live(now) == (start <= now < end)


def test_a_sale_is_live_at_its_start_and_ended_at_its_end() -> None:
    s = sale(100, 200)
    assert s.status(99) is SaleStatus.SCHEDULED
    assert s.status(100) is SaleStatus.LIVE
    assert s.status(199) is SaleStatus.LIVE
    assert s.status(200) is SaleStatus.ENDED


@given(windows(), windows())
def test_overlap_is_symmetric_and_means_a_shared_second(
    a: tuple[int, int], b: tuple[int, int]
) -> None:
    shared = any(a[0] <= t < a[1] and b[0] <= t < b[1] for t in (max(a[0], b[0]),))
    assert overlaps(*a, *b) == overlaps(*b, *a) == shared


@given(windows(), st.integers(min_value=1, max_value=10**5))
def test_windows_that_only_touch_do_not_overlap(window: tuple[int, int], length: int) -> None:
    start, end = window
    assert not overlaps(start, end, end, end + length)
    assert not overlaps(end, end + length, start, end)
    assert overlaps(start, end, end - 1, end + length)


# --- the schedule ------------------------------------------------------------------------


#: Requests around one moment, as ``sale_errors`` lets them through (a start at most the grace
#: ago, an end after it), each made a few seconds after the one before.
requests = st.lists(
    st.tuples(
        st.integers(-START_GRACE_SECONDS, 2000),
        st.integers(1, 600),
        st.integers(0, 30),
    ),
    max_size=30,
)


@given(requests)
def test_a_schedule_built_by_schedule_with_never_overlaps_and_has_one_live_sale(
    asks: list[tuple[int, int, int]],
) -> None:
    schedule: tuple[FlashSale, ...] = ()
    now = NOW
    for n, (offset, length, later) in enumerate(asks):
        now += later
        candidate = sale(now + offset, now + offset + length, sale_id=f"s{n:02d}")
        if candidate.ends_at <= now:
            continue
        plan = schedule_with(candidate, schedule, now)
        if isinstance(plan, tuple):
            assert candidate in plan
            schedule = plan
        elif isinstance(plan, Overlap):
            assert plan.other in schedule
            assert candidate.overlaps(plan.other)
        else:
            assert isinstance(plan, ScheduleFull)
            assert plan.pending >= MAX_SCHEDULED
    for i, a in enumerate(schedule):
        for b in schedule[i + 1 :]:
            assert not a.overlaps(b)
    for t in range(now - 5, now + 5):
        live = [s for s in schedule if s.is_live(t)]
        assert len(live) <= 1
        assert live_at(schedule, t) == (live[0] if live else None)


@given(st.lists(windows(), max_size=20), times, windows())
def test_kept_drops_only_sales_a_new_one_cannot_overlap(
    existing: list[tuple[int, int]], now: int, window: tuple[int, int]
) -> None:
    schedule = [sale(*w, sale_id=f"s{n}") for n, w in enumerate(existing)]
    start, end = window
    assume(start >= now - START_GRACE_SECONDS)  # what sale_errors lets through
    candidate = sale(start, end, sale_id="new")
    dropped = set(schedule) - set(kept(schedule, now))
    assert all(not candidate.overlaps(s) for s in dropped)
    assert overlapping(candidate, kept(schedule, now)) == overlapping(
        candidate, sorted(set(schedule) - dropped, key=lambda s: (s.starts_at, s.sale_id))
    )


def test_a_full_schedule_refuses_another_sale() -> None:
    schedule = tuple(sale(NOW + 10 * n, NOW + 10 * n + 5, f"s{n}") for n in range(MAX_SCHEDULED))
    later = sale(NOW + 10_000, NOW + 10_005, "late")
    assert schedule_with(later, schedule, NOW) == ScheduleFull(MAX_SCHEDULED)
    # Once the first has ended (past the grace), there is room again.
    after = NOW + 5 + START_GRACE_SECONDS
    assert isinstance(schedule_with(later, schedule, after), tuple)


# --- price -------------------------------------------------------------------------------


@given(st.integers(0, 10**8), st.integers(0, 10**8))
def test_a_shopper_pays_the_sale_price_never_above_the_regular(regular: int, offer: int) -> None:
    live = sale(0, 10, price=offer)
    assert price_now(Money(regular), live) == Money(min(regular, offer))
    assert price_now(Money(regular), None) == Money(regular)


# --- a new sale's fields -----------------------------------------------------------------


def fields(errors: list[object]) -> set[str]:
    return {e.field for e in errors}  # type: ignore[attr-defined]


def test_a_valid_sale_has_no_errors() -> None:
    assert sale_errors(new(), regular=Money(1000), now=NOW) == []


@given(st.integers(0, 10**6), st.integers(1, 10**6))
def test_the_price_must_be_strictly_below_the_regular(price: int, regular: int) -> None:
    errors = sale_errors(new(price=Money(price)), regular=Money(regular), now=NOW)
    assert ("price" in fields(errors)) == (price >= regular)


@given(st.integers(-(10**5), 10**5))
def test_the_window_must_end_after_it_starts(length: int) -> None:
    errors = sale_errors(new(ends_at=NOW + length), regular=Money(1000), now=NOW)
    assert ("ends_at" in fields(errors)) == (length <= 0)


def test_a_start_too_far_past_and_an_end_already_past_are_refused() -> None:
    late = new(starts_at=NOW - START_GRACE_SECONDS - 1)
    assert fields(sale_errors(late, regular=Money(1000), now=NOW)) == {"starts_at"}
    grace = new(starts_at=NOW - START_GRACE_SECONDS)
    assert sale_errors(grace, regular=Money(1000), now=NOW) == []
    over = new(starts_at=NOW - 100, ends_at=NOW)
    assert fields(sale_errors(over, regular=Money(1000), now=NOW)) == {"ends_at"}


@given(st.integers(-5, 5))
def test_the_limit_must_be_at_least_one(limit: int) -> None:
    errors = sale_errors(new(per_customer_limit=limit), regular=Money(1000), now=NOW)
    assert ("per_customer_limit" in fields(errors)) == (limit < 1)


def test_every_bad_field_is_named_at_once() -> None:
    bad = new(price=Money(1000), ends_at=NOW, per_customer_limit=0)
    assert fields(sale_errors(bad, regular=Money(1000), now=NOW)) == {
        "price",
        "ends_at",
        "per_customer_limit",
    }
