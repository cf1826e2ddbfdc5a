"""Orders placed through every fault the local stack can inject, then the books read back.

Shared by ``tests/reliability/test_faults.py`` (a short run that must pass) and
``tests/bench/faults.py`` (the same, longer, printing its figures). The stack is started with all
of ``infra/local/faults.py``'s faults at once: function workers killed mid-request, DynamoDB
latency, throttling and 500s through the DynamoDB proxy, per-partition ceilings, duplicate SQS
deliveries and a payment provider that times out. Buyers (signed-in customers and guests) race
for a few SKUs with little stock, as a client of API.md would: a 5xx, a 429 or a 409 with
``Retry-After`` is retried (POST /orders under the same Idempotency-Key), anything else is the
answer. Once everything has settled the faults are turned off (``PATCH /_local/faults``: nothing
below is read through them) and the state is read straight from the stack's tables:

- orders lost: a 202's order missing from the Orders table or never settled, a paid order the
  sandbox ledger holds no charge for, or a cart checked out into an order its buyer was never
  told of;
- charged twice: an order with more than one approved charge in the sandbox ledger;
- oversold: a SKU whose paid units exceed its stock ledger, whose stock rows do not equal the
  ledger less the units paid, or whose available stock is below zero;
- notifications sent twice: the same message (recipient, template, text) twice in the outbox, or
  an outbox that differs from the notification records marked SENT;
- sold miscounted: the catalog's ``sold`` of the product differs from the units paid for.

Buyers browse the catalog on their way (its best sellers and the product), so its routes run
under the faults too.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from stack_helpers import ops, queue_depth, scan

from infra.local.harness import StackProcess, start_stack

#: The faults of a run: every kind at once (python -m infra.local --help says what each does).
FAULT_FLAGS = {
    "--kill-workers": "0.05",
    "--dynamodb-latency": "3",
    "--dynamodb-jitter": "10",
    "--dynamodb-throttle": "0.03",
    "--dynamodb-errors": "0.02",
    "--partition-scale": "100",
    "--sqs-duplicates": "0.5",
    "--provider-timeouts": "0.3",
}
TIMED_OUT = "sandbox provider timed out"
#: Answers a client retries (after Retry-After, or a short pause): the stack failed, not the call.
RETRIED = frozenset({429, 500, 502, 503, 504})
CARDS = ("tok_ok",) * 8 + ("tok_flaky", "tok_declined")
SETTLED = frozenset({"PAID", "PAYMENT_FAILED", "CANCELLED"})


@dataclass(frozen=True)
class RunShape:
    """How big a run is."""

    buyers: int = 24
    orders_per_buyer: int = 2
    skus: int = 3
    stock: int = 12
    concurrency: int = 8
    settle_seconds: float = 120.0


@contextmanager
def faulty_stack(extra_args: list[str] | None = None) -> Iterator[StackProcess]:
    """A stack of its own, no demo data, every fault armed once it is ready."""
    args = ["--no-demo-data", "--no-warm", *[part for flag in FAULT_FLAGS.items() for part in flag]]
    running = start_stack(
        args=args + (extra_args or []),
        env={"SWEEP_INTERVAL_SECONDS": "30", "RESERVATION_TTL_SECONDS": "600"},
        timeout=180,
    )
    try:
        yield running
    finally:
        running.stop()


class Client:
    """An API.md client that retries what the stack, not the request, got wrong."""

    def __init__(self, stack: StackProcess, deadline_seconds: float = 120.0) -> None:
        self.stack = stack
        self.deadline_seconds = deadline_seconds
        self.retries: Counter[int] = Counter()
        self.waits: dict[str, list[float]] = {}

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        started = time.monotonic()
        try:
            return self._call(method, path, **kwargs)
        finally:
            step = f"{method} {path.split('/')[1]}"
            self.waits.setdefault(step, []).append(time.monotonic() - started)

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        deadline = time.monotonic() + self.deadline_seconds
        while True:
            response = requests.request(
                method, f"{self.stack.base_url}{path}", timeout=60, **kwargs
            )
            again = response.status_code in RETRIED or (
                response.status_code == 409 and "Retry-After" in response.headers
            )
            if not again or time.monotonic() > deadline:
                return response
            self.retries[response.status_code] += 1
            time.sleep(min(float(response.headers.get("Retry-After") or 0.2), 2.0))


@dataclass
class Attempt:
    """One buyer's try at one order, and what the client was told."""

    buyer: str
    product_id: str
    sku: str
    quantity: int
    card: str
    cart_id: str | None = None
    order_id: str | None = None
    outcome: str = ""  # "placed", "out-of-stock", or "failed: <status> <type>"


