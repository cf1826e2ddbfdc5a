"""Shared helpers of the order tests (imported by test_orders_*, test_checkout_* and others).

Calls the cart and orders handlers as the gateway would (guests by token, roles by claims),
sets up stock, pays and delivers orders as the payments function and a carrier would, and reads
tables and the payments queue on moto.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import queue_helpers
from commerce import clock
from commerce.domain.orders import OrderEvent
from commerce.orders import fulfilment, moves
from commerce.orders.book import Effects
from commerce.payments.factory import provider
from commerce.payments.provider import charge_key
from commerce.store import orders as order_store
from http_problems import assert_problem

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
SUBS = {
    "customer": "c0000000-0000-4000-8000-000000000001",
    "other": "c0000000-0000-4000-8000-0000000000ff",
    "support": "50000000-0000-4000-8000-000000000002",
    "ops": "0a000000-0000-4000-8000-000000000003",
    "admin": "ad000000-0000-4000-8000-000000000004",
}
CARD = {"method": "card", "token": "tok_ok"}


class Context:
    function_name = "commerce-local-OrdersFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:orders"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    def __init__(self, remaining_ms: int = 10_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class Reply:
    """A proxy result, decoded."""

    status: int
    headers: dict[str, str]
    body: Any

    @property
    def content_type(self) -> str:
        lowered = {k.lower(): v for k, v in self.headers.items()}
        return lowered.get("content-type", "")


def load_function(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"{name}_function_app_orders_tests", ROOT / "functions" / name / "app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _claims(who: str) -> dict[str, str]:
    group = "customer" if who == "other" else who
    return {
        "sub": SUBS[who],
        "email": f"{who}@example.com",
        "cognito:groups": group,
        "cognito:username": who,
        "token_use": "id",
    }


def event(
    sample: str,
    *,
    who: str | None = None,
    body: Any = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    raw_body: str | None = None,
) -> dict[str, Any]:
    """A sample from events/ as ``who`` (None: anonymous) with the given body and headers."""
    built: dict[str, Any] = copy.deepcopy(json.loads((EVENTS / sample).read_text()))
    for name in ("Authorization", "X-Cart-Token", "X-Order-Token", "Idempotency-Key"):
        built["headers"].pop(name, None)
        built["multiValueHeaders"].pop(name, None)
    built["requestContext"].pop("authorizer", None)
    if who is not None:
        built["requestContext"]["authorizer"] = {"claims": _claims(who)}
    built["body"] = (
        raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    )
    if built["body"] is not None:
        built["headers"]["Content-Type"] = "application/json"
        built["multiValueHeaders"]["Content-Type"] = ["application/json"]
    if params is not None:
        built["pathParameters"] = params
        path = built["resource"]
        for key, value in params.items():
            path = path.replace("{" + key + "}", value)
        built["path"] = path
    built["queryStringParameters"] = query
    built["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    for key, value in (headers or {}).items():
        built["headers"][key] = value
        built["multiValueHeaders"][key] = [value]
    return built


def invoke(module: ModuleType, built: dict[str, Any]) -> Reply:
    result = module.lambda_handler(built, Context())
    found = dict(result.get("headers") or {})
    for name, values in (result.get("multiValueHeaders") or {}).items():
        found.setdefault(name, values[-1])
    raw = result.get("body")
    return Reply(result["statusCode"], found, json.loads(raw) if raw else None)


def guest_headers(token: str | None = None, order_token: str | None = None) -> dict[str, str]:
    found = {}
    if token:
        found["X-Cart-Token"] = token
    if order_token:
        found["X-Order-Token"] = order_token
    return found


class Shop:
    """Carts and orders through their handlers, with the stock and tables behind them."""

    def __init__(self, dynamodb: Any, cart: ModuleType, orders: ModuleType) -> None:
        self.dynamodb = dynamodb
        self.cart = cart
        self.orders = orders
        self.keys = 0

    # --- carts ------------------------------------------------------------------------------

    def new_cart(self, who: str | None = None) -> tuple[str, str | None]:
        reply = invoke(self.cart, event("cart_create.json", who=who))
        assert reply.status == 201, reply.body
        return reply.body["cart_id"], reply.body.get("cart_token")

    def set_line(
        self,
        cart_id: str,
        sku: str,
        quantity: int,
        who: str | None = None,
        token: str | None = None,
    ) -> Reply:
        return invoke(
            self.cart,
            event(
                "cart_set_item.json",
                who=who,
                body={"quantity": quantity},
                params={"cart_id": cart_id, "sku": sku},
                headers=guest_headers(token),
            ),
        )

    def cart_with(self, lines: dict[str, int], who: str | None = None) -> tuple[str, str | None]:
        cart_id, token = self.new_cart(who)
        for sku, quantity in lines.items():
            reply = self.set_line(cart_id, sku, quantity, who=who, token=token)
            assert reply.status == 200, reply.body
        return cart_id, token

    # --- orders -----------------------------------------------------------------------------

    def next_key(self) -> str:
        self.keys += 1
        return f"key-{self.keys:04d}"

    def place(
        self,
        cart_id: str,
        *,
        who: str | None = None,
        token: str | None = None,
        key: str | None = "auto",
        email: str | None = "guest@example.com",
        payment: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        accept_language: str | None = None,
    ) -> Reply:
        body: dict[str, Any] = {"cart_id": cart_id, "payment": payment or CARD}
        if email is not None:
            body["email"] = email
        body.update(extra or {})
        headers = guest_headers(token)
        if accept_language is not None:
            headers["Accept-Language"] = accept_language
        if key is not None:
            headers["Idempotency-Key"] = self.next_key() if key == "auto" else key
        return invoke(self.orders, event("orders_place.json", who=who, body=body, headers=headers))

    def _on_order(
        self,
        sample: str,
        order_id: str,
        who: str | None,
        tokens: dict[str, str | None],
        body: Any = None,
    ) -> Reply:
        """A route on one order, as ``who`` or a guest holding ``token``/``order_token``."""
        headers = guest_headers(tokens.get("token"), tokens.get("order_token"))
        params = {"order_id": order_id}
        return invoke(
            self.orders, event(sample, who=who, body=body, params=params, headers=headers)
        )

    def get(self, order_id: str, *, who: str | None = None, **tokens: str | None) -> Reply:
        return self._on_order("orders_get.json", order_id, who, tokens)

    def list(self, who: str | None, query: dict[str, str] | None = None) -> Reply:
        return invoke(self.orders, event("orders_list.json", who=who, query=query))

    def cancel(self, order_id: str, *, who: str | None = None, **tokens: str | None) -> Reply:
        return self._on_order("orders_cancel.json", order_id, who, tokens)

    def ship(self, order_id: str, who: str | None = "ops", body: Any = None) -> Reply:
        shipment = body or {"carrier": "sf-express", "tracking_number": "SF1234567890"}
        return self._on_order("orders_ship.json", order_id, who, {}, shipment)

    def request_return(
        self, order_id: str, body: Any, *, who: str | None = None, **tokens: str | None
    ) -> Reply:
        return self._on_order("orders_request_return.json", order_id, who, tokens, body)

    def receive(self, order_id: str, return_id: str, who: str | None = "ops") -> Reply:
        return invoke(
            self.orders,
            event(
                "orders_receive_return.json",
                who=who,
                params={"order_id": order_id, "return_id": return_id},
            ),
        )

    # --- tables ------------------------------------------------------------------------------

    def table(self, fragment: str) -> str:
        return next(t for t in self.dynamodb.list_tables()["TableNames"] if fragment in t)

    def stock(self, sku: str) -> dict[str, int]:
        """on_hand, reserved, available summed over the SKU's shards."""
        rows = self.dynamodb.scan(
            TableName=self.table("InventoryTable"),
            ConsistentRead=True,
            FilterExpression="begins_with(pk, :p)",
            ExpressionAttributeValues={":p": {"S": f"STOCK#{sku}#"}},
        )["Items"]
        return {
            k: sum(int(row[k]["N"]) for row in rows) for k in ("on_hand", "reserved", "available")
        }

    def order_items(self) -> list[dict[str, Any]]:
        rows = self.dynamodb.scan(TableName=self.table("OrdersTable"), ConsistentRead=True)
        return [row for row in rows["Items"] if row["sk"]["S"] == "ORDER"]

    def order_item(self, order_id: str) -> dict[str, Any]:
        item: dict[str, Any] = self.dynamodb.get_item(
            TableName=self.table("OrdersTable"),
            Key={"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": "ORDER"}},
            ConsistentRead=True,
        )["Item"]
        return item


