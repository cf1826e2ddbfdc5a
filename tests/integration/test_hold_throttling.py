"""Holds when DynamoDB throttles: AWS's own engine (DynamoDB Local) behind the DynamoDB proxy,
whose hook cancels every transaction touching chosen keys as DynamoDB cancels one whose item
it throttled (``TransactionCanceledException``, ``ThrottlingError`` on that item).

- One shard of a two-shard SKU throttled: a cart that prefers it holds from the other (the
  line's takes name the other shard; the books add up), at the cost of one throttled send.
- Both shards throttled: ``set_line`` raises TooManyRequests, the handler answers 429 with
  Retry-After, and nothing changed (no line, nothing reserved).
- The cart's line or header throttled: no other shard helps, so the change is retried with
  backoff a bounded number of times (``holding.ATTEMPTS``), then 429; nothing changed.

The holds run in a child interpreter whose clients point at the proxy from the start (this
process's clients were made for moto), as in ``test_holds_concurrency.py``. Run directly, this
file is that child.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from local_engine import run_child

from infra.local.dynamodb_proxy import Call, Decision, DynamoDBProxy, Hook, transaction_canceled

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def throttled(dynamodb_local: str) -> dict[str, Any]:
    return run_child(__file__, dynamodb_local)


def test_a_throttled_preferred_shard_is_held_around(throttled: dict[str, Any]) -> None:
    result = throttled["one_shard"]
    other = 1 - result["preferred"]
    assert result["status"] == 200, result
    assert result["takes"] == {str(other): 2}
    assert result["reserved"] == [2 if shard == other else 0 for shard in range(2)]
    assert result["on_hand"] == [5, 5]
    assert (result["sends"], result["refused"]) == (2, 1)  # one throttled, one written


def test_every_shard_throttled_is_a_429_that_changes_nothing(throttled: dict[str, Any]) -> None:
    result = throttled["every_shard"]
    assert result["raised"] == "TooManyRequests"
    assert result["status"] == 429
    assert result["type"] == "too-many-requests"
    assert result["retry_after"] == "1"
    assert result["line"] is None
    assert result["reserved"] == [0, 0]
    assert result["sends"] == result["refused"] == 4  # each shard once, for each of the two


@pytest.mark.parametrize("item", ["line", "header"])
def test_a_throttled_cart_item_is_retried_with_backoff_then_429(
    throttled: dict[str, Any], item: str
) -> None:
    result = throttled[f"cart_{item}"]
    assert result["status"] == 429
    assert result["retry_after"] == "1"
    assert result["line"] is None
    assert result["reserved"] == [0, 0]
    attempts = result["attempts"]
    assert result["sends"] == result["refused"] == attempts  # bounded: one send per attempt
    assert result["pauses"] == list(range(1, attempts))  # a backoff before every retry


# --- the child: holds through the proxy at AWS_ENDPOINT_URL_DYNAMODB ------------------------------


class _Throttle(Hook):
    """A proxy hook: a transaction naming any of ``keys`` (pk, sk) is cancelled as throttled on
    those items; counts the transactions it saw and refused."""

    def __init__(self) -> None:
        self.keys: set[tuple[str, str]] = set()
        self.sends = 0
        self.refused = 0

    def reset(self, keys: set[tuple[str, str]]) -> None:
        self.keys, self.sends, self.refused = keys, 0, 0

    def decide(self, call: Call) -> Decision | None:
        if call.operation != "TransactWriteItems":
            return None
        self.sends += 1
        codes = [
            "ThrottlingError" if _item_key(item) in self.keys else None
            for item in call.params.get("TransactItems", [])
        ]
        if not any(codes):
            return None
        self.refused += 1
        return Decision(error=transaction_canceled(codes))


def _item_key(item: dict[str, Any]) -> tuple[str, str]:
    (action,) = item.values()
    key = action.get("Key") or action["Item"]
    return key["pk"]["S"], key["sk"]["S"]


class _World:
    """The cart function and the stores, behind the proxy with ``hook`` on it."""

    def __init__(self, hook: _Throttle) -> None:
        from commerce.events import MemoryEventPublisher, use_publisher
        from commerce.store import kit

        self.hook = hook
        use_publisher(MemoryEventPublisher())
        self.pauses: list[int] = []
        pause = kit.pause

        def recorded(attempt: int, base_seconds: float = kit.BASE_PAUSE_SECONDS, **kw: Any) -> None:
            if attempt:
                self.pauses.append(attempt)
            pause(attempt, base_seconds, **kw)

        kit.pause = recorded  # type: ignore[assignment]
        from orders_world import load_function

        self.handler = load_function("cart")

    def sku(self) -> str:
        """A new SKU of 10 units over two shards of 5."""
        from commerce.domain.money import Money
        from commerce.domain.product import NewProduct, SkuSpec
        from commerce.store import inventory, products

        sku = f"THR-{uuid.uuid4().hex[:8]}"
        spec = SkuSpec(sku=sku, price=Money(100), stock=10)
        products.create(
            uuid.uuid4().hex, NewProduct("Throttled", "", (spec,)), actor="t", at="2026-01-01"
        )
        inventory.set_shard_count(sku, 2)
        inventory.read_shards(sku)  # the count is known: a hold reads its cart's shard
        return sku

    def new_cart(self) -> tuple[str, str]:
        from commerce.carts import service
        from commerce.http.auth import Caller

        created = service.create_cart(Caller())
        assert created.cart_token is not None
        return created.cart_id, created.cart_token

    def put(self, cart_id: str, token: str, sku: str, quantity: int) -> dict[str, Any]:
        """PUT /carts/{id}/items/{sku} through the cart handler; status, Retry-After, body."""
        from orders_world import event, guest_headers, invoke

        self.pauses.clear()
        reply = invoke(
            self.handler,
            event(
                "cart_set_item.json",
                body={"quantity": quantity},
                params={"cart_id": cart_id, "sku": sku},
                headers=guest_headers(token),
            ),
        )
        return {
            "status": reply.status,
            "retry_after": reply.headers.get("Retry-After"),
            "type": (reply.body or {}).get("type", ""),
        }

    def outcome(self, cart_id: str, sku: str) -> dict[str, Any]:
        """What the hook saw of the change just made (then it lets everything pass), the line
        and the SKU's shards as they are now, and the backoff pauses the change took."""
        from commerce.store import carts, inventory

        seen = {"sends": self.hook.sends, "refused": self.hook.refused, "pauses": self.pauses[:]}
        self.hook.reset(set())
        stored = carts.load(cart_id)
        assert stored is not None
        line = stored.line(sku)
        stock = inventory.read_shards(sku, consistent=True)
        return {
            **seen,
            "line": None if line is None else line.quantity,
            "takes": None if line is None else {str(k): v for k, v in line.takes.items()},
            "reserved": [level.reserved for level in stock.levels],
            "on_hand": [level.on_hand for level in stock.levels],
        }


