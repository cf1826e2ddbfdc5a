"""A stateful test of a flash sale against DynamoDB Local: two customers with two carts each
hold, change, remove, let expire, get swept and check out a live sale's SKU, alone or several
at once, and after every step the books are read back from the tables.

Hypothesis drives a ``RuleBasedStateMachine`` over one SKU (one to three shards) on sale with a
per-customer limit, through the services the handlers call (``carts.service``,
``orders.checkout``, ``carts.sweeper``). After every step:

- never oversold: every shard has ``0 <= reserved <= on_hand`` and ``available`` their
  difference, and the SKU's ``reserved`` equals the units the open carts' lines hold (expired
  but unswept included) plus the units of the orders placed (not yet paid, so still held);
- no customer over the limit: each customer's count is at most ``per_customer_limit``;
- the counts equal a recomputation: a customer's count is the units their open carts' lines
  counted for the sale (``sale_units`` of lines naming it) plus the units of the sale's SKU in
  their orders (checkout keeps the count; docs/catalog.md, "The per-customer count").

A refused request must change nothing. Time is a fake clock through ``commerce.clock.now``,
inside the sale's window. The machine runs in a child interpreter whose clients point at
DynamoDB Local from the start (moto is not safe under concurrent writes), as in
``test_reservations_stateful.py``; run directly, this file is that child.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from local_engine import run_child
from raw_books import RawTables, quiet, takes

pytestmark = pytest.mark.integration

CUSTOMERS = ("c5a1e000-0000-4000-8000-00000000000a", "c5a1e000-0000-4000-8000-00000000000b")
CARTS_EACH = 2
TTL_SECONDS = 60
SALE_SECONDS = 6 * 3600  # longer than any run of the machine's clock
MAX_EXAMPLES = 12
STEPS = 18


def test_no_oversell_no_customer_over_the_limit_and_counts_that_add_up(
    dynamodb_local: str,
) -> None:
    stats = run_child(
        __file__,
        dynamodb_local,
        extra_env={"RESERVATION_TTL_SECONDS": str(TTL_SECONDS)},
        timeout=360,
    )
    print(json.dumps(stats, sort_keys=True))  # what the machine did, for `pytest -s`
    assert stats["steps"] >= MAX_EXAMPLES, stats
    # The machine reached the interesting places, not a run of no-ops.
    assert stats["held"] > 0, stats
    assert stats.get("set:PurchaseLimit", 0) + stats.get("burst-set:PurchaseLimit", 0) > 0, stats
    assert stats.get("checkout:ok", 0) > 0, stats


# --- the child: the machine, against the endpoint in AWS_ENDPOINT_URL_DYNAMODB ------------------

STATS: Counter[str] = Counter()
#: What a request may be refused for here; anything else fails the run.
ALLOWED_REFUSALS = ("OutOfStock", "PurchaseLimit", "TooManyRequests", "Conflict")


def _quiet(action: Callable[[], object]) -> str:
    return quiet(action, ALLOWED_REFUSALS)


def _takes(line: dict[str, Any]) -> int:
    return sum(takes(line).values())


def _counted(line: dict[str, Any], sale_id: str) -> int:
    if line.get("sale_id", {}).get("S") != sale_id:
        return 0
    return int(line.get("sale_units", {"N": "0"})["N"])


class FlashSaleMachine(RuleBasedStateMachine):
    """One SKU on sale, two customers with two carts each, a fake clock inside the sale."""

    def __init__(self) -> None:
        super().__init__()
        from commerce import clock

        self.tables = TABLES
        self.now = int(time.time())
        self._real_now = clock.now
        clock.now = lambda: self.now  # type: ignore[assignment]
        self.sku = ""
        self.sale_id = ""
        self.limit = 0
        self.carts: dict[tuple[int, int], str] = {}  # (customer, slot) -> cart id

    # -- setup ----------------------------------------------------------------------------------

    @initialize(stock=st.integers(0, 10), shard_count=st.integers(1, 3), limit=st.integers(1, 4))
    def open_the_sale(self, stock: int, shard_count: int, limit: int) -> None:
        from commerce import clock
        from commerce.catalog import flash_sales
        from commerce.catalog.flash_sale_schemas import FlashSaleIn
        from commerce.domain.money import Money
        from commerce.domain.product import NewProduct, SkuSpec
        from commerce.http.auth import Caller
        from commerce.store import inventory, products

        self.sku, self.limit = f"SALE-{uuid.uuid4().hex[:10]}", limit
        spec = SkuSpec(sku=self.sku, price=Money(1000), stock=stock)
        products.create(
            uuid.uuid4().hex, NewProduct("Sale", "", (spec,)), actor="t", at=clock.now_iso()
        )
        if shard_count > 1:
            inventory.set_shard_count(self.sku, shard_count)
        sale = FlashSaleIn.model_validate(
            {
                "sku": self.sku,
                "price": {"amount": 600, "currency": "CNY"},
                "starts_at": clock.iso(self.now + 60),
                "ends_at": clock.iso(self.now + 60 + SALE_SECONDS),
                "per_customer_limit": limit,
            }
        )
        ops = Caller(sub="ops-machine", groups=frozenset({"ops"}))
        self.sale_id = flash_sales.create_sale(sale, ops).flash_sale_id
        self.now += 60  # the sale is live from here on
        for customer in range(len(CUSTOMERS)):
            for slot in range(CARTS_EACH):
                self.carts[customer, slot] = self._new_cart(customer)

    def teardown(self) -> None:
        from commerce import clock

        clock.now = self._real_now  # type: ignore[assignment]

    # -- actions, shared by the single-step rules and the bursts ----------------------------------

    @staticmethod
    def _caller(customer: int) -> Any:
        from commerce.http.auth import Caller

        return Caller(sub=CUSTOMERS[customer], email=f"buyer{customer}@example.com")

    def _new_cart(self, customer: int) -> str:
        from commerce.carts import service

        return service.create_cart(self._caller(customer)).cart_id

    def _set(self, customer: int, slot: int, quantity: int) -> str:
        from commerce.carts import service

        cart_id = self.carts[customer, slot]
        caller = self._caller(customer)
        return _quiet(lambda: service.set_item(cart_id, self.sku, quantity, caller, None))

    def _remove(self, customer: int, slot: int) -> str:
        from commerce.carts import service

        cart_id = self.carts[customer, slot]
        caller = self._caller(customer)
        return _quiet(lambda: service.remove_item(cart_id, self.sku, caller, None))

    def _checkout(self, customer: int, slot: int) -> str:
        from commerce.orders import checkout
        from commerce.orders.schemas import PlaceOrderIn

        body = PlaceOrderIn.model_validate(
            {"cart_id": self.carts[customer, slot], "payment": {"method": "alipay"}}
        )
        caller = self._caller(customer)
        return _quiet(lambda: checkout.place(body, caller, None))

    def _sweep(self) -> str:
        from commerce.carts import sweeper

        sweeper.sweep(self.now, lambda: 60_000)
        return "ok"

    def _renew_checked_out(self) -> None:
        """A checked-out cart takes no more changes: its slot gets a fresh cart."""
        for (customer, slot), cart_id in list(self.carts.items()):
            if self.tables.checked_out(cart_id):
                self.carts[customer, slot] = self._new_cart(customer)

    def _snapshot(self) -> tuple[object, ...]:
        from commerce.store import flash_sales

        lines = [self.tables.line(cart_id, self.sku) for cart_id in self.carts.values()]
        for line in lines:  # bookkeeping that a refused change may not touch is all the rest
            if line is not None:
                line.pop("updated_at", None)
        counts = [flash_sales.count_of(self.sale_id, sub) for sub in CUSTOMERS]
        return (self.tables.shards(self.sku), json.dumps(lines, sort_keys=True), counts)

    # -- rules ----------------------------------------------------------------------------------

    @rule(
        customer=st.integers(0, len(CUSTOMERS) - 1),
        slot=st.integers(0, CARTS_EACH - 1),
        quantity=st.integers(0, 5),
    )
    def hold_or_change(self, customer: int, slot: int, quantity: int) -> None:
        before = self._snapshot()
        outcome = self._set(customer, slot, quantity)
        STATS[f"set:{outcome}"] += 1
        line = self.tables.line(self.carts[customer, slot], self.sku)
        if outcome == "ok":
            if quantity == 0:
                assert line is None, line
            else:
                STATS["held"] += 1
                assert line is not None
                assert int(line["quantity"]["N"]) == quantity
                assert _counted(line, self.sale_id) == quantity, line
        else:
            assert self._snapshot() == before, f"a refused change ({outcome}) wrote something"
            if quantity > self.limit:
                # Over the limit is refused before anything is written; only a sold-out mark
                # (set by an earlier refusal in the last second) answers first.
                assert outcome in ("PurchaseLimit", "OutOfStock"), outcome

    @rule(customer=st.integers(0, len(CUSTOMERS) - 1), slot=st.integers(0, CARTS_EACH - 1))
    def remove(self, customer: int, slot: int) -> None:
        STATS[f"remove:{self._remove(customer, slot)}"] += 1
        assert self.tables.line(self.carts[customer, slot], self.sku) is None

    @rule(customer=st.integers(0, len(CUSTOMERS) - 1), slot=st.integers(0, CARTS_EACH - 1))
    def check_out(self, customer: int, slot: int) -> None:
        before = self._snapshot()
        outcome = self._checkout(customer, slot)
        STATS[f"checkout:{outcome}"] += 1
        if outcome != "ok":
            assert self._snapshot() == before, f"a refused checkout ({outcome}) wrote something"
        self._renew_checked_out()

    @rule(
        seconds=st.sampled_from([1, TTL_SECONDS // 2, TTL_SECONDS, TTL_SECONDS + 1]),
        sweep=st.booleans(),
    )
    def expire(self, seconds: int, sweep: bool) -> None:
        """Time passes; the sweeper may or may not run (expired, unswept holds still count)."""
        self.now += seconds
        if sweep:
            self._sweep()
            STATS["sweep"] += 1

    @rule(
        customer=st.integers(0, len(CUSTOMERS) - 1),
        ops=st.lists(
            st.one_of(
                st.tuples(st.just("set"), st.integers(0, CARTS_EACH - 1), st.integers(0, 4)),
                st.tuples(st.just("remove"), st.integers(0, CARTS_EACH - 1), st.just(0)),
                st.tuples(st.just("checkout"), st.integers(0, CARTS_EACH - 1), st.just(0)),
                st.tuples(st.just("sweep"), st.just(0), st.just(0)),
            ),
            min_size=2,
            max_size=8,
        ),
    )
    def burst(self, customer: int, ops: list[tuple[str, int, int]]) -> None:
        """One customer's requests at once, across their carts (the limit's race), the sweeper
        and checkouts among them."""

        def run(op: tuple[str, int, int]) -> str:
            kind, slot, amount = op
            if kind == "set":
                return self._set(customer, slot, amount)
            if kind == "remove":
                return self._remove(customer, slot)
            if kind == "checkout":
                return self._checkout(customer, slot)
            return self._sweep()

        with ThreadPoolExecutor(max_workers=len(ops)) as pool:
            outcomes = list(pool.map(run, ops))
        for (kind, _, amount), outcome in zip(ops, outcomes, strict=True):
            STATS[f"burst-{kind}:{outcome}"] += 1
            if kind == "set" and amount and outcome == "ok":
                STATS["held"] += 1
            if kind == "checkout":
                STATS[f"checkout:{outcome}"] += 1
        self._renew_checked_out()

    # -- the books, read straight from the tables after every step --------------------------------

    def _order_units(self, sub: str) -> int:
        from commerce.store import orders

        return sum(
            line.quantity
            for stored in orders.each_customer_order(sub)
            for line in stored.order.lines
            if line.sku == self.sku
        )

    @invariant()
    def books_balance(self) -> None:
        from commerce.store import flash_sales

        if not self.sku:
            return
        STATS["steps"] += 1
        shards = self.tables.shards(self.sku)
        for shard, (on_hand, reserved, available) in enumerate(shards):
            assert 0 <= reserved <= on_hand, f"shard {shard}: reserved {reserved}, on {on_hand}"
            assert available == on_hand - reserved, f"shard {shard}: available {available}"
        held_by_lines = 0
        for customer, sub in enumerate(CUSTOMERS):
            counted = 0
            for slot in range(CARTS_EACH):
                line = self.tables.line(self.carts[customer, slot], self.sku)
                if line is not None:
                    held_by_lines += _takes(line)
                    counted += _counted(line, self.sale_id)
            ordered = self._order_units(sub)
            count = flash_sales.count_of(self.sale_id, sub)
            assert count <= self.limit, f"customer {customer}: {count} over the limit {self.limit}"
            assert count == counted + ordered, (
                f"customer {customer}: count {count}, lines {counted}, orders {ordered}"
            )
        ordered_all = sum(self._order_units(sub) for sub in CUSTOMERS)
        reserved_all = sum(reserved for _, reserved, _ in shards)
        assert reserved_all == held_by_lines + ordered_all, (
            f"reserved {reserved_all}, lines {held_by_lines}, orders {ordered_all}"
        )


TABLES: RawTables


def _child() -> dict[str, int]:
    global TABLES
    from commerce import events
    from commerce.orders import dispatch

    events.use_publisher(events.MemoryEventPublisher())  # no queue here
    dispatch.use_payment_queue(dispatch.MemoryPaymentQueue())
    TABLES = RawTables()
    run_state_machine_as_test(
        FlashSaleMachine,
        settings=settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    return dict(STATS)


if __name__ == "__main__":
    print(json.dumps(_child()))
