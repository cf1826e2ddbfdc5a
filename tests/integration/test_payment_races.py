"""Payment races against DynamoDB Local (AWS's own engine; moto is not safe under concurrency).

- Eight staff refunds of one order at once, each under its own key: the reservations are
  conditional writes on the order, so the refunds made add up to exactly what was paid. A
  refund told the order is busy (429) is tried again under its key, as a client would.
- Six deliveries of one signed payment notification at once: one settlement, one stock deduction.
- The payment timeout racing the payment's notification, again and again: every order ends
  either PAID, or CANCELLED with the charge refunded, and its stock adds up.

The racing happens in a child interpreter whose clients point at DynamoDB Local from the start
(this process's clients were made for moto). Run directly, this file is that child.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from local_engine import run_child

pytestmark = pytest.mark.integration

ROUNDS = 6
#: How often a refunding client tries again when told the order is busy (429, retry shortly).
CLIENT_RETRIES = 40


@pytest.fixture(scope="module")
def races(dynamodb_local: str) -> dict[str, Any]:
    secrets = json.dumps({"payments/sandbox": ["race-secret"]})
    return run_child(__file__, dynamodb_local, "all", extra_env={"WEBHOOK_SECRETS_JSON": secrets})


def test_concurrent_refunds_add_up_to_exactly_what_was_paid(races: dict[str, Any]) -> None:
    refunds = races["refunds"]
    assert refunds["succeeded"] == 3
    assert refunds["conflicts"] == 5
    assert refunds["refunded_at_provider"] == refunds["paid"] == 3000
    assert refunds["refunded_on_order"] == 3000


def test_concurrent_duplicate_notifications_settle_once(races: dict[str, Any]) -> None:
    notes = races["notifications"]
    assert notes["processed"] == 1
    assert notes["duplicate"] == 5
    assert notes["status"] == "PAID"
    assert notes["on_hand"] == 8


def test_timeout_and_notification_end_in_exactly_one_outcome(races: dict[str, Any]) -> None:
    outcomes = races["timeouts"]
    assert len(outcomes) == ROUNDS
    for outcome in outcomes:
        if outcome["status"] == "PAID":
            assert (outcome["net_charged"], outcome["on_hand"], outcome["reserved"]) == (1000, 9, 0)
        else:
            assert outcome["status"] == "CANCELLED"
            assert outcome["payment"] == "REFUNDED"
            assert (outcome["net_charged"], outcome["on_hand"], outcome["reserved"]) == (0, 10, 0)


# --- the child: races against the endpoint in AWS_ENDPOINT_URL_DYNAMODB -------------------------


def _product(sku: str, stock: int) -> None:
    from commerce.domain.money import Money
    from commerce.domain.product import NewProduct, SkuSpec
    from commerce.store import products

    spec = SkuSpec(sku=sku, price=Money(100), stock=stock)
    products.create(
        uuid.uuid4().hex, NewProduct("Race", "", (spec,)), actor="race", at="2026-01-01T00:00:00Z"
    )


def _stock(sku: str) -> tuple[int, int]:
    from payment_orders import level

    found = level(sku)
    return found.on_hand, found.reserved


def _net_charged(order_id: str) -> int:
    from commerce.payments.sandbox import SandboxProvider
    from commerce.store.orders import load_order
    from commerce.store.sandbox_ledger import DynamoLedger

    sandbox = SandboxProvider(DynamoLedger())
    stored = load_order(order_id)
    assert stored is not None
    total = 0
    for _, record in DynamoLedger().query(order_id, "charge#"):
        if record["status"] == "approved":
            total += int(record["amount"]) - sandbox.refunded_total(str(record["charge_id"])).amount
    return total


def _refunds() -> dict[str, Any]:
    from commerce.errors import Conflict, TooManyRequests
    from commerce.orders import charging, refunds
    from commerce.orders.schemas import RefundAmountIn, RefundIn
    from commerce.payments.sandbox import SandboxProvider
    from commerce.store.orders import load_order
    from commerce.store.sandbox_ledger import DynamoLedger
    from payment_orders import place_order

    _product("RACE-R", 10)
    stored = place_order({"RACE-R": 3})
    charging.pay(stored.order_id)
    body = RefundIn(amount=RefundAmountIn(amount=1000, currency="CNY"), reason="race")

    def one(index: int) -> str:
        """One member of staff, who retries under the same key while told to (429)."""
        for _ in range(CLIENT_RETRIES):
            try:
                return refunds.refund_order(stored.order_id, body, f"race-{index}").status
            except Conflict:
                return "conflict"
            except TooManyRequests:
                time.sleep(0.05)
        return "gave up"

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(8)))
    after = load_order(stored.order_id)
    assert after is not None
    assert after.order.payment.charge_id is not None
    provider = SandboxProvider(DynamoLedger())
    return {
        "succeeded": results.count("succeeded"),
        "conflicts": results.count("conflict"),
        "paid": after.order.totals.total.amount,
        "refunded_on_order": after.order.payment.refunded.amount,
        "refunded_at_provider": provider.refunded_total(after.order.payment.charge_id).amount,
    }


def _notifications() -> dict[str, Any]:
    from commerce.store.orders import load_order
    from commerce.webhooks import service
    from commerce.webhooks.signatures import sign
    from payment_orders import place_order

    _product("RACE-N", 10)
    # Placed just now: the provider's notification may not be dated before the order.
    stored = place_order({"RACE-N": 2}, created=int(time.time()) - 60)
    raw = json.dumps(
        {
            "event_id": f"evt-{uuid.uuid4().hex[:10]}",
            "type": "charge.succeeded",
            "order_id": stored.order_id,
            "charge_id": "ch_race",
        }
    ).encode()
    header = sign("race-secret", int(time.time()), raw)

    def deliver(_: int) -> str:
        return str(service.receive("payments", "sandbox", raw, header)["status"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(deliver, range(6)))
    after = load_order(stored.order_id)
    assert after is not None
    return {
        "processed": results.count("processed"),
        "duplicate": results.count("duplicate"),
        "status": after.status.value,
        "on_hand": _stock("RACE-N")[0],
    }


def _timeout_race(round_no: int) -> dict[str, Any]:
    """One order whose payment time is up while its payment's notification arrives."""
    from commerce.domain.money import Money
    from commerce.orders import settlement, timeouts
    from commerce.payments.provider import charge_key
    from commerce.payments.sandbox import SandboxProvider
    from commerce.store.orders import load_order
    from commerce.store.sandbox_ledger import DynamoLedger
    from payment_orders import place_order

    sandbox = SandboxProvider(DynamoLedger())
    sku = f"RACE-T{round_no}"
    _product(sku, 10)
    stored = place_order({sku: 1})
    charge = sandbox.charge(stored.order_id, Money(1000), "tok_ok", charge_key(stored.order_id))
    late = stored.order.created_at + 1800

    def notify() -> object:
        return settlement.approve(
            stored, charge.charge_id, charge.amount, provider=sandbox, now=late
        )

    def expire() -> object:
        return timeouts.expire(stored, late)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(notify), pool.submit(expire)]:
            future.result()
    after = load_order(stored.order_id)
    assert after is not None
    on_hand, reserved = _stock(sku)
    return {
        "status": after.status.value,
        "payment": after.order.payment.status.value,
        "net_charged": _net_charged(stored.order_id),
        "on_hand": on_hand,
        "reserved": reserved,
    }


def _child() -> dict[str, Any]:
    from commerce import events
    from commerce.payments import factory
    from commerce.payments.sandbox import SandboxProvider
    from commerce.store.sandbox_ledger import DynamoLedger

    events.use_publisher(events.MemoryEventPublisher())
    factory.use_provider(SandboxProvider(DynamoLedger()))
    return {
        "refunds": _refunds(),
        "notifications": _notifications(),
        "timeouts": [_timeout_race(n) for n in range(ROUNDS)],
    }


if __name__ == "__main__":
    sys.path[:0] = ["tests", "tests/integration"]
    print(json.dumps(_child()))
