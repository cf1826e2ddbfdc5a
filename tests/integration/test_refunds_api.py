"""``POST /admin/orders/{order_id}/refunds`` through the orders handler, on moto's tables.

The refund is reserved on the order by one conditional write, made through the sandbox
provider (its DynamoDB ledger) and recorded: never more than was paid, once per key, ops only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from commerce import events
from commerce.orders import charging
from commerce.payments import factory
from commerce.payments.sandbox import SandboxProvider
from commerce.store.orders import load_order
from commerce.store.sandbox_ledger import DynamoLedger
from http_problems import assert_problem
from orders_world import Reply, invoke
from payment_orders import place_order

pytestmark = pytest.mark.integration


@pytest.fixture
def paid_order(dynamodb: Any, create_product: Callable[..., Any]) -> Iterator[str]:
    create_product(("REFUND-A", 10))
    events.use_publisher(events.MemoryEventPublisher())
    factory.use_provider(SandboxProvider(DynamoLedger()))
    stored = place_order({"REFUND-A": 3})
    charging.pay(stored.order_id)
    yield stored.order_id
    factory.use_provider(None)
    events.use_publisher(None)


@pytest.fixture
def refund(
    orders_module: ModuleType, make_event: Callable[..., dict[str, Any]]
) -> Callable[..., Reply]:
    def call(
        order_id: str, amount: int, key: str | None = "key-1", role: str | None = "ops"
    ) -> Reply:
        built = make_event(
            "orders_refund.json",
            role=role,
            body={"amount": {"amount": amount, "currency": "CNY"}, "reason": "damaged"},
            path_params={"order_id": order_id},
        )
        if key is None:
            built["headers"].pop("Idempotency-Key")
            built["multiValueHeaders"].pop("Idempotency-Key")
        else:
            built["headers"]["Idempotency-Key"] = key
            built["multiValueHeaders"]["Idempotency-Key"] = [key]
        return invoke(orders_module, built)

    return call


def _charged(order_id: str) -> tuple[str, int]:
    stored = load_order(order_id)
    assert stored is not None
    charge_id = stored.order.payment.charge_id
    assert charge_id is not None
    return charge_id, SandboxProvider(DynamoLedger()).refunded_total(charge_id).amount


def test_a_refund_is_made_once_per_key_and_listed(
    paid_order: str, refund: Callable[..., Reply]
) -> None:
    first = refund(paid_order, 1200)
    assert first.status == 201, first.body
    assert first.body["status"] == "succeeded"
    assert refund(paid_order, 1200).body == first.body
    assert _charged(paid_order)[1] == 1200
    stored = load_order(paid_order)
    assert stored is not None
    assert [r.refund_id for r in stored.order.refunds] == [first.body["refund_id"]]
    assert stored.order.payment.refunded.amount == 1200


def test_more_than_was_paid_is_409_and_moves_no_money(
    paid_order: str, refund: Callable[..., Reply]
) -> None:
    assert refund(paid_order, 2000, key="a").status == 201
    assert_problem(refund(paid_order, 1001, key="b"), 409, "conflict")
    assert _charged(paid_order)[1] == 2000


def test_refunds_need_ops_and_an_idempotency_key(
    paid_order: str, refund: Callable[..., Reply]
) -> None:
    assert_problem(refund(paid_order, 100, role="support"), 403, "forbidden")
    assert_problem(refund(paid_order, 100, role="customer"), 403, "forbidden")
    assert_problem(refund(paid_order, 100, key=None), 400, "validation-error")
    assert_problem(refund(paid_order, 0), 400, "validation-error")
    assert_problem(refund("no-such-order", 100), 404, "not-found")
    assert _charged(paid_order)[1] == 0