def _shard_key(sku: str, shard: int) -> tuple[str, str]:
    from commerce.store import keys

    return keys.stock_pk(sku, shard), keys.STOCK_SK


def _one_shard(world: _World) -> dict[str, Any]:
    from commerce.domain.reservations import preferred_shard

    sku = world.sku()
    cart_id, token = world.new_cart()
    preferred = preferred_shard(cart_id, 2)
    world.hook.reset({_shard_key(sku, preferred)})
    reply = world.put(cart_id, token, sku, 2)
    return {**reply, **world.outcome(cart_id, sku), "preferred": preferred}


def _every_shard(world: _World) -> dict[str, Any]:
    from commerce.carts import holding
    from commerce.domain.money import Money
    from commerce.errors import TooManyRequests
    from commerce.store import carts

    sku = world.sku()
    cart_id, token = world.new_cart()
    world.hook.reset({_shard_key(sku, 0), _shard_key(sku, 1)})
    stored = carts.load(cart_id)
    assert stored is not None
    raised = ""
    try:
        holding.set_line(stored, sku, 2, Money(100))
    except TooManyRequests as error:
        raised = type(error).__name__
    reply = world.put(cart_id, token, sku, 2)
    return {**reply, **world.outcome(cart_id, sku), "raised": raised}


def _cart_item(world: _World, item: str) -> dict[str, Any]:
    from commerce.carts import holding
    from commerce.store import keys

    sku = world.sku()
    cart_id, token = world.new_cart()
    sk = keys.line_sk(sku) if item == "line" else keys.CART_SK
    world.hook.reset({(keys.cart_pk(cart_id), sk)})
    reply = world.put(cart_id, token, sku, 1)
    return {**reply, **world.outcome(cart_id, sku), "attempts": holding.ATTEMPTS}


def _child() -> dict[str, Any]:
    hook = _Throttle()
    proxy = DynamoDBProxy(os.environ["AWS_ENDPOINT_URL_DYNAMODB"], [hook])
    proxy.start()
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = proxy.endpoint  # before any client is made
    try:
        world = _World(hook)
        return {
            "one_shard": _one_shard(world),
            "every_shard": _every_shard(world),
            "cart_line": _cart_item(world, "line"),
            "cart_header": _cart_item(world, "header"),
        }
    finally:
        proxy.stop()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT / "tests" / "integration"))
    print(json.dumps(_child()))
