"""POST /orders through the orders handler on moto: one transaction, one order per key.

The cart's live holds become the order's reservation (reserved stays, the holds stop expiring);
lapsed holds are taken again or the checkout is a 409 naming them; the cart is checked out once
and never changes again; Powertools idempotency answers retries with the first response.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from commerce import clock
from commerce.events import MemoryEventPublisher
from orders_world import CARD, Shop, drain, event, guest_headers, invoke, problem

pytestmark = pytest.mark.integration

SKU = "TEA-CHK-1"
SKU2 = "TEA-CHK-2"


@pytest.fixture
def shop(shop: Shop, create_product: Callable[..., Any]) -> Shop:
    create_product((SKU, 10), (SKU2, 5), price=1000)
    return shop


def _payments(queues: dict[str, str]) -> list[dict[str, Any]]:
    return drain(queues["commerce-local-PaymentsQueue"])


# --- the happy paths ---------------------------------------------------------------------------


def test_guest_checkout(shop: Shop, queues: dict[str, str], events: MemoryEventPublisher) -> None:
    cart_id, token = shop.cart_with({SKU: 3, SKU2: 1})
    assert shop.stock(SKU) == {"on_hand": 10, "reserved": 3, "available": 7}
    reply = shop.place(cart_id, token=token, email="li.wei@example.com")
    assert reply.status == 202, reply.body
    body = reply.body
    assert set(body) == {"order_id", "status", "order_token", "totals"}
    assert body["status"] == "PENDING_PAYMENT"
    assert body["totals"]["subtotal"] == {"amount": 4000, "currency": "CNY"}
    assert body["totals"]["shipping"] == {"amount": 1000, "currency": "CNY"}
    assert body["totals"]["total"] == {"amount": 5000, "currency": "CNY"}
    # The holds became the order's reservation: reserved stays.
    assert shop.stock(SKU) == {"on_hand": 10, "reserved": 3, "available": 7}
    assert shop.stock(SKU2) == {"on_hand": 5, "reserved": 1, "available": 4}
    item = shop.order_item(body["order_id"])
    assert item["status"]["S"] == "PENDING_PAYMENT"
    assert item["email"]["S"] == "li.wei@example.com"
    assert item["payment_token"]["S"] == "tok_ok"
    assert set(item["reservation"]["M"]) == {SKU, SKU2}
    assert "gsi2pk" not in item  # the payment message went out, so the marker is gone
    assert "gsi1pk" not in item  # guests have no customer index entry
    assert body["order_token"] not in str(item)  # only hashes are kept
    assert _payments(queues) == [{"order_id": body["order_id"]}]
    assert [e.type for e in events.events] == ["order.pending_payment"]
    # The token holders can read it.
    assert shop.get(body["order_id"], order_token=body["order_token"]).status == 200
    assert shop.get(body["order_id"], token=token).status == 200


@pytest.mark.parametrize(
    ("accept_language", "stored"),
    [(None, "en"), ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"), ("fr-FR", "en"), ("zh", "zh-CN")],
)
def test_the_checkout_language_is_kept_for_the_order_messages(
    shop: Shop, accept_language: str | None, stored: str
) -> None:
    cart_id, token = shop.cart_with({SKU: 1})
    reply = shop.place(cart_id, token=token, accept_language=accept_language)
    assert reply.status == 202, reply.body
    assert shop.order_item(reply.body["order_id"])["locale"]["S"] == stored


def test_customer_checkout_defaults_email_and_lists(shop: Shop) -> None:
    cart_id, _ = shop.cart_with({SKU: 2}, who="customer")
    reply = shop.place(cart_id, who="customer", email=None)
    assert reply.status == 202, reply.body
    assert "order_token" not in reply.body
    item = shop.order_item(reply.body["order_id"])
    assert item["email"]["S"] == "customer@example.com"
    assert item["gsi1pk"]["S"] == "CUSTOMER#c0000000-0000-4000-8000-000000000001"
    listed = shop.list("customer")
    assert [o["order_id"] for o in listed.body["items"]] == [reply.body["order_id"]]


def test_checked_out_cart_never_changes_again(shop: Shop) -> None:
    cart_id, token = shop.cart_with({SKU: 1})
    assert shop.place(cart_id, token=token).status == 202
    problem(shop.set_line(cart_id, SKU, 2, token=token), 409, "conflict")
    problem(shop.set_line(cart_id, SKU2, 1, token=token), 409, "conflict")
    again = shop.place(cart_id, token=token)  # a new key: a second checkout of the same cart
    problem(again, 409, "conflict")
    assert shop.stock(SKU)["reserved"] == 1
    assert len(shop.order_items()) == 1


def test_a_checked_out_guest_cart_cannot_be_claimed(
    shop: Shop, scan_all: Callable[[], dict[str, list[dict[str, Any]]]]
) -> None:
    cart_id, token = shop.cart_with({SKU: 1})
    assert shop.place(cart_id, token=token).status == 202
    before = scan_all()
    claim = event(
        "cart_claim.json", who="customer", params={"cart_id": cart_id}, headers=guest_headers(token)
    )
    problem(invoke(shop.cart, claim), 409, "conflict")
    assert scan_all() == before


# --- idempotency ---------------------------------------------------------------------------------


def test_same_key_same_body_replays_the_first_response(shop: Shop, queues: dict[str, str]) -> None:
    cart_id, token = shop.cart_with({SKU: 2})
    first = shop.place(cart_id, token=token, key="retry-me")
    second = shop.place(cart_id, token=token, key="retry-me")
    assert first.status == second.status == 202
    assert second.body == first.body  # order_token included: the same body
    assert len(shop.order_items()) == 1
    assert len(_payments(queues)) == 1
    assert shop.stock(SKU)["reserved"] == 2


def test_same_key_other_body_is_422(shop: Shop) -> None:
    cart_id, token = shop.cart_with({SKU: 2})
    assert shop.place(cart_id, token=token, key="k1", email="a@example.com").status == 202
    reuse = shop.place(cart_id, token=token, key="k1", email="b@example.com")
    problem(reuse, 422, "idempotency-key-reuse")
    assert len(shop.order_items()) == 1


def test_keys_are_scoped_to_the_caller(shop: Shop) -> None:
    mine, my_token = shop.cart_with({SKU: 1})
    theirs, their_token = shop.cart_with({SKU: 1})
    assert shop.place(mine, token=my_token, key="same").status == 202
    other = shop.place(theirs, token=their_token, key="same")
    assert other.status == 202, other.body
    assert len(shop.order_items()) == 2


def test_failed_checkout_leaves_the_key_free(shop: Shop) -> None:
    cart_id, token = shop.new_cart()
    problem(shop.place(cart_id, token=token, key="k"), 409, "conflict")  # empty
    assert shop.set_line(cart_id, SKU, 1, token=token).status == 200
    assert shop.place(cart_id, token=token, key="k").status == 202


def test_in_progress_duplicate_is_409_with_retry_after(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
    )
    from commerce.orders import checkout

    def busy(**_: Any) -> Any:
        raise IdempotencyAlreadyInProgressError("in progress")

    monkeypatch.setattr(checkout, "_idempotent_place", lambda: busy)
    cart_id, token = shop.cart_with({SKU: 1})
    reply = shop.place(cart_id, token=token)
    problem(reply, 409, "conflict")
    assert reply.headers["Retry-After"] == "1"


# --- refusals ----------------------------------------------------------------------------------


def test_missing_or_bad_idempotency_key_is_400(shop: Shop) -> None:
    cart_id, token = shop.cart_with({SKU: 1})
    problem(shop.place(cart_id, token=token, key=None), 400, "validation-error")
    problem(shop.place(cart_id, token=token, key="x" * 129), 400, "validation-error")
    problem(shop.place(cart_id, token=token, key=""), 400, "validation-error")
    assert shop.order_items() == []


@pytest.mark.parametrize(
    "body",
    [
        {"payment": CARD},
        {"cart_id": "c", "payment": {"method": "cash", "token": "tok_ok"}},
        {"cart_id": "c", "payment": {"method": "card"}},
        {"cart_id": "c", "payment": CARD, "email": "not-an-email"},
        {"cart_id": "c", "payment": CARD, "redeem_points": 100},
        {"cart_id": "c", "payment": CARD, "redeem_points": -1},
        {"cart_id": "c", "payment": CARD, "surprise": 1},
    ],
)
def test_bad_bodies_are_400(shop: Shop, body: dict[str, Any]) -> None:
    from orders_world import event, invoke

    reply = invoke(
        shop.orders,
        event("orders_place.json", body=body, headers={"Idempotency-Key": "k"}),
    )
    problem(reply, 400, "validation-error")


def test_guest_needs_an_email(shop: Shop) -> None:
    cart_id, token = shop.cart_with({SKU: 1})
    reply = shop.place(cart_id, token=token, email=None)
    problem(reply, 400, "validation-error")
    assert reply.body["errors"][0]["field"] == "email"


def test_strangers_get_404(shop: Shop) -> None:
    cart_id, _ = shop.cart_with({SKU: 1})
    problem(shop.place(cart_id), 404, "not-found")  # no token
    problem(shop.place(cart_id, token="w" * 43), 404, "not-found")
    problem(shop.place(cart_id, who="customer"), 404, "not-found")
    problem(shop.place("0" * 32, token="w" * 43), 404, "not-found")
    problem(shop.place(cart_id, who="support"), 403, "forbidden")
    assert shop.stock(SKU)["reserved"] == 1


def test_empty_cart_is_409(shop: Shop, scan_all: Callable[[], Any]) -> None:
    cart_id, token = shop.new_cart()
    reply = shop.place(cart_id, token=token)
    problem(reply, 409, "conflict")
    assert shop.order_items() == []


# --- holds and expiry ----------------------------------------------------------------------------


def _expire(monkeypatch: pytest.MonkeyPatch, seconds: int = 10_000) -> int:
    later = clock.now() + seconds
    monkeypatch.setattr(clock, "now", lambda: later)
    return later


def test_order_holds_never_expire(
    shop: Shop, sweeper_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    cart_id, token = shop.cart_with({SKU: 4})
    assert shop.place(cart_id, token=token).status == 202
    # Past every cart hold's expiry, within the order's payment time (PAYMENT_TIMEOUT_SECONDS,
    # 1800: after that the unpaid order is cancelled and its stock released, as API.md says).
    _expire(monkeypatch, 1_200)
    from orders_world import Context

    report = sweeper_module.lambda_handler(
        {"detail-type": "Scheduled Event", "time": "x"}, Context()
    )
    assert report["released"] == 0
    assert shop.stock(SKU) == {"on_hand": 10, "reserved": 4, "available": 6}


def test_lapsed_lines_are_taken_again(
    shop: Shop, sweeper_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    cart_id, token = shop.cart_with({SKU: 2, SKU2: 1})
    _expire(monkeypatch)
    from orders_world import Context

    sweeper_module.lambda_handler({"detail-type": "Scheduled Event", "time": "x"}, Context())
    assert shop.stock(SKU)["reserved"] == 0  # swept
    reply = shop.place(cart_id, token=token)
    assert reply.status == 202, reply.body
    assert shop.stock(SKU) == {"on_hand": 10, "reserved": 2, "available": 8}
    assert shop.stock(SKU2) == {"on_hand": 5, "reserved": 1, "available": 4}


def test_expired_unswept_hold_is_netted(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    cart_id, token = shop.cart_with({SKU: 3})
    _expire(monkeypatch)  # expired, but the sweeper has not run: reserved still counts it
    reply = shop.place(cart_id, token=token)
    assert reply.status == 202, reply.body
    assert shop.stock(SKU) == {"on_hand": 10, "reserved": 3, "available": 7}


def test_lapsed_lines_that_cannot_be_made_good_are_409(
    shop: Shop, sweeper_module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    cart_id, token = shop.cart_with({SKU: 8, SKU2: 1})
    later = _expire(monkeypatch)
    from orders_world import Context

    sweeper_module.lambda_handler({"detail-type": "Scheduled Event", "time": "x"}, Context())
    # Someone else takes most of SKU meanwhile.
    monkeypatch.setattr(clock, "now", lambda: later)
    other, other_token = shop.cart_with({SKU: 5})
    before = (shop.stock(SKU), shop.stock(SKU2))
    reply = shop.place(cart_id, token=token)
    problem(reply, 409, "conflict")
    assert reply.body["unavailable"] == [{"sku": SKU, "quantity": 8, "available": 5}]
    assert SKU in reply.body["detail"]
    assert (shop.stock(SKU), shop.stock(SKU2)) == before  # nothing changed
    assert shop.order_items() == []
    # The cart can still be fixed and checked out.
    assert shop.set_line(cart_id, SKU, 5, token=token).status == 200
    assert shop.place(cart_id, token=token).status == 202
    del other, other_token


# --- dispatch ------------------------------------------------------------------------------------


def test_unsent_payment_message_is_resent_by_the_reconciler(
    shop: Shop, queues: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from commerce.orders import dispatch

    real = dispatch._sqs

    class Down:
        def send_message(self, **_: Any) -> Any:
            raise RuntimeError("queue unreachable")

    monkeypatch.setattr(dispatch, "_sqs", lambda: Down())
    cart_id, token = shop.cart_with({SKU: 1})
    reply = shop.place(cart_id, token=token)
    assert reply.status == 202  # the order stands; the message will follow
    order_id = reply.body["order_id"]
    assert "gsi2pk" in shop.order_item(order_id)
    monkeypatch.setattr(dispatch, "_sqs", real)
    assert dispatch.reconcile_dispatch(clock.now()).resent == 0  # too young to resend
    assert dispatch.reconcile_dispatch(clock.now() + 61).resent == 1
    assert _payments(queues) == [{"order_id": order_id}]
    assert "gsi2pk" not in shop.order_item(order_id)
    assert dispatch.reconcile_dispatch(clock.now() + 61).resent == 0


def test_reconciler_only_clears_orders_no_longer_pending(
    shop: Shop, queues: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from commerce.orders import dispatch

    monkeypatch.setattr(dispatch, "send_payment_message", lambda order_id: False)
    cart_id, token = shop.cart_with({SKU: 1})
    order_id = shop.place(cart_id, token=token).body["order_id"]
    monkeypatch.undo()
    assert shop.cancel(order_id, token=token).status == 200
    report = dispatch.reconcile_dispatch(clock.now() + 61)
    assert (report.resent, report.cleared) == (0, 1)
    assert _payments(queues) == []