@dataclass
class Figures:
    """What a run did and what it found."""

    faults: dict[str, int] = field(default_factory=dict)
    provider_timeouts: int = 0
    retries: dict[int, int] = field(default_factory=dict)
    attempts: int = 0
    placed: int = 0
    refused: int = 0
    failed: list[str] = field(default_factory=list)
    paid: int = 0
    payment_failed: int = 0
    lost: list[str] = field(default_factory=list)
    charged_twice: list[str] = field(default_factory=list)
    oversold: list[str] = field(default_factory=list)
    sent_twice: list[str] = field(default_factory=list)
    sold_miscounted: list[str] = field(default_factory=list)
    notifications: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        kinds = dict(self.faults, provider_timed_out=self.provider_timeouts)
        injected = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
        retried = ", ".join(f"{status} x{n}" for status, n in sorted(self.retries.items()))
        return [
            f"faults injected: {injected}",
            f"client retries: {retried or 'none'}",
            f"orders placed: {self.placed} of {self.attempts} attempts "
            f"({self.refused} refused out-of-stock, {len(self.failed)} failed otherwise); "
            f"{self.paid} paid, {self.payment_failed} payment failed",
            f"orders lost: {len(self.lost)}",
            f"charged twice: {len(self.charged_twice)}",
            f"oversold: {len(self.oversold)}",
            f"sold miscounted: {len(self.sold_miscounted)}",
            f"notifications sent: {self.notifications}, sent twice: {len(self.sent_twice)}",
            f"run: {self.seconds:.1f} s ("
            + ", ".join(f"{name} {secs:.1f} s" for name, secs in self.phases.items())
            + ")",
        ]


def run(stack: StackProcess, shape: RunShape = RunShape(), seed: int = 11) -> Figures:
    """Stock the shop, let the buyers race, wait for the queues, read the books back."""
    started = time.monotonic()
    rng = random.Random(seed)
    client = Client(stack)
    shelf = _stock(client, shape)
    attempts = [
        Attempt(
            buyer=f"buyer-{n % shape.buyers}",
            product_id=shelf.product_id,
            sku=rng.choice(shelf.skus),
            quantity=rng.choice((1, 1, 2)),
            card=rng.choice(CARDS),
        )
        for n in range(shape.buyers * shape.orders_per_buyer)
    ]
    with ThreadPoolExecutor(max_workers=shape.concurrency) as pool:
        list(pool.map(lambda attempt: _buy(client, attempt), attempts))
    bought = time.monotonic()
    _settle(stack, attempts, shape.settle_seconds)
    settled = time.monotonic()
    injected = stack.faults()["injected"]
    stack.set_faults(**{name: 0 for name in _RATES}, partition_scale=None)
    figures = _read_back(stack, shelf, shape, attempts)
    figures.faults = injected
    figures.provider_timeouts = sum(TIMED_OUT in line for _, line in stack.log_lines())
    figures.retries = dict(client.retries)
    figures.seconds = time.monotonic() - started
    figures.phases = {"buy": bought - started, "settle": settled - bought}
    return figures


_RATES = (
    "kill_workers",
    "dynamodb_latency_ms",
    "dynamodb_jitter_ms",
    "dynamodb_throttle",
    "dynamodb_errors",
    "sqs_duplicates",
    "provider_timeouts",
)


@dataclass(frozen=True)
class Shelf:
    """The product the buyers race for, and its SKUs."""

    product_id: str
    skus: list[str]


def _stock(client: Client, shape: RunShape) -> Shelf:
    """One product with ``shape.skus`` SKUs of ``shape.stock`` units each, created as ops."""
    tag = uuid.uuid4().hex[:8]
    skus = [f"FAULT-{tag}-{n}" for n in range(shape.skus)]
    body = {
        "name": f"Fault run item {tag}",
        "skus": [
            {"sku": sku, "price": {"amount": 1999, "currency": "CNY"}, "stock": shape.stock}
            for sku in skus
        ],
    }
    created = client.call("POST", "/admin/products", json=body, headers=ops(client.stack))
    # A 409 is a retry of a create whose worker was killed after it wrote the product.
    assert created.status_code in (201, 409), created.text
    for sku in skus:
        level = client.call("GET", f"/admin/inventory/{sku}", headers=ops(client.stack))
        assert level.status_code == 200, level.text
        assert level.json()["on_hand"] == shape.stock, level.text
    listed = client.call("GET", "/products", params={"limit": 100})
    assert listed.status_code == 200, listed.text
    (product,) = [p for p in listed.json()["items"] if p["name"] == body["name"]]
    return Shelf(product["product_id"], skus)


