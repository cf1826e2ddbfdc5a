"""Stock holds over shards: plans, expiry, the reference model and its invariants."""

from __future__ import annotations

import pytest
from commerce.domain.inventory import InventoryError, StockLevel
from commerce.domain.reservations import (
    DEFAULT_TTL_SECONDS,
    Book,
    Hold,
    Plan,
    Refusal,
    ReservationError,
    apply_to_hold,
    apply_to_levels,
    is_live,
    new_expiry,
    plan_release,
    plan_set,
    plan_take,
    preferred_shard,
    violations,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

pytestmark = pytest.mark.unit

NOW = 1_700_000_000


def levels(*pairs: tuple[int, int]) -> tuple[StockLevel, ...]:
    return tuple(StockLevel(on_hand, reserved) for on_hand, reserved in pairs)


# --- Expiry -----------------------------------------------------------------------------------


def test_a_hold_is_live_strictly_before_its_expiry() -> None:
    assert is_live(NOW + 1, NOW)
    assert not is_live(NOW, NOW)
    assert not is_live(NOW - 1, NOW)
    hold = Hold((2,), NOW + 10)
    assert hold.live_quantity(NOW + 9) == 2
    assert hold.live_quantity(NOW + 10) == 0


def test_every_change_renews_to_now_plus_ttl() -> None:
    assert new_expiry(NOW) == NOW + DEFAULT_TTL_SECONDS == NOW + 900
    assert new_expiry(NOW, 60) == NOW + 60
    with pytest.raises(ReservationError):
        new_expiry(NOW, 0)


# --- Shard choice -----------------------------------------------------------------------------


def test_preferred_shard_is_stable_and_in_range() -> None:
    assert preferred_shard("cart-1", 1) == 0
    assert preferred_shard("cart-1", 0) == 0
    assert preferred_shard("cart-1", 8) == preferred_shard("cart-1", 8)
    spread = {preferred_shard(f"cart-{i}", 8) for i in range(200)}
    assert spread == set(range(8))


# --- Taking -----------------------------------------------------------------------------------


def test_one_shard_takes_when_available_suffices_else_refuses() -> None:
    one = levels((10, 7))
    assert plan_take(one, 3) == Plan((3,))
    assert plan_take(one, 4) == Refusal(4, 3, 3)
    assert plan_take(one, 0) == Plan((0,))


def test_takes_from_the_preferred_shard_when_it_suffices() -> None:
    assert plan_take(levels((5, 0), (5, 0), (5, 0)), 4, preferred=1) == Plan((0, 4, 0))


def test_moves_along_the_rotation_when_the_preferred_shard_runs_dry() -> None:
    shards = levels((5, 0), (5, 5), (2, 0), (9, 0))
    # preferred 1 is dry; the next that suffices alone in rotation order is 3
    assert plan_take(shards, 4, preferred=1) == Plan((0, 0, 0, 4))
    # rotation from 2: shard 2 (2 free) cannot, shard 3 (9 free) can
    assert plan_take(shards, 3, preferred=2) == Plan((0, 0, 0, 3))


def test_splits_over_the_fullest_shards_when_none_suffices_alone() -> None:
    shards = levels((3, 0), (4, 0), (1, 0), (4, 0))
    # largest first, ties in rotation order from the preferred shard (2): 3 before 1
    assert plan_take(shards, 9, preferred=2) == Plan((1, 4, 0, 4))
    assert plan_take(shards, 12, preferred=0) == Plan((3, 4, 1, 4))
    assert plan_take(shards, 13, preferred=0) == Refusal(13, 12, 12)


def test_over_reserved_shards_count_as_empty() -> None:
    assert plan_take(levels((2, 5), (3, 0)), 3) == Plan((0, 3))


@pytest.mark.parametrize(
    ("shards", "quantity", "preferred"),
    [((), 1, 0), (levels((1, 0)), -1, 0), (levels((1, 0)), 1, 1), (levels((1, 0)), 1, -1)],
)
def test_plan_take_rejects_nonsense(
    shards: tuple[StockLevel, ...], quantity: int, preferred: int
) -> None:
    with pytest.raises(ReservationError):
        plan_take(shards, quantity, preferred)


# --- Giving back ------------------------------------------------------------------------------


def test_gives_back_away_from_home_first_smallest_first() -> None:
    assert plan_release((4, 1, 2), 2, preferred=0) == Plan((0, -1, -1))
    assert plan_release((4, 1, 2), 4, preferred=0) == Plan((-1, -1, -2))
    assert plan_release((4, 1, 2), 7, preferred=0) == Plan((-4, -1, -2))
    assert plan_release((5,), 2) == Plan((-2,))
    with pytest.raises(ReservationError):
        plan_release((1, 1), 3)


# --- Setting a hold ---------------------------------------------------------------------------


def test_set_moves_a_live_hold_by_the_difference() -> None:
    shards = levels((10, 3))
    hold = Hold((3,), NOW + 100)
    assert plan_set(shards, hold, 5, NOW) == Plan((2,))
    assert plan_set(shards, hold, 1, NOW) == Plan((-2,))
    assert plan_set(shards, hold, 3, NOW) == Plan((0,))
    assert plan_set(shards, hold, 0, NOW) == Plan((-3,))


def test_refusal_reports_what_is_free_and_the_most_the_hold_could_be() -> None:
    shards = levels((10, 8))
    assert plan_set(shards, Hold((3,), NOW + 100), 6, NOW) == Refusal(3, 2, 5)
    assert plan_set(shards, None, 3, NOW) == Refusal(3, 2, 2)


def test_an_expired_hold_gives_back_its_stale_units_and_takes_afresh() -> None:
    shards = levels((10, 10), (10, 10))
    stale = Hold((0, 4), NOW)  # expired exactly now
    # the stale 4 on shard 1 become free again; 3 fit on the preferred shard 1
    assert plan_set(shards, stale, 3, NOW, preferred=1) == Plan((0, -1))
    assert plan_set(shards, stale, 5, NOW, preferred=1) == Refusal(5, 4, 4)
    assert plan_set(shards, stale, 0, NOW, preferred=1) == Plan((0, -4))


def test_hold_records_per_shard_takes_and_disappears_when_empty() -> None:
    hold = apply_to_hold(None, Plan((1, 0, 2)), NOW + 900)
    assert hold == Hold((1, 0, 2), NOW + 900)
    assert apply_to_hold(hold, Plan((-1, 0, -2)), NOW + 950) is None
    with pytest.raises(ReservationError):
        apply_to_hold(hold, Plan((-2, 0, 0)), NOW)


def test_a_sku_may_gain_shards_after_a_hold_was_taken() -> None:
    shards = levels((5, 2), (5, 0))
    hold = Hold((2,), NOW + 100)
    plan = plan_set(shards, hold, 0, NOW)
    assert plan == Plan((-2, 0))
    with pytest.raises(ReservationError):
        plan_set(levels((5, 2)), Hold((0, 2), NOW + 100), 0, NOW)


def test_apply_to_levels_refuses_plans_that_break_the_invariant() -> None:
    with pytest.raises(ReservationError):
        apply_to_levels(levels((3, 2)), Plan((2,)))
    with pytest.raises(ReservationError):
        apply_to_levels(levels((3, 2)), Plan((-3,)))
    with pytest.raises(ReservationError):
        apply_to_levels(levels((3, 2)), Plan((0, 0)))
    assert apply_to_levels(levels((3, 2)), Plan((1,))) == levels((3, 3))


# --- The reference model ----------------------------------------------------------------------


def test_book_walkthrough() -> None:
    book = Book.opening([5])
    held = book.set_hold("a", 3, NOW)
    assert isinstance(held, Book)
    assert held.total == StockLevel(5, 3)
    assert held.set_hold("b", 3, NOW) == Refusal(3, 2, 2)
    sold = held.deduct("a", NOW + 1)
    assert sold.total == StockLevel(2, 0)
    assert sold.holds == {}
    with pytest.raises(InventoryError):
        held.deduct("a", NOW + DEFAULT_TTL_SECONDS)
    swept = held.sweep(NOW + DEFAULT_TTL_SECONDS)
    assert swept.total == StockLevel(5, 0)
    assert violations(swept, NOW + DEFAULT_TTL_SECONDS) == []
    with pytest.raises(InventoryError):
        held.adjust(0, -3)
    assert held.adjust(0, -2).total == StockLevel(3, 3)
    assert held.release("nobody") is held


def test_violations_names_each_broken_rule() -> None:
    bad = Book(levels((2, 3), (5, 1)), {"a": Hold((3, 0), NOW), "b": Hold((0, 0), NOW + 9)})
    found = violations(bad, NOW)
    assert any("expired" in v for v in found)
    assert any("holds nothing" in v for v in found)
    assert any("shard 0: reserved 3, on_hand 2" in v for v in found)
    assert any("shard 1: reserved 1, holds took 0" in v for v in found)


# --- Properties -------------------------------------------------------------------------------

counts = st.integers(min_value=0, max_value=50)
shard_levels = st.lists(
    st.tuples(counts, counts).map(lambda t: StockLevel(max(t), min(t))), min_size=1, max_size=6
)


@settings(max_examples=300)
@given(shard_levels, st.integers(min_value=0, max_value=400), st.data())
def test_take_plans_fit_each_shard_and_sum_to_the_request(
    shards: list[StockLevel], quantity: int, data: st.DataObject
) -> None:
    preferred = data.draw(st.integers(min_value=0, max_value=len(shards) - 1))
    plan = plan_take(shards, quantity, preferred)
    free = sum(s.available for s in shards)
    if isinstance(plan, Refusal):
        assert free < quantity
        assert plan.available == free == plan.max_quantity
        return
    assert free >= quantity
    assert len(plan.deltas) == len(shards)
    assert plan.total == quantity
    for delta, shard in zip(plan.deltas, shards, strict=True):
        assert 0 <= delta <= shard.available
        assert type(delta) is int
    if shards[preferred].available >= quantity:
        assert plan.shards in {(), (preferred,)}
    if len(shards) == 1:
        assert plan == Plan((quantity,))
    after = apply_to_levels(shards, plan)
    assert all(0 <= s.reserved <= s.on_hand for s in after)


@given(st.lists(counts, min_size=1, max_size=6), st.data())
def test_give_back_plans_return_exactly_what_was_held(
    takes: list[int], data: st.DataObject
) -> None:
    quantity = data.draw(st.integers(min_value=0, max_value=sum(takes)))
    preferred = data.draw(st.integers(min_value=0, max_value=len(takes) - 1))
    plan = plan_release(takes, quantity, preferred)
    assert plan.total == -quantity
    for delta, take in zip(plan.deltas, takes, strict=True):
        assert -take <= delta <= 0
    assert plan_release(takes, sum(takes), preferred) == Plan(tuple(-t for t in takes))


@settings(max_examples=300)
@given(shard_levels, st.data())
def test_set_plans_land_the_hold_on_exactly_the_quantity(
    shards: list[StockLevel], data: st.DataObject
) -> None:
    count = len(shards)
    # a hold that fits inside what each shard has reserved
    takes = tuple(data.draw(st.integers(min_value=0, max_value=s.reserved)) for s in shards)
    expires_at = data.draw(st.integers(min_value=NOW - 5, max_value=NOW + 5))
    hold = Hold(takes, expires_at) if any(takes) else None
    quantity = data.draw(st.integers(min_value=0, max_value=120))
    preferred = data.draw(st.integers(min_value=0, max_value=count - 1))
    plan = plan_set(shards, hold, quantity, NOW, preferred)
    held = 0 if hold is None else hold.quantity
    live = 0 if hold is None else hold.live_quantity(NOW)
    if isinstance(plan, Refusal):
        assert plan.max_quantity < quantity
        assert plan.max_quantity == live + plan.available
        return
    assert plan.total == quantity - held
    after_levels = apply_to_levels(shards, plan)
    after_hold = apply_to_hold(hold, plan, new_expiry(NOW))
    assert (0 if after_hold is None else after_hold.quantity) == quantity
    for before, after in zip(shards, after_levels, strict=True):
        assert 0 <= after.reserved <= after.on_hand
        assert after.on_hand == before.on_hand
    if count == 1 and hold is not None and hold.is_live(NOW):
        assert plan == Plan((quantity - held,))


@given(st.lists(counts, min_size=1, max_size=1), st.lists(st.integers(0, 20), max_size=8))
def test_one_shard_behaves_exactly_as_unsharded(on_hand: list[int], requests: list[int]) -> None:
    book = Book.opening(on_hand)
    free = on_hand[0]
    for number, quantity in enumerate(requests):
        result = book.set_hold(f"cart-{number}", quantity, NOW)
        if quantity <= free:
            assert isinstance(result, Book)
            book = result
            free -= quantity
        else:
            assert result == Refusal(quantity, free, free)
        assert book.levels[0].available == free


# --- Stateful: the model under random reserve, change, release, expire, adjust, commit ---------

CARTS = [f"cart-{i}" for i in range(6)]


class ReservationMachine(RuleBasedStateMachine):
    """Drives ``Book`` through every kind of change, checking the invariants after each step."""

    def __init__(self) -> None:
        super().__init__()
        self.book = Book.opening([0])
        self.now = NOW
        self.ttl = 60
        self.sold = 0
        self.received = 0

    @initialize(on_hand=st.lists(st.integers(0, 30), min_size=1, max_size=4))
    def open_stock(self, on_hand: list[int]) -> None:
        self.book = Book.opening(on_hand)
        self.received = sum(on_hand)

    @rule(cart=st.sampled_from(CARTS), quantity=st.integers(0, 25))
    def set_hold(self, cart: str, quantity: int) -> None:
        before = self.book
        result = before.set_hold(cart, quantity, self.now, self.ttl)
        if isinstance(result, Refusal):
            hold = before.holds.get(cart)
            live = 0 if hold is None else hold.live_quantity(self.now)
            stale = 0 if hold is None or hold.is_live(self.now) else hold.quantity
            assert result.available == before.total.on_hand - before.total.reserved + stale
            assert result.max_quantity == live + result.available < quantity
            return
        self.book = result
        hold = result.holds.get(cart)
        assert (0 if hold is None else hold.quantity) == quantity
        if hold is not None:
            assert hold.expires_at == self.now + self.ttl
        assert result.total.on_hand == before.total.on_hand
        for other, other_hold in before.holds.items():
            if other != cart:
                assert result.holds[other] == other_hold

    @rule(cart=st.sampled_from(CARTS))
    def release(self, cart: str) -> None:
        hold = self.book.holds.get(cart)
        before = self.book.total
        self.book = self.book.release(cart)
        given_back = 0 if hold is None else hold.quantity
        assert self.book.total == StockLevel(before.on_hand, before.reserved - given_back)
        assert cart not in self.book.holds

    @rule(seconds=st.integers(1, 90))
    def time_passes(self, seconds: int) -> None:
        self.now += seconds

    @rule()
    def sweep(self) -> None:
        self.book = self.book.sweep(self.now)
        assert violations(self.book, self.now) == []

    @rule(data=st.data(), delta=st.integers(-30, 30))
    def adjust(self, data: st.DataObject, delta: int) -> None:
        shard = data.draw(st.integers(0, len(self.book.levels) - 1))
        level = self.book.levels[shard]
        if level.on_hand + delta < level.reserved:
            with pytest.raises(InventoryError):
                self.book.adjust(shard, delta)
            return
        self.book = self.book.adjust(shard, delta)
        self.received += delta

    @rule(cart=st.sampled_from(CARTS))
    def deduct(self, cart: str) -> None:
        hold = self.book.holds.get(cart)
        if hold is None or not hold.is_live(self.now):
            with pytest.raises(InventoryError):
                self.book.deduct(cart, self.now)
            return
        self.book = self.book.deduct(cart, self.now)
        self.sold += hold.quantity

    @invariant()
    def books_are_straight(self) -> None:
        assert violations(self.book) == []
        total = self.book.total
        assert 0 <= total.reserved <= total.on_hand
        assert total.on_hand == self.received - self.sold
        live = sum(h.live_quantity(self.now) for h in self.book.holds.values())
        assert live <= total.reserved


ReservationMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
)
TestReservationMachine = ReservationMachine.TestCase
