"""Cards through Stripe (localstripe) and the payment timeout, over HTTP on a stack of their own.

This stack runs with ``PAYMENT_PROVIDER=stripe`` (it starts localstripe, points the Stripe
adapter at it and registers the webhook endpoint there, as a Stripe dashboard would) and a
payment timeout of a few seconds:

- a card (a Stripe PaymentMethod) is charged by the real adapter through one PaymentIntent and
  the order is PAID; localstripe's own signed ``payment_intent.succeeded`` reaches the webhook
  too and changes nothing more; a declined card ends PAYMENT_FAILED with its stock released;
- an order left unpaid is CANCELLED by the sweeper once its time is up, its stock released; a
  payment notified after that is refunded automatically, and the order shows it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe
from stack_helpers import (
    checkout,
    create_product,
    get_order,
    level,
    local_payment,
    order_token,
    refund,
    wait_for_order,
)

from infra.local.harness import StackProcess, start_stack

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 8


@pytest.fixture(scope="module")
def stripe_stack() -> Iterator[StackProcess]:
    running = start_stack(
        args=["--no-demo-data", "--no-warm", "--payment-provider", "stripe"],
        env={
            "PAYMENT_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
            "SWEEP_INTERVAL_SECONDS": "1",
        },
        timeout=120,
    )
    try:
        yield running
    finally:
        running.stop()


def _intents(stack: StackProcess, order_id: str) -> list[stripe.PaymentIntent]:
    client = stripe.StripeClient("sk_test_local", base_addresses={"api": stack.info["localstripe"]})
    listed = client.v1.payment_intents.list({"limit": 100}).auto_paging_iter()
    return [pi for pi in listed if pi.metadata.to_dict().get("order_id") == order_id]


def test_a_card_is_charged_through_one_stripe_payment_intent(stripe_stack: StackProcess) -> None:
    stack = stripe_stack
    assert stack.info["card_provider"] == "stripe"
    sku = create_product(stack, "E2E-STRIPE", stock=5, price=2000, name="E2E stripe item")
    placed = checkout(stack, sku, 2, card="pm_card_visa")
    token = order_token(placed)
    paid = wait_for_order(stack, placed["order_id"], token, "PAID")
    assert paid["payment"] == {"status": "APPROVED", "method": "card"}
    assert level(stack, sku) == (3, 0, 3)
    [intent] = _intents(stack, placed["order_id"])
    assert intent.status == "succeeded"

    made = refund(stack, placed["order_id"], 500, "stripe-refund-1")
    assert (made.status_code, made.json()["status"]) == (201, "succeeded")
    assert refund(stack, placed["order_id"], 500, "stripe-refund-1").json() == made.json()
    client = stripe.StripeClient("sk_test_local", base_addresses={"api": stack.info["localstripe"]})
    assert [r.amount for r in client.v1.refunds.list({"payment_intent": intent.id}).data] == [500]

    dashboard = local_payment(stack, placed["order_id"], "refunded")
    assert dashboard["webhook_status"] == 200
    order = get_order(stack, placed["order_id"], token)
    assert order["payment"]["status"] == "REFUNDED"
    assert sorted(r["amount"]["amount"] for r in order["refunds"]) == sorted(
        [500, paid["totals"]["total"]["amount"] - 500]
    )


def test_a_declined_card_fails_the_order_and_releases_its_stock(
    stripe_stack: StackProcess,
) -> None:
    stack = stripe_stack
    sku = create_product(stack, "E2E-STRIPE", stock=3, price=2000, name="E2E stripe item")
    placed = checkout(stack, sku, 3, card="pm_card_chargeCustomerFail")
    failed = wait_for_order(stack, placed["order_id"], order_token(placed), "PAYMENT_FAILED")
    assert failed["payment"]["status"] == "DECLINED"
    assert level(stack, sku) == (3, 0, 3)
    assert len(_intents(stack, placed["order_id"])) == 1


def test_an_unpaid_order_times_out_and_a_late_payment_is_refunded(
    stripe_stack: StackProcess,
) -> None:
    stack = stripe_stack
    sku = create_product(stack, "E2E-TIMEOUT", stock=4, price=1000, name="E2E timeout item")
    placed = checkout(stack, sku, 4, method="wechat_pay")
    token = order_token(placed)
    assert level(stack, sku) == (4, 4, 0)
    cancelled = wait_for_order(
        stack, placed["order_id"], token, "CANCELLED", timeout=TIMEOUT_SECONDS + 40
    )
    assert [h["status"] for h in cancelled["history"]] == ["PENDING_PAYMENT", "CANCELLED"]
    assert level(stack, sku) == (4, 0, 4)

    late = local_payment(stack, placed["order_id"], "paid")
    assert late["webhook"]["result"] == "cancelled_refunded"
    order = get_order(stack, placed["order_id"], token)
    assert order["status"] == "CANCELLED"
    assert order["payment"]["status"] == "REFUNDED"
    assert [(r["amount"]["amount"], r["status"]) for r in order["refunds"]] == [
        (order["totals"]["total"]["amount"], "succeeded")
    ]
