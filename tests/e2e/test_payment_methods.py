"""Paying by card, Alipay and WeChat Pay over HTTP, and staff refunds, through the local stack.

Alipay and WeChat Pay orders answer with their ``next_action`` (a redirect, a QR code) and stay
PENDING_PAYMENT until the provider's signed notification: ``POST /_local/payments/{order_id}``
makes the locally played provider send it through the real webhook, verified by the providers'
own libraries. Refunds by ops never add up to more than was paid, and a retry with the same key
refunds once.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests
from http_problems import assert_problem
from stack_helpers import (
    POLL_SECONDS,
    checkout,
    create_product,
    get_order,
    level,
    local_payment,
    order_token,
    outbox,
    refund,
    wait_for_order,
)

from infra.local.harness import StackProcess

pytestmark = pytest.mark.e2e


def _product(stack: StackProcess, stock: int = 10) -> str:
    return create_product(stack, "E2E-METHOD", stock=stock, price=1500, name="E2E tea tin")


@pytest.mark.parametrize(
    ("method", "action", "field"),
    [("alipay", "redirect", "url"), ("wechat_pay", "qr_code", "code_url")],
)
def test_an_order_paid_at_the_provider_goes_pending_to_paid_by_its_notification(
    stack: StackProcess, method: str, action: str, field: str
) -> None:
    sku = _product(stack)
    placed = checkout(stack, sku, 2, method=method)
    token = order_token(placed)
    assert placed["status"] == "PENDING_PAYMENT"
    assert placed["payment"]["method"] == method
    assert placed["payment"]["next_action"]["type"] == action
    assert placed["payment"]["next_action"][field]
    order = get_order(stack, placed["order_id"], token)
    assert order["payment"]["next_action"] == placed["payment"]["next_action"]
    assert level(stack, sku) == (10, 2, 8)

    answer = local_payment(stack, placed["order_id"], "paid")
    assert answer["provider"] == method
    assert answer["webhook_status"] == 200

    paid = wait_for_order(stack, placed["order_id"], token, "PAID")
    assert [h["status"] for h in paid["history"]] == ["PENDING_PAYMENT", "PAID"]
    assert paid["payment"] == {"status": "APPROVED", "method": method}
    assert level(stack, sku) == (8, 0, 8)


def test_an_alipay_payment_that_fails_releases_the_stock(stack: StackProcess) -> None:
    sku = _product(stack, 4)
    placed = checkout(stack, sku, 4, method="alipay")
    assert local_payment(stack, placed["order_id"], "failed")["webhook_status"] == 200
    failed = wait_for_order(stack, placed["order_id"], order_token(placed), "PAYMENT_FAILED")
    assert failed["payment"]["status"] == "DECLINED"
    assert level(stack, sku) == (4, 0, 4)


def test_a_token_is_refused_for_alipay_and_required_for_cards(stack: StackProcess) -> None:
    sku = _product(stack)
    for payment in ({"method": "alipay", "token": "tok_ok"}, {"method": "card"}):
        cart = requests.post(f"{stack.base_url}/carts", timeout=30).json()
        reach = {"X-Cart-Token": cart["cart_token"]}
        requests.put(
            f"{stack.base_url}/carts/{cart['cart_id']}/items/{sku}",
            json={"quantity": 1},
            headers=reach,
            timeout=30,
        ).raise_for_status()
        response = requests.post(
            f"{stack.base_url}/orders",
            json={"cart_id": cart["cart_id"], "email": "m@example.com", "payment": payment},
            headers={**reach, "Idempotency-Key": uuid.uuid4().hex},
            timeout=30,
        )
        assert_problem(response, 400, "validation-error")
        assert response.json()["errors"][0]["field"] == "payment.token"


def test_staff_refunds_never_exceed_what_was_paid_and_a_retry_refunds_once(
    stack: StackProcess,
) -> None:
    sku = _product(stack)
    email = f"e2e-refund-{uuid.uuid4().hex[:8]}@example.com"
    placed = checkout(stack, sku, 2, email=email)  # 2 x 15.00 + shipping, by sandbox card
    token = order_token(placed)
    paid = wait_for_order(stack, placed["order_id"], token, "PAID")
    total = paid["totals"]["total"]["amount"]
    key = uuid.uuid4().hex

    first = refund(stack, placed["order_id"], 1000, key)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["status"], body["amount"]) == ("succeeded", {"amount": 1000, "currency": "CNY"})
    again = refund(stack, placed["order_id"], 1000, key)
    assert (again.status_code, again.json()) == (201, body)
    reuse = refund(stack, placed["order_id"], 999, key)
    assert_problem(reuse, 422, "idempotency-key-reuse")

    over = refund(stack, placed["order_id"], total - 1000 + 1, uuid.uuid4().hex)
    assert_problem(over, 409, "conflict")
    rest = refund(stack, placed["order_id"], total - 1000, uuid.uuid4().hex)
    assert rest.status_code == 201

    order = get_order(stack, placed["order_id"], token)
    assert order["payment"]["status"] == "REFUNDED"
    assert [(r["amount"]["amount"], r["status"]) for r in order["refunds"]] == [
        (1000, "succeeded"),
        (total - 1000, "succeeded"),
    ]
    # The customer hears of each refund once.
    deadline = time.monotonic() + POLL_SECONDS
    while len(_refund_mail(stack, email)) < 2 and time.monotonic() < deadline:
        time.sleep(0.3)
    mail = _refund_mail(stack, email)
    assert len(mail) == 2
    assert all(placed["order_id"] in m["body"] for m in mail)
    assert any("10.00" in m["body"] for m in mail)


def _refund_mail(stack: StackProcess, email: str) -> list[dict[str, Any]]:
    return [
        item
        for item in outbox(stack)
        if item["to"] == email and item["template"] == "en/order.refunded.email"
    ]


def test_only_ops_refund_and_unknown_orders_are_404(stack: StackProcess) -> None:
    sku = _product(stack)
    placed = checkout(stack, sku, 1)
    wait_for_order(stack, placed["order_id"], order_token(placed), "PAID")
    url = f"{stack.base_url}/admin/orders/{placed['order_id']}/refunds"
    body = {"amount": {"amount": 100, "currency": "CNY"}, "reason": "x"}
    support = stack.auth("e2e-support", ["support"])
    assert_problem(
        requests.post(url, json=body, headers={**support, "Idempotency-Key": "k"}, timeout=30),
        403,
        "forbidden",
    )
    ops = stack.auth("e2e-ops", ["ops"])
    missing = requests.post(url, json=body, headers=ops, timeout=30)
    assert_problem(missing, 400, "validation-error")
    assert_problem(refund(stack, "no-such-order", 100, "k2"), 404, "not-found")


def test_a_refund_made_at_the_provider_is_listed_on_the_order(stack: StackProcess) -> None:
    sku = _product(stack)
    placed = checkout(stack, sku, 1, method="wechat_pay")
    token = order_token(placed)
    local_payment(stack, placed["order_id"], "paid")
    wait_for_order(stack, placed["order_id"], token, "PAID")
    answer = local_payment(stack, placed["order_id"], "refunded")
    assert answer["webhook"]["result"] == "recorded"
    order = get_order(stack, placed["order_id"], token)
    assert order["payment"]["status"] == "REFUNDED"
    assert [r["status"] for r in order["refunds"]] == ["succeeded"]


def test_local_payments_refuses_what_no_provider_would_do(stack: StackProcess) -> None:
    response = requests.post(
        f"{stack.base_url}/_local/payments/no-such-order", json={"outcome": "paid"}, timeout=30
    )
    assert_problem(response, 404, "not-found")
    bad = requests.post(
        f"{stack.base_url}/_local/payments/any", json={"outcome": "stolen"}, timeout=30
    )
    assert_problem(bad, 400, "validation-error")