def pay(order_id: str) -> None:
    """What charging does on approval, with the installed provider: charge once under the
    order's charge key, then deduct the stock and write PAID in one move."""
    stored = order_store.load_order(order_id)
    assert stored is not None
    result = provider().charge(
        order_id, stored.order.totals.total, stored.payment_token or "", charge_key(order_id)
    )

    def approved(current: order_store.StoredOrder) -> order_store.StoredOrder:
        order = current.order
        return replace(
            current, order=replace(order, payment=order.payment.approved(result.charge_id))
        )

    moves.move(
        order_id,
        OrderEvent.PAYMENT_APPROVED,
        prepare=approved,
        effects=lambda current, adv: Effects(deduct_stock=current.reservation),
    )


def deliver(shop: Shop, order_id: str, carrier_event_id: str | None = None) -> int:
    """Pay, ship and deliver the order, as its carrier reports it; the delivery time."""
    pay(order_id)
    assert shop.ship(order_id).status == 200
    at = clock.now()
    fulfilment.mark_delivered(order_id, at, carrier_event_id or f"evt-{order_id}")
    return at


def make_queues() -> dict[str, str]:
    """The payments and notifications queues on moto, under the names settings carry."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    return {
        name: sqs.create_queue(QueueName=name)["QueueUrl"]
        for name in ("commerce-local-PaymentsQueue", "commerce-local-NotificationsQueue")
    }


def drain(queue_url: str) -> list[dict[str, Any]]:
    """Every message body waiting on the queue (received and deleted)."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    return [json.loads(message["Body"]) for message in queue_helpers.drain(sqs, queue_url)]


def problem(reply: Reply, status: int, kind: str) -> None:
    assert_problem(reply, status, kind)


Creator = Callable[..., Any]