def _headers(stack: StackProcess, attempt: Attempt) -> dict[str, str]:
    """Even buyers are signed-in customers, odd ones guests."""
    number = int(attempt.buyer.rsplit("-", 1)[1])
    if number % 2:
        return {}
    return stack.auth(attempt.buyer, ["customer"], email=f"{attempt.buyer}@example.com")


def _buy(client: Client, attempt: Attempt) -> None:
    """Browse the catalog, hold the SKU in a new cart, check it out."""
    headers = _headers(client.stack, attempt)
    listed = client.call("GET", "/products", params={"sort": "best_selling", "limit": 20})
    seen = client.call("GET", f"/products/{attempt.product_id}", headers=headers)
    if listed.status_code != 200 or seen.status_code != 200:
        attempt.outcome = _failed(listed if listed.status_code != 200 else seen)
        return
    cart = client.call("POST", "/carts", headers=headers)
    if cart.status_code != 201:
        attempt.outcome = _failed(cart)
        return
    body = cart.json()
    attempt.cart_id = body["cart_id"]
    reach = headers | ({"X-Cart-Token": body["cart_token"]} if "cart_token" in body else {})
    path = f"/carts/{attempt.cart_id}/items/{attempt.sku}"
    held = client.call("PUT", path, json={"quantity": attempt.quantity}, headers=reach)
    if held.status_code == 409 and held.json().get("type") == "out-of-stock":
        attempt.outcome = "out-of-stock"
        return
    if held.status_code != 200:
        attempt.outcome = _failed(held)
        return
    order: dict[str, Any] = {
        "cart_id": attempt.cart_id,
        "payment": {"method": "card", "token": attempt.card},
    }
    if not headers:
        order["email"] = f"{attempt.buyer}-{uuid.uuid4().hex[:6]}@example.com"
    key = {"Idempotency-Key": uuid.uuid4().hex}
    placed = client.call("POST", "/orders", json=order, headers=reach | key)
    if placed.status_code == 202:
        attempt.order_id = placed.json()["order_id"]
        attempt.outcome = "placed"
    elif placed.status_code == 409 and placed.json().get("type") == "out-of-stock":
        attempt.outcome = "out-of-stock"
    else:
        attempt.outcome = _failed(placed)


def _failed(response: requests.Response) -> str:
    try:
        kind = response.json().get("type")
    except ValueError:
        kind = response.text[:60]
    return f"failed: {response.status_code} {kind}"


def _orders(stack: StackProcess) -> dict[str, dict[str, Any]]:
    return {
        item["order_id"]["S"]: item
        for item in scan(stack, "OrdersTable")
        if item["sk"]["S"] == "ORDER"
    }


def _settle(stack: StackProcess, attempts: list[Attempt], seconds: float) -> None:
    """Wait until every placed order is settled and the queues are empty twice in a row."""
    deadline = time.monotonic() + seconds
    quiet = 0
    while quiet < 2 and time.monotonic() < deadline:
        orders = _orders(stack)
        pending = [
            a
            for a in attempts
            if a.order_id and orders.get(a.order_id, {}).get("status", {}).get("S") not in SETTLED
        ]
        queues = sum(queue_depth(stack, q) for q in ("PaymentsQueue", "NotificationsQueue"))
        quiet = quiet + 1 if not pending and not queues else 0
        time.sleep(0.5)


