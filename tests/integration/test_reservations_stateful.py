"""A stateful test of holds against DynamoDB Local: random reserve, change, release, expire,
sweep, adjust, reshard and concurrent bursts, with the books checked after every step.

Hypothesis drives a ``RuleBasedStateMachine`` over one SKU (a few shards) and a few guest carts,
through the cart services the handlers call. After every step the invariants are read straight
from the tables (raw items, not through the store code):

- every shard: ``0 <= reserved <= on_hand`` and ``available == on_hand - reserved``;
- the SKU: ``reserved`` equals the units of every cart line that holds stock, expired but not
  yet swept included (``commerce.domain.reservations.violations`` semantics);
- no unit held twice: per shard, the takes the lines record sum to the shard's ``reserved``;
- a line holds stock exactly when it is in the holds index, and after a sweep at ``now`` no
  line holds stock with ``expires_at <= now``.

Time is a fake clock injected through ``commerce.clock.now``. Checkout is not part of the
machine yet (it lands with the orders feature). The machine runs in a child interpreter whose
clients point at DynamoDB Local from the start (this process's clients were made for moto), as
in ``test_holds_concurrency.py``. Run directly, this file is that child.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
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

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration

CARTS = 3
TTL_SECONDS = 60
MAX_EXAMPLES = 15
STEPS = 20


def test_the_books_balance_after_every_step(dynamodb_local: str) -> None:
    stats = run_child(
        __file__,
        dynamodb_local,
        extra_env={"RESERVATION_TTL_SECONDS": str(TTL_SECONDS)},
        timeout=300,
    )
    print(json.dumps(stats, sort_keys=True))  # what the machine did, for `pytest -s`
    # The machine did exercise the hold paths (not a run of no-ops).
    assert stats["held"] > 0, stats
    assert stats["steps"] >= MAX_EXAMPLES, stats


# --- the child: the machine, against the endpoint in AWS_ENDPOINT_URL_DYNAMODB ------------------

STATS: Counter[str] = Counter()
ALLOWED_REFUSALS = ("OutOfStock", "TooManyRequests", "Conflict")


def _quiet(action: Callable[[], object]) -> str:
    return quiet(action, ALLOWED_REFUSALS)


def _holds_stock(line: dict[str, Any] | None) -> bool:
    return line is not None and "expires_at" in line and bool(takes(line))


class ReservationMachine(RuleBasedStateMachine):
    """One SKU, a few guest carts, a fake clock; every rule goes through the cart services."""

    def __init__(self) -> None:
        super().__init__()
        from commerce import clock

        self.tables = TABLES
        self.now = int(time.time())
        self._real_now = clock.now
        clock.now = lambda: self.now  # type: ignore[assignment]
        self.sku = ""
        self.carts: list[tuple[str, str]] = []  # (cart_id, cart token)
        self.swept_at: int | None = None

    # -- setup ----------------------------------------------------------------------------------

    @initialize(stock=st.integers(0, 12), shard_count=st.integers(1, 3))
    def open_the_books(self, stock: int, shard_count: int) -> None:
        from commerce.carts import service
        from commerce.domain.money import Money
        from commerce.domain.product import NewProduct, SkuSpec
        from commerce.http.auth import Caller
        from commerce.store import inventory, products

        self.sku = f"STATE-{uuid.uuid4().hex[:10]}"
        spec = SkuSpec(sku=self.sku, price=Money(100), stock=stock)
        products.create(
            uuid.uuid4().hex, NewProduct("State", "", (spec,)), actor="t", at="2026-01-01T00:00:00Z"
        )
        if shard_count > 1:
            inventory.set_shard_count(self.sku, shard_count)
        for _ in range(CARTS):
            cart = service.create_cart(Caller())
            assert cart.cart_token is not None
            self.carts.append((cart.cart_id, cart.cart_token))

    def teardown(self) -> None:
        from commerce import clock

        clock.now = self._real_now  # type: ignore[assignment]

    # -- actions, shared by the single-step rules and the bursts ----------------------------------

    def _set(self, cart: int, quantity: int) -> str:
        from commerce.carts import service
        from commerce.http.auth import Caller

        cart_id, token = self.carts[cart]
        return _quiet(lambda: service.set_item(cart_id, self.sku, quantity, Caller(), token))

    def _remove(self, cart: int) -> str:
        from commerce.carts import service
        from commerce.http.auth import Caller

        cart_id, token = self.carts[cart]
        return _quiet(lambda: service.remove_item(cart_id, self.sku, Caller(), token))

    def _adjust(self, delta: int) -> str:
        from commerce.store import inventory

        return _quiet(
            lambda: inventory.adjust(
                self.sku, delta, reason="count", actor="t", at="2026-01-01T00:00:00.000000Z"
            )
        )

    def _sweep(self) -> str:
        from commerce.carts import sweeper

        sweeper.sweep(self.now, lambda: 60_000)
        return "ok"

    def _live_holds(self) -> dict[str, tuple[int, dict[int, int]]]:
        """Lines holding stock that are live at ``now``: cart id -> (expires_at, takes)."""
        found = {}
        for cart_id, _ in self.carts:
            line = self.tables.line(cart_id, self.sku)
            if line is not None and _holds_stock(line):
                expires_at = int(line["expires_at"]["N"])
                if expires_at > self.now:
                    found[cart_id] = (expires_at, takes(line))
        return found

    def _snapshot(self) -> tuple[object, ...]:
        lines = [self.tables.line(cart_id, self.sku) for cart_id, _ in self.carts]
        for line in lines:  # bookkeeping that a refused change may not touch is all the rest
            if line is not None:
                line.pop("updated_at", None)
        return (self.tables.shards(self.sku), json.dumps(lines, sort_keys=True))

    # -- rules ----------------------------------------------------------------------------------

    @rule(cart=st.integers(0, CARTS - 1), quantity=st.integers(0, 6))
    def reserve_or_change(self, cart: int, quantity: int) -> None:
        before = self._snapshot()
        outcome = self._set(cart, quantity)
        STATS[f"set:{outcome}"] += 1
        line = self.tables.line(self.carts[cart][0], self.sku)
        if outcome == "ok":
            if quantity == 0:
                assert line is None, line
            else:
                STATS["held"] += 1
                assert line is not None
                assert int(line["quantity"]["N"]) == quantity
                assert sum(takes(line).values()) == quantity
                assert int(line["expires_at"]["N"]) == self.now + TTL_SECONDS
        else:
            assert self._snapshot() == before, f"a refused change ({outcome}) wrote something"

    @rule(cart=st.integers(0, CARTS - 1))
    def release(self, cart: int) -> None:
        STATS[f"remove:{self._remove(cart)}"] += 1
        assert self.tables.line(self.carts[cart][0], self.sku) is None

    @rule(
        seconds=st.sampled_from([1, TTL_SECONDS // 2, TTL_SECONDS, TTL_SECONDS + 1]),
        sweep=st.booleans(),
    )
    def expire(self, seconds: int, sweep: bool) -> None:
        """Time passes; the sweeper may or may not run (expired, unswept holds still count)."""
        self.now += seconds
        if sweep:
            live = self._live_holds()
            self._sweep()
            self.swept_at = self.now
            STATS["sweep"] += 1
            assert self._live_holds() == live, "the sweeper released a hold that was still live"

    @rule(delta=st.integers(-6, 8).filter(bool))
    def adjust(self, delta: int) -> None:
        STATS[f"adjust:{self._adjust(delta)}"] += 1

    @rule(count=st.integers(1, 3))
    def reshard(self, count: int) -> None:
        from commerce.store import inventory

        STATS[f"reshard:{_quiet(lambda: inventory.set_shard_count(self.sku, count))}"] += 1

    @rule(
        ops=st.lists(
            st.one_of(
                st.tuples(st.just("set"), st.integers(0, CARTS - 1), st.integers(0, 4)),
                st.tuples(st.just("remove"), st.integers(0, CARTS - 1), st.just(0)),
                st.tuples(st.just("adjust"), st.just(0), st.integers(-3, 3).filter(bool)),
                st.tuples(st.just("sweep"), st.just(0), st.just(0)),
            ),
            min_size=2,
            max_size=8,
        ),
        expire_first=st.booleans(),
    )
    def burst(self, ops: list[tuple[str, int, int]], expire_first: bool) -> None:
        """Several workers at once: the same lines, the same shards, the sweeper among them
        (after every hold has expired, when ``expire_first``: sweeps race changes and each other).
        """
        if expire_first:
            self.now += TTL_SECONDS + 1

        def run(op: tuple[str, int, int]) -> str:
            kind, cart, amount = op
            if kind == "set":
                return self._set(cart, amount)
            if kind == "remove":
                return self._remove(cart)
            if kind == "adjust":
                return self._adjust(amount)
            return self._sweep()

        with ThreadPoolExecutor(max_workers=len(ops)) as pool:
            outcomes = list(pool.map(run, ops))
        for (kind, _, amount), outcome in zip(ops, outcomes, strict=True):
            STATS[f"burst-{kind}:{outcome}"] += 1
            if kind == "set" and amount and outcome == "ok":
                STATS["held"] += 1
        if any(kind == "sweep" for kind, _, _ in ops):
            self.swept_at = None  # a sweep racing new holds proves nothing about "after"

    # -- the books, read straight from the tables after every step --------------------------------

    @invariant()
    def books_balance(self) -> None:
        if not self.sku:
            return
        STATS["steps"] += 1
        shards = self.tables.shards(self.sku)
        held_per_shard = [0] * len(shards)
        held_units = 0
        for cart_id, _ in self.carts:
            line = self.tables.line(cart_id, self.sku)
            if line is None:
                continue
            indexed = "gsi1pk" in line
            holds = _holds_stock(line)
            assert indexed == holds, f"line of {cart_id}: indexed {indexed}, holds {holds}"
            if not holds:
                continue
            taken = takes(line)
            assert sum(taken.values()) == int(line["quantity"]["N"]), line
            held_units += sum(taken.values())
            for shard, units in taken.items():
                assert shard < len(shards), f"{cart_id} holds units on missing shard {shard}"
                held_per_shard[shard] += units
            if self.swept_at is not None and self.now == self.swept_at:
                assert int(line["expires_at"]["N"]) > self.now, f"swept, yet {cart_id} holds"
        for shard, (on_hand, reserved, available) in enumerate(shards):
            assert 0 <= reserved <= on_hand, f"shard {shard}: reserved {reserved}, on {on_hand}"
            assert available == on_hand - reserved, f"shard {shard}: available {available}"
            assert reserved == held_per_shard[shard], (
                f"shard {shard}: reserved {reserved}, lines hold {held_per_shard[shard]}"
            )
        assert sum(r for _, r, _ in shards) == held_units


TABLES: RawTables


def _child() -> dict[str, int]:
    global TABLES
    from commerce import events

    events.use_publisher(events.MemoryEventPublisher())  # no queue here; safety stock is 0
    TABLES = RawTables()
    run_state_machine_as_test(
        ReservationMachine,
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
