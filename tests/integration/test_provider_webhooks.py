"""Stripe, Alipay and WeChat Pay notifications through the webhooks handler (moto tables).

Each is signed as its provider signs (the local provider edge holds Alipay's and WeChat Pay's
generated keys; Stripe's scheme with a generated signing secret) and verified by the
production code: stripe.Webhook.construct_event, python-alipay-sdk's RSA2 verify, wechatpayv3's
callback verification and decryption. Unsigned, mis-signed, stale, replayed and unknown-order
notifications change nothing; duplicates settle once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from types import ModuleType
from typing import Any

import pytest
from commerce import events
from commerce.domain.orders import OrderStatus, PaymentMethod, PaymentStatus, RefundStatus
from commerce.orders import timeouts
from commerce.payments import credentials, factory
from commerce.settings import get_settings
from commerce.store import stock_moves
from commerce.store.orders import StoredOrder, load_order, put_new_order, stock_label
from commerce.store.transactions import LabelledTransaction
from order_builders import pending_order
from orders_world import Context
from payment_edge import Edge, running_edge
from payment_orders import level

pytestmark = pytest.mark.integration

STRIPE_SECRET = "whsec_" + "t" * 32


@pytest.fixture(scope="module")
def edge() -> Iterator[Edge]:
    with running_edge() as running:
        yield running


@pytest.fixture
def world(
    dynamodb: Any,
    create_product: Callable[..., Any],
    edge: Edge,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[events.MemoryEventPublisher]:
    create_product(("HOOK-P", 10))
    keys = edge.edge.keys.credentials()
    keys["stripe"]["webhook_secret"] = STRIPE_SECRET
    settings = replace(
        get_settings(), payment_credentials_json=json.dumps(keys), payment_provider="stripe"
    )
    monkeypatch.setattr(credentials, "get_settings", lambda: settings)
    monkeypatch.setattr(factory, "get_settings", lambda: settings)
    published = events.MemoryEventPublisher()
    events.use_publisher(published)
    factory.use_provider_for("alipay", edge.alipay())
    factory.use_provider_for("wechat_pay", edge.wechat_pay())
    yield published
    factory.use_provider_for("alipay", None)
    factory.use_provider_for("wechat_pay", None)
    events.use_publisher(None)
    credentials.clear_cache()


def _place(method: PaymentMethod, units: int = 2) -> StoredOrder:
    """An order placed a minute ago (a notification may not be dated before its placing)."""
    stored = pending_order(
        {"HOOK-P": units},
        order_id=f"ord-{uuid.uuid4().hex[:20]}",
        created=int(time.time()) - 60,
    )
    order = stored.order
    stored = replace(stored, order=replace(order, payment=replace(order.payment, method=method)))
    tx = LabelledTransaction()
    put_new_order(tx, stored, updated_at=stored.created_at)
    stock_moves.take(tx, "HOOK-P", 0, units, label=stock_label("HOOK-P", 0))
    assert not tx.commit()
    return stored


@pytest.fixture
def post(
    webhooks_module: ModuleType, make_event: Callable[..., dict[str, Any]]
) -> Callable[..., tuple[int, Any]]:
    def call(provider: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        event = make_event(
            "webhooks_payment_event.json",
            raw_body=body.decode(),
            path_params={"provider": provider},
            headers=headers,
        )
        result = webhooks_module.lambda_handler(event, Context())
        text = result["body"]
        try:
            return result["statusCode"], json.loads(text)
        except ValueError:
            return result["statusCode"], text

    return call


FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def _status(order_id: str) -> StoredOrder:
    found = load_order(order_id)
    assert found is not None
    return found


# --- Alipay -----------------------------------------------------------------------------------


def test_alipay_paid_notification_pays_the_order_and_is_answered_success(
    world: Any, edge: Edge, post: Callable[..., tuple[int, Any]]
) -> None:
    stored = _place(PaymentMethod.ALIPAY)
    trade = edge.edge.pay("alipay", stored.order_id, stored.order.totals.total.amount)
    body = edge.edge.alipay_notification(trade, "paid")
    assert post("alipay", body, FORM) == (200, "success")
    paid = _status(stored.order_id)
    assert paid.status is OrderStatus.PAID
    assert paid.order.payment.charge_id == trade.trade_no
    assert level("HOOK-P").on_hand == 8
    # Alipay sends the same notification again until it reads success: nothing happens twice.
    assert post("alipay", body, FORM) == (200, "success")
    assert _status(stored.order_id).version == paid.version
    assert level("HOOK-P").on_hand == 8


def test_alipay_forged_stale_and_unknown_notifications_change_nothing(
    world: Any, edge: Edge, post: Callable[..., tuple[int, Any]]
) -> None:
    stored = _place(PaymentMethod.ALIPAY)
    trade = edge.edge.pay("alipay", stored.order_id, stored.order.totals.total.amount)
    genuine = edge.edge.alipay_notification(trade, "paid")
    forged = genuine.replace(b"total_amount=20.00", b"total_amount=0.01")
    assert forged != genuine
    assert post("alipay", forged, FORM)[0] == 401
    unsigned = b"&".join(p for p in genuine.split(b"&") if not p.startswith(b"sign="))
    assert post("alipay", unsigned, FORM)[0] == 401
    stale = edge.edge.alipay_notification(trade, "paid", notify_time="2026-01-01 08:00:00")
    assert post("alipay", stale, FORM)[0] == 401
    ghost = edge.edge.pay("alipay", "ord-no-such-order", 2000)
    assert post("alipay", edge.edge.alipay_notification(ghost, "paid"), FORM)[0] == 404
    after = _status(stored.order_id)
    assert (after.status, after.version) == (OrderStatus.PENDING_PAYMENT, stored.version)


def test_alipay_refund_made_in_its_dashboard_is_listed_on_the_order(
    world: Any, edge: Edge, post: Callable[..., tuple[int, Any]]
) -> None:
    stored = _place(PaymentMethod.ALIPAY)
    trade = edge.edge.pay("alipay", stored.order_id, 2000)
    assert post("alipay", edge.edge.alipay_notification(trade, "paid"), FORM)[0] == 200
    assert edge.edge.refund(trade, "dashboard-1", 600) == (600, trade.refund_ids["dashboard-1"])
    assert post("alipay", edge.edge.alipay_notification(trade, "refunded"), FORM)[0] == 200
    refunded = _status(stored.order_id).order
    assert refunded.payment.refunded.amount == 600
    assert [(r.amount.amount, r.status) for r in refunded.refunds] == [
        (600, RefundStatus.SUCCEEDED)
    ]


def test_an_alipay_payment_notified_after_the_timeout_is_refunded(
    world: Any, edge: Edge, post: Callable[..., tuple[int, Any]]
) -> None:
    stored = _place(PaymentMethod.ALIPAY)
    assert timeouts.expire(stored, int(time.time()))
    trade = edge.edge.pay("alipay", stored.order_id, 2000)
    assert post("alipay", edge.edge.alipay_notification(trade, "paid"), FORM) == (200, "success")
    after = _status(stored.order_id)
    assert after.status is OrderStatus.CANCELLED
    assert after.order.payment.status is PaymentStatus.REFUNDED
    assert trade.refunded == 2000  # the money went back at Alipay
    assert level("HOOK-P").reserved == 0


# --- WeChat Pay -------------------------------------------------------------------------------


def test_wechat_pay_callback_pays_the_order_once_however_often_it_comes(
    world: Any, edge: Edge, post: Callable[..., tuple[int, Any]]
) -> None:
    # Delivered one after another: moto's tables are not safe under concurrent conditional
    # writes, so duplicates arriving at once are raced on DynamoDB Local in
    # test_payment_races.py (the same de-duplication and settlement for every sender).
    stored = _place(PaymentMethod.WECHAT_PAY)
    trade = edge.edge.pay("wechat_pay", stored.order_id, 2000)
    body, headers = edge.edge.wechat_notification(trade, "paid")
    answers = [post("wechat_pay", body, headers) for _ in range(4)]
    assert [code for code, _ in answers] == [200] * 4
    assert [answer["status"] for _, answer in answers] == ["processed"] + ["duplicate"] * 3
    paid = _status(stored.order_id)
    assert paid.status is OrderStatus.PAID
    assert paid.version == stored.version + 1
    assert level("HOOK-P").on_hand == 8


def test_wechat_pay_tampered_or_stale_callbacks_are_refused(
    world: Any, edge: Edge, post: Callable[..., tuple[int, Any]]
) -> None:
    stored = _place(PaymentMethod.WECHAT_PAY)
    trade = edge.edge.pay("wechat_pay", stored.order_id, 2000)
    body, headers = edge.edge.wechat_notification(trade, "paid")
    tampered = body.replace(b'"summary":"TRANSACTION.SUCCESS"', b'"summary":"x"')
    assert post("wechat_pay", tampered, headers)[0] == 401
    assert post("wechat_pay", body, {"Content-Type": "application/json"})[0] == 401
    old, old_headers = edge.edge.wechat_notification(trade, "paid", timestamp=1_700_000_000)
    assert post("wechat_pay", old, old_headers)[0] == 401
    assert _status(stored.order_id).status is OrderStatus.PENDING_PAYMENT


# --- Stripe -----------------------------------------------------------------------------------


def _stripe_event(
    kind: str, order: StoredOrder, amount: int, at: int | None = None, created: int | None = None
) -> Any:
    """A Stripe event signed at ``at`` (now by default), created at ``created`` (``at``)."""
    timestamp = at or int(time.time())
    payload = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex[:16]}",
            "object": "event",
            "type": kind,
            "created": created or timestamp,
            "data": {
                "object": {
                    "id": f"pi_{uuid.uuid4().hex[:14]}",
                    "object": "payment_intent",
                    "amount": amount,
                    "currency": "cny",
                    "status": "succeeded",
                    "metadata": {"order_id": order.order_id},
                }
            },
        }
    )
    digest = hmac.new(
        STRIPE_SECRET.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256
    ).hexdigest()
    headers = {"Content-Type": "application/json", "Stripe-Signature": f"t={timestamp},v1={digest}"}
    return payload.encode(), headers


def test_stripe_events_are_verified_by_stripes_library(
    world: Any, post: Callable[..., tuple[int, Any]]
) -> None:
    stored = _place(PaymentMethod.CARD)
    body, headers = _stripe_event("payment_intent.succeeded", stored, 2000)
    forged = {**headers, "Stripe-Signature": headers["Stripe-Signature"][:-4] + "0000"}
    assert post("stripe", body, forged)[0] == 401
    assert post("stripe", body, {"Content-Type": "application/json"})[0] == 401
    stale, stale_headers = _stripe_event(
        "payment_intent.succeeded", stored, 2000, at=int(time.time()) - 3600
    )
    assert post("stripe", stale, stale_headers)[0] == 401
    wrong_amount, wrong_headers = _stripe_event("payment_intent.succeeded", stored, 1)
    assert post("stripe", wrong_amount, wrong_headers)[0] == 409
    assert _status(stored.order_id).status is OrderStatus.PENDING_PAYMENT
    status, answer = post("stripe", body, headers)
    assert (status, answer["result"]) == (200, "paid")
    assert post("stripe", body, headers)[1]["status"] == "duplicate"
    assert _status(stored.order_id).status is OrderStatus.PAID


def test_provider_events_dated_ahead_or_before_the_order_change_nothing(
    world: Any, edge: Edge, post: Callable[..., tuple[int, Any]]
) -> None:
    stored = _status(_place(PaymentMethod.CARD).order_id)
    now = int(time.time())
    for created in (253_402_214_400, now + 400, stored.order.created_at - 1):
        body, headers = _stripe_event("payment_intent.succeeded", stored, 2000, created=created)
        status, answer = post("stripe", body, headers)
        assert (status, answer["errors"][0]["field"]) == (400, "created"), answer
    assert _status(stored.order_id) == stored
    assert level("HOOK-P").reserved == 2
    # Alipay dates a payment by gmt_payment (Beijing time), WeChat Pay by success_time.
    paid_in_alipay = _status(_place(PaymentMethod.ALIPAY).order_id)
    trade = edge.edge.pay("alipay", paid_in_alipay.order_id, 2000)
    late = edge.edge.alipay_notification(trade, "paid", happened_at="9999-12-31 23:59:59")
    status, answer = post("alipay", late, FORM)
    assert (status, answer["errors"][0]["field"]) == (400, "gmt_payment"), answer
    assert _status(paid_in_alipay.order_id) == paid_in_alipay
    # Dated now, the same payment is believed (a refused notification is not remembered).
    fine = edge.edge.alipay_notification(trade, "paid")
    assert post("alipay", fine, FORM) == (200, "success")


def test_a_stripe_failure_event_fails_the_pending_order(
    world: Any, post: Callable[..., tuple[int, Any]]
) -> None:
    stored = _place(PaymentMethod.CARD)
    body, headers = _stripe_event("payment_intent.payment_failed", stored, 2000)
    status, answer = post("stripe", body, headers)
    assert (status, answer["result"]) == (200, "payment_failed")
    assert _status(stored.order_id).status is OrderStatus.PAYMENT_FAILED
    assert level("HOOK-P").reserved == 0