def _read_back(
    stack: StackProcess, shelf: Shelf, shape: RunShape, attempts: list[Attempt]
) -> Figures:
    figures = Figures(attempts=len(attempts))
    orders = _orders(stack)
    told = {a.order_id for a in attempts if a.order_id}
    ours = {a.cart_id for a in attempts if a.cart_id}
    figures.placed = len(told)
    figures.refused = sum(1 for a in attempts if a.outcome == "out-of-stock")
    figures.failed = [a.outcome for a in attempts if a.outcome.startswith("failed")]
    charges = _approved_charges(stack)
    for order_id in told:
        item = orders.get(order_id)
        status = item["status"]["S"] if item else "missing"
        if status not in SETTLED:
            figures.lost.append(f"{order_id}: {status}")
        elif status == "PAID" and charges.get(order_id, 0) == 0:
            figures.lost.append(f"{order_id}: PAID without a charge")
    for order_id, item in orders.items():
        if item.get("cart_id", {}).get("S") in ours and order_id not in told:
            figures.lost.append(f"{order_id}: placed, its buyer never told")
    figures.paid = sum(1 for o in told if _status(orders, o) == "PAID")
    figures.payment_failed = sum(1 for o in told if _status(orders, o) == "PAYMENT_FAILED")
    figures.charged_twice = [f"{o}: {n} charges" for o, n in charges.items() if n > 1]
    figures.oversold = _oversold(stack, shelf.skus, shape, orders)
    figures.sold_miscounted = _sold_miscounted(stack, shelf, orders)
    figures.notifications, figures.sent_twice = _notifications(stack)
    return figures


def _status(orders: dict[str, dict[str, Any]], order_id: str) -> str:
    item = orders.get(order_id)
    return str(item["status"]["S"]) if item else "missing"


def _approved_charges(stack: StackProcess) -> Counter[str]:
    """Approved charge records per order in the sandbox ledger (pk = order id)."""
    charges: Counter[str] = Counter()
    for item in scan(stack, "SandboxPaymentsTable"):
        charge = item["sk"]["S"].startswith("charge#")
        if charge and item["record"]["M"]["status"]["S"] == "approved":
            charges[item["pk"]["S"]] += 1
    return charges


def _paid_units(orders: dict[str, dict[str, Any]]) -> Counter[str]:
    """Units of each SKU that paid orders took from stock."""
    units: Counter[str] = Counter()
    for item in orders.values():
        if item["status"]["S"] != "PAID":
            continue
        for line in item["lines"]["L"]:
            fields = line["M"]
            units[fields["sku"]["S"]] += int(fields["quantity"]["N"])
    return units


def _oversold(
    stack: StackProcess, skus: list[str], shape: RunShape, orders: dict[str, dict[str, Any]]
) -> list[str]:
    inventory = scan(stack, "InventoryTable")
    paid = _paid_units(orders)
    found: list[str] = []
    for sku in skus:
        ledger = sum(int(i["delta"]["N"]) for i in inventory if i["pk"]["S"] == f"LEDGER#{sku}")
        rows = [i for i in inventory if i["pk"]["S"].startswith(f"STOCK#{sku}#")]
        on_hand = sum(int(r["on_hand"]["N"]) for r in rows)
        available = [int(r["available"]["N"]) for r in rows]
        if ledger != shape.stock or paid[sku] > ledger:
            found.append(f"{sku}: {paid[sku]} units paid of a ledger of {ledger}")
        if on_hand != ledger - paid[sku] or min(available) < 0:
            found.append(f"{sku}: on hand {on_hand}, available {available}, paid {paid[sku]}")
    return found


def _sold_miscounted(
    stack: StackProcess, shelf: Shelf, orders: dict[str, dict[str, Any]]
) -> list[str]:
    """The catalog's ``sold`` of the product against the units its paid orders took."""
    product = requests.get(f"{stack.base_url}/products/{shelf.product_id}", timeout=30).json()
    paid = sum(_paid_units(orders)[sku] for sku in shelf.skus)
    return [] if product["sold"] == paid else [f"sold {product['sold']}, paid units {paid}"]


def _notifications(stack: StackProcess) -> tuple[int, list[str]]:
    """Messages in the outbox, and those sent twice (also: SENT records the outbox lacks)."""
    response = requests.get(f"{stack.base_url}/_local/outbox", timeout=30)
    sent = response.json()["items"]
    same = Counter((m["to"], m.get("template"), m.get("body")) for m in sent)
    twice = [f"{to} {template}" for (to, template, _), n in same.items() if n > 1]
    records = [
        item
        for item in scan(stack, "CustomersTable")
        if item["pk"]["S"].startswith("NOTIFY#") and item["status"]["S"] == "SENT"
    ]
    if len(records) != len(sent):
        twice.append(f"{len(sent)} messages in the outbox, {len(records)} marked SENT")
    return len(sent), twice
