"""The sweeper's payment timeout and reconciliation on moto's tables, through its handler.

The unpaid index (gsi3) lists pending orders by age; the sweeper asks each one's provider about
its charge and cancels it once its payment time is up, releasing its stock, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from commerce import clock, events
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.payments import factory
from commerce.payments.provider import charge_key
from commerce.payments.sandbox import SandboxProvider
from commerce.store import orders as store
from commerce.store.orders import load_order
from commerce.store.sandbox_ledger import DynamoLedger
from order_builders import CREATED_EPOCH
from orders_world import Context
from payment_orders import level, place_order

pytestmark = pytest.mark.integration


@pytest.fixture
def sweep(
    dynamodb: Any,
    create_product: Callable[..., Any],
    sweeper_module: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[[int], dict[str, Any]]]:
    create_product(("UNPAID-A", 10))
    events.use_publisher(events.MemoryEventPublisher())
    factory.use_provider(SandboxProvider(DynamoLedger()))

    def run(at: int) -> dict[str, Any]:
        monkeypatch.setattr(clock, "now", lambda: at)
        result: dict[str, Any] = sweeper_module.lambda_handler(
            {"detail-type": "Scheduled Event", "time": "x"}, Context()
        )
        return result

    yield run
    factory.use_provider(None)
    events.use_publisher(None)


def test_the_unpaid_index_lists_pending_orders_until_they_move_on(
    sweep: Callable[[int], dict[str, Any]],
) -> None:
    stored = place_order({"UNPAID-A": 2})
    found = [o for b in range(4) for o in store.unpaid(b, "2099-01-01T00:00:00Z")]
    assert found == [stored.order_id]
    sweep(CREATED_EPOCH + 1800)
    assert [o for b in range(4) for o in store.unpaid(b, "2099-01-01T00:00:00Z")] == []


def test_an_unpaid_order_is_cancelled_by_the_sweeper_once_its_time_is_up(
    sweep: Callable[[int], dict[str, Any]],
) -> None:
    stored = place_order({"UNPAID-A": 3})
    assert level("UNPAID-A").reserved == 3
    sweep(CREATED_EPOCH + 1799)
    assert load_order(stored.order_id).status is OrderStatus.PENDING_PAYMENT  # type: ignore[union-attr]
    sweep(CREATED_EPOCH + 1800)
    cancelled = load_order(stored.order_id)
    assert cancelled is not None
    assert cancelled.status is OrderStatus.CANCELLED
    assert level("UNPAID-A") == (10, 0, 10)
    sweep(CREATED_EPOCH + 1900)  # nothing more happens
    assert load_order(stored.order_id).version == cancelled.version  # type: ignore[union-attr]


def test_a_charge_whose_notification_was_lost_is_found_and_paid(
    sweep: Callable[[int], dict[str, Any]],
) -> None:
    stored = place_order({"UNPAID-A": 1})
    SandboxProvider(DynamoLedger()).charge(
        stored.order_id, Money(1000), "tok_ok", charge_key(stored.order_id)
    )
    sweep(CREATED_EPOCH + 300)
    paid = load_order(stored.order_id)
    assert paid is not None
    assert paid.status is OrderStatus.PAID
    assert level("UNPAID-A") == (9, 0, 9)
