"""Every state-changing route, sent N times at once, over the local stack (DynamoDB Local makes the
races real): one effect, every answer the first one's or a documented refusal, never a 5xx
(issue 11, "every retry answers like the first").

Each test makes what its route acts on, fires one burst (``races.burst``), holds the answers to
``Burst.answered_alike``, then reads the effect back through the API or the stack's tables:
stock, refunds at the order and at the provider, points, status, the cart, the address book,
the ticket. Checkout under one Idempotency-Key has its own test
(``test_idempotent_checkout.py``); here it is checkout redeeming points.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from races import COUNT, burst, request
from stack_helpers import (
    ADDRESS,
    checkout,
    create_product,
    create_skus,
    deliver,
    get_order,
    inventory,
    new_cart,
    new_sku,
    ops,
    put_item,
    refunded_at_provider,
    staff,
    wait_for_order,
    wait_until_settled,
)

from infra.local.harness import StackProcess

pytestmark = pytest.mark.reliability

CONFLICT = {409: "conflict"}
GONE = {404: "not-found"}


class Customer:
    """A signed-in customer of the test's own."""

    def __init__(self, stack: StackProcess) -> None:
        self.stack = stack
        self.sub = f"race-{uuid.uuid4().hex[:10]}"
        self.headers = stack.auth(self.sub, ["customer"], f"{self.sub}@example.com")

    def url(self, path: str) -> str:
        return f"{self.stack.base_url}{path}"

    def get(self, path: str) -> Any:
        answer = requests.get(self.url(path), headers=self.headers, timeout=60)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, path: str, body: Any, status: int) -> Any:
        answer = requests.post(self.url(path), json=body, headers=self.headers, timeout=60)
        assert answer.status_code == status, answer.text
        return answer.json()

    def points(self) -> dict[str, Any]:
        ledger: dict[str, Any] = self.get("/me/points?limit=100")
        return ledger


@pytest.fixture
def customer(stack: StackProcess) -> Customer:
    return Customer(stack)


def _sku(stack: StackProcess, prefix: str, stock: int = 50, price: int = 5000) -> str:
    return create_product(stack, prefix, stock=stock, price=price, name="Race item")


def _on_hand(stack: StackProcess, sku: str) -> int:
    return int(inventory(stack, sku)["on_hand"])


def _paid(stack: StackProcess, customer: Customer, sku: str, quantity: int = 1) -> str:
    order_id = str(checkout(stack, sku, quantity, headers=customer.headers)["order_id"])
    wait_for_order(stack, order_id, customer.headers, "PAID")
    return order_id


def _status_and_money(order: dict[str, Any]) -> tuple[Any, ...]:
    """What every answer about one order must agree on, whatever moment it was read at."""
    refunds = sorted((r["refund_id"], r["amount"]["amount"]) for r in order.get("refunds", []))
    return order["status"], tuple(refunds), order["payment"]["status"]


def _quantities(cart: dict[str, Any]) -> dict[str, int]:
    return {line["sku"]: line["quantity"] for line in cart["lines"]}


def _but_when(entry: dict[str, Any]) -> dict[str, Any]:
    """An answer without the moment of its own write (each identical write has one)."""
    return {name: value for name, value in entry.items() if name != "updated_at"}


# --- orders --------------------------------------------------------------------------------------


def test_a_return_requested_then_received_at_once_is_one_return_refunded_once(
    stack: StackProcess, customer: Customer
) -> None:
    sku = _sku(stack, "RACE-RCV")
    order_id = _paid(stack, customer, sku, 2)
    deliver(stack, order_id, customer.headers)
    earned = customer.points()["balance"]
    wanted = {"lines": [{"sku": sku, "quantity": 1}], "reason": "too big"}
    url = customer.url(f"/orders/{order_id}/returns")
    asked = burst(request("POST", url, json=wanted, headers=customer.headers))
    made = asked.answered_alike(201, refusals=CONFLICT)  # another return is open: 409
    assert len(made) == 1, asked.statuses
    returned = made[0].json()
    assert get_order(stack, order_id, customer.headers)["status"] == "RETURN_REQUESTED"
    on_hand = _on_hand(stack, sku)

    url = customer.url(f"/admin/orders/{order_id}/returns/{returned['return_id']}/receive")
    answers = burst(request("POST", url, headers=ops(stack)))
    answers.answered_alike(200, same=_status_and_money)

    order = get_order(stack, order_id, customer.headers)
    refund = returned["refund"]["amount"]
    assert order["status"] == "REFUNDED"
    assert [r["amount"]["amount"] for r in order["refunds"]] == [refund]
    assert refunded_at_provider(stack, order_id) == refund
    assert _on_hand(stack, sku) == on_hand + 1
    ledger = customer.points()
    reversed_ = [e for e in ledger["items"] if e["reason"] == "reversed"]
    assert len(reversed_) == 1, ledger
    assert ledger["balance"] == earned + reversed_[0]["delta"] >= 0


def test_shipping_at_once_ships_once(stack: StackProcess, customer: Customer) -> None:
    order_id = _paid(stack, customer, _sku(stack, "RACE-SHIP"))
    shipment = {"carrier": "sf", "tracking_number": "SF-RACE-0001"}
    url = customer.url(f"/admin/orders/{order_id}/shipments")
    answers = burst(request("POST", url, json=shipment, headers=ops(stack)))
    assert len(answers.answered_alike(200, refusals=CONFLICT)) == 1  # shipped is not PAID
    order = get_order(stack, order_id, customer.headers)
    assert order["status"] == "SHIPPED"
    assert [h["status"] for h in order["history"]].count("SHIPPED") == 1


def test_a_staff_refund_retried_at_once_refunds_once(
    stack: StackProcess, customer: Customer
) -> None:
    order_id = _paid(stack, customer, _sku(stack, "RACE-RFD"))
    headers = {**ops(stack), "Idempotency-Key": f"race-{uuid.uuid4().hex}"}
    body = {"amount": {"amount": 1200, "currency": "CNY"}, "reason": "scratched lid"}
    url = customer.url(f"/admin/orders/{order_id}/refunds")
    answers = burst(request("POST", url, json=body, headers=headers))
    # A duplicate that finds the first still asking the provider says so with a 409.
    answers.answered_alike(201, refusals=CONFLICT, same=lambda r: (r["refund_id"], r["amount"]))
    order = get_order(stack, order_id, customer.headers)
    assert [r["amount"]["amount"] for r in order["refunds"]] == [1200]
    assert refunded_at_provider(stack, order_id) == 1200


def test_cancelling_at_once_releases_and_refunds_once(
    stack: StackProcess, customer: Customer
) -> None:
    sku = _sku(stack, "RACE-CNL", stock=10)
    order_id = _paid(stack, customer, sku, 3)
    assert inventory(stack, sku)["on_hand"] == 7  # paid: deducted
    paid = get_order(stack, order_id, customer.headers)["totals"]["total"]["amount"]

    url = customer.url(f"/orders/{order_id}/cancel")
    answers = burst(request("POST", url, headers=customer.headers))
    answers.answered_alike(200, refusals=CONFLICT, same=_status_and_money)

    order = get_order(stack, order_id, customer.headers)
    assert order["status"] == "CANCELLED"
    assert sum(r["amount"]["amount"] for r in order["refunds"]) == paid
    assert refunded_at_provider(stack, order_id) == paid
    stock = inventory(stack, sku)
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (10, 0, 10)


# --- carts ---------------------------------------------------------------------------------------


def test_claiming_a_guest_cart_at_once_makes_it_the_customers(
    stack: StackProcess, customer: Customer
) -> None:
    sku = _sku(stack, "RACE-CLM")
    cart_id, guest = new_cart(stack)
    put_item(stack, cart_id, sku, 2, guest)
    headers = {**customer.headers, "X-Cart-Token": guest["X-Cart-Token"]}
    answers = burst(request("POST", customer.url(f"/carts/{cart_id}/claim"), headers=headers))
    answers.answered_alike(200, same=lambda cart: (cart["cart_id"], _quantities(cart)))
    assert _quantities(customer.get(f"/carts/{cart_id}")) == {sku: 2}
    stranger = requests.get(customer.url(f"/carts/{cart_id}"), headers=guest, timeout=60)
    assert stranger.status_code == 404  # the guest token no longer opens it
    assert inventory(stack, sku)["reserved"] in (0, 2)  # the stack's 5 s holds may have lapsed


def test_setting_a_line_at_once_holds_its_quantity_once(
    stack: StackProcess, customer: Customer
) -> None:
    sku = _sku(stack, "RACE-LINE", stock=20)
    cart_id, reach = new_cart(stack, customer.headers)
    url = customer.url(f"/carts/{cart_id}/items/{sku}")
    answers = burst(request("PUT", url, json={"quantity": 3}, headers=reach))
    answers.answered_alike(200, refusals=CONFLICT, same=_quantities)
    assert _quantities(customer.get(f"/carts/{cart_id}")) == {sku: 3}
    assert inventory(stack, sku)["reserved"] in (0, 3)  # held once (the 5 s hold may lapse)


def test_a_coupon_applied_and_removed_at_once_counts_once(
    stack: StackProcess, customer: Customer
) -> None:
    sku = _sku(stack, "RACE-CPN")
    code = f"RACE-{uuid.uuid4().hex[:8].upper()}"
    coupon = {"code": code, "kind": "amount", "amount": {"amount": 300, "currency": "CNY"}}
    requests.post(customer.url("/admin/coupons"), json=coupon, headers=ops(stack), timeout=60)
    cart_id, reach = new_cart(stack, customer.headers)
    before = put_item(stack, cart_id, sku, 1, reach)["totals"]["discount"]["amount"]

    url = customer.url(f"/carts/{cart_id}/coupons")
    applied = burst(request("POST", url, json={"code": code}, headers=reach))
    applied.answered_alike(200, refusals=CONFLICT, same=lambda c: (c["coupons"], c["totals"]))
    cart = customer.get(f"/carts/{cart_id}")
    assert cart["coupons"] == [code]
    assert cart["totals"]["discount"]["amount"] > before  # the member price's, and the coupon's

    removed = burst(request("DELETE", f"{url}/{code}", headers=reach))
    removed.answered_alike(200, refusals={**CONFLICT, **GONE}, same=lambda c: c["coupons"])
    cart = customer.get(f"/carts/{cart_id}")
    assert cart["coupons"] == []
    assert cart["totals"]["discount"]["amount"] == before


# --- inventory -----------------------------------------------------------------------------------


def test_an_adjustment_retried_at_once_is_applied_once(stack: StackProcess) -> None:
    sku = _sku(stack, "RACE-ADJ", stock=40)
    url = f"{stack.base_url}/admin/inventory/{sku}/adjustments"
    headers = {**ops(stack), "Idempotency-Key": f"race-{uuid.uuid4().hex}"}
    body = {"delta": -7, "reason": "broken in the warehouse"}
    answers = burst(request("POST", url, json=body, headers=headers))
    answers.answered_alike(200, refusals=CONFLICT, same=lambda stock: stock["on_hand"])
    assert inventory(stack, sku)["on_hand"] == 33


# --- points at checkout --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saver(stack: StackProcess) -> Customer:
    """A customer with the points of one delivered order, for both points races."""
    saver = Customer(stack)
    order_id = _paid(stack, saver, _sku(stack, "RACE-PTS", price=20000))
    deliver(stack, order_id, saver.headers)
    assert saver.points()["balance"] > 0
    return saver


def test_checkout_redeeming_points_retried_at_once_redeems_once(
    stack: StackProcess, saver: Customer
) -> None:
    customer = saver
    balance = int(customer.points()["balance"])
    cart_id, reach = new_cart(stack, customer.headers)
    put_item(stack, cart_id, _sku(stack, "RACE-RDM", price=20000), 1, reach)
    body = {"cart_id": cart_id, "payment": {"method": "card", "token": "tok_ok"}}
    headers = {**reach, "Idempotency-Key": f"race-{uuid.uuid4().hex}"}
    url = customer.url("/orders")
    half = {**body, "redeem_points": balance // 2}  # the rest is for the race below
    answers = burst(request("POST", url, json=half, headers=headers))
    placed = answers.answered_alike(202, refusals=CONFLICT)  # 409: the first is still running
    order_id = placed[0].json()["order_id"]
    assert placed[0].json()["totals"]["points_redeemed"]["amount"] > 0

    ledger = customer.points()
    spent = [e for e in ledger["items"] if e["reason"] == "redeemed"]
    assert [(e["order_id"], e["delta"]) for e in spent] == [(order_id, -(balance // 2))], ledger
    assert ledger["balance"] == balance - balance // 2


def test_checkouts_racing_for_the_same_points_never_spend_more_than_the_balance(
    stack: StackProcess, saver: Customer
) -> None:
    customer = saver
    balance = int(customer.points()["balance"])
    assert balance > 0
    sku = _sku(stack, "RACE-RDM2", price=20000, stock=COUNT * 2)
    carts = []
    for _ in range(COUNT):
        cart_id, reach = new_cart(stack, customer.headers)
        put_item(stack, cart_id, sku, 1, reach)
        carts.append(cart_id)
    pending = list(carts)

    def one() -> requests.Response:
        body = {
            "cart_id": pending.pop(),
            "payment": {"method": "card", "token": "tok_ok"},
            "redeem_points": balance,
        }
        headers = {**customer.headers, "Idempotency-Key": uuid.uuid4().hex}
        return requests.post(customer.url("/orders"), json=body, headers=headers, timeout=60)

    answers = burst(one)
    assert all(a.status_code in (202, 409) for a in answers.answers), answers.statuses
    for answer in answers.answers:
        if answer.status_code == 409:
            assert answer.json()["type"] == "conflict", answer.text
    placed = {a.json()["order_id"] for a in answers.answers if a.status_code == 202}
    assert placed
    wait_until_settled(stack)
    ledger = customer.points()
    mine = [e for e in ledger["items"] if e["order_id"] in placed]
    spent = -sum(e["delta"] for e in mine if e["reason"] == "redeemed")
    restored = sum(e["delta"] for e in mine if e["reason"] == "restored")
    assert 0 < spent - restored <= balance
    assert ledger["balance"] == balance - spent + restored >= 0


# --- the address book and tickets ----------------------------------------------------------------


def test_address_book_writes_at_once_keep_one_default(
    stack: StackProcess, customer: Customer
) -> None:
    first = customer.post("/me/addresses", ADDRESS, 201)
    added = burst(
        request(
            "POST",
            customer.url("/me/addresses"),
            json={**ADDRESS, "label": "Office", "default": True},
            headers=customer.headers,
        )
    )
    assert added.statuses == {201: COUNT}  # no key: each request is a new address
    book = customer.get("/me/addresses")["items"]
    assert len(book) == COUNT + 1
    assert sum(1 for a in book if a["default"]) == 1

    url = customer.url(f"/me/addresses/{first['address_id']}")
    changed = burst(request("PATCH", url, json={"line2": "Room 9"}, headers=customer.headers))
    changed.answered_alike(200, refusals=CONFLICT, same=_but_when)
    removed = burst(request("DELETE", url, headers=customer.headers))
    assert len(removed.answered_alike(204, refusals={**CONFLICT, **GONE})) >= 1
    book = customer.get("/me/addresses")["items"]
    assert first["address_id"] not in {a["address_id"] for a in book}
    assert len(book) == COUNT
    assert sum(1 for a in book if a["default"]) == 1


def test_ticket_replies_at_once_all_land_in_order(stack: StackProcess, customer: Customer) -> None:
    opened = customer.post("/tickets", {"subject": "Lid", "message": "The lid is cracked."}, 201)
    url = customer.url(f"/tickets/{opened['ticket_id']}/messages")
    reply = {"message": "A new lid is on its way."}
    answers = burst(request("POST", url, json=reply, headers=staff(stack, "support")))
    assert answers.statuses == {201: COUNT}, answers.statuses  # each reply is a message
    ticket = customer.get(f"/tickets/{opened['ticket_id']}")
    assert [m["from"] for m in ticket["messages"]] == ["customer"] + ["support"] * COUNT


def test_a_ticket_status_set_at_once_is_set_once(stack: StackProcess, customer: Customer) -> None:
    opened = customer.post("/tickets", {"subject": "Box", "message": "Box was wet."}, 201)
    url = customer.url(f"/admin/tickets/{opened['ticket_id']}")
    answers = burst(
        request("PATCH", url, json={"status": "resolved"}, headers=staff(stack, "support"))
    )
    answers.answered_alike(200, refusals=CONFLICT, same=lambda t: t["status"])
    assert customer.get(f"/tickets/{opened['ticket_id']}")["status"] == "resolved"


# --- more writes of one thing ------------------------------------------------------------------


def test_consent_given_at_once_is_recorded_once(stack: StackProcess, customer: Customer) -> None:
    customer.get("/me")
    answers = burst(
        request(
            "PATCH",
            customer.url("/me"),
            json={"marketing_consent": True},
            headers=customer.headers,
        )
    )
    answers.answered_alike(200, refusals=CONFLICT, same=lambda me: me["marketing_consent"])
    consents = customer.get("/me/export")["consents"]
    assert [c["action"] for c in consents] == ["given"], consents


def test_a_device_registered_at_once_is_one_device(stack: StackProcess, customer: Customer) -> None:
    device = {"platform": "android", "token": uuid.uuid4().hex}
    url = customer.url("/me/devices")
    answers = burst(request("POST", url, json=device, headers=customer.headers))
    made = answers.answered_alike(201, refusals=CONFLICT, same=lambda d: d["device_id"])
    devices = customer.get("/me/devices")["items"]
    assert [d["device_id"] for d in devices] == [made[0].json()["device_id"]]


def test_the_same_product_or_coupon_created_at_once_exists_once(stack: StackProcess) -> None:
    sku = f"RACE-NEW-{uuid.uuid4().hex[:8]}".upper()
    product = {
        "name": "Raced",
        "skus": [{"sku": sku, "price": {"amount": 900, "currency": "CNY"}, "stock": 5}],
    }
    url = f"{stack.base_url}/admin/products"
    made = burst(request("POST", url, json=product, headers=ops(stack)))
    assert len(made.answered_alike(201, refusals=CONFLICT)) == 1
    assert inventory(stack, sku)["on_hand"] == 5

    code = f"RACE-{uuid.uuid4().hex[:8]}".upper()
    coupon = {"code": code, "kind": "amount", "amount": {"amount": 100, "currency": "CNY"}}
    defined = burst(
        request("POST", f"{stack.base_url}/admin/coupons", json=coupon, headers=ops(stack))
    )
    assert len(defined.answered_alike(201, refusals=CONFLICT)) == 1


def test_the_zone_table_replaced_at_once_on_one_version_changes_once(stack: StackProcess) -> None:
    url = f"{stack.base_url}/admin/shipping-zones"
    table = requests.get(url, headers=ops(stack), timeout=60).json()
    zones = [{name: value for name, value in zone.items() if value} for zone in table["zones"]]
    body = {"zones": zones, "version": table["version"]}  # the same table, written again
    answers = burst(request("PUT", url, json=body, headers=ops(stack)))
    assert len(answers.answered_alike(200, refusals=CONFLICT)) == 1
    after = requests.get(url, headers=ops(stack), timeout=60).json()
    assert after["version"] == table["version"] + 1


def test_shards_set_at_once_keep_the_stock(stack: StackProcess) -> None:
    sku = _sku(stack, "RACE-SHRD", stock=40)
    url = f"{stack.base_url}/admin/inventory/{sku}/shards"
    answers = burst(request("PUT", url, json={"count": 4}, headers=ops(stack)))
    answers.answered_alike(200, refusals={**CONFLICT, 429: "too-many-requests"})
    stock = inventory(stack, sku)
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (40, 0, 40)


# --- the catalog ---------------------------------------------------------------------------------


def _product(stack: StackProcess, prefix: str) -> tuple[str, str]:
    """A new product of one SKU (50 units at 50.00); its id and the SKU."""
    sku = new_sku(prefix)
    product = create_skus(stack, [sku], stock=50, price=5000, name="Race item")
    return str(product["product_id"]), sku


def test_a_price_set_at_once_is_changed_and_ledgered_once(stack: StackProcess) -> None:
    product_id, sku = _product(stack, "RACE-PRC")
    url = f"{stack.base_url}/admin/products/{product_id}/skus/{sku}"
    body = {"price": {"amount": 4500, "currency": "CNY"}}
    answers = burst(request("PATCH", url, json=body, headers=ops(stack)))
    answers.answered_alike(200, same=lambda p: [s["price"] for s in p["skus"]])
    history = requests.get(f"{url}/prices", headers=ops(stack), timeout=60).json()["items"]
    assert [(e["old"]["amount"], e["new"]["amount"]) for e in history] == [(5000, 4500)]


def test_a_review_posted_at_once_is_one_review(stack: StackProcess, customer: Customer) -> None:
    product_id, sku = _product(stack, "RACE-REV")
    deliver(stack, _paid(stack, customer, sku), customer.headers)
    url = customer.url(f"/products/{product_id}/reviews")
    body = {"rating": 5, "text": "Keeps the tea hot."}
    answers = burst(request("POST", url, json=body, headers=customer.headers))
    assert len(answers.answered_alike(201, refusals=CONFLICT)) == 1  # reviewed once: 409
    listed = requests.get(url, timeout=60).json()["items"]
    assert [r["rating"] for r in listed] == [5]
    rating = requests.get(customer.url(f"/products/{product_id}"), timeout=60).json()["rating"]
    assert rating == {"average": 5.0, "count": 1}

    moderate = customer.url(f"/admin/reviews/{listed[0]['review_id']}")
    hidden = burst(request("PATCH", moderate, json={"status": "hidden"}, headers=ops(stack)))
    hidden.answered_alike(200, refusals=CONFLICT, same=lambda r: r["status"])
    rating = requests.get(customer.url(f"/products/{product_id}"), timeout=60).json()["rating"]
    assert rating == {"average": None, "count": 0}


def test_a_category_created_at_once_exists_once(stack: StackProcess) -> None:
    name = f"Race {uuid.uuid4().hex[:8]}"
    url = f"{stack.base_url}/admin/categories"
    answers = burst(request("POST", url, json={"name": name}, headers=ops(stack)))
    assert len(answers.answered_alike(201, refusals=CONFLICT)) == 1  # a sibling's name: 409
    tree = requests.get(f"{stack.base_url}/categories", timeout=60).json()["items"]
    assert [c["name"] for c in tree].count(name) == 1


def test_an_image_deleted_at_once_is_deleted_once(stack: StackProcess) -> None:
    product_id, _ = _product(stack, "RACE-IMG")
    url = f"{stack.base_url}/admin/products/{product_id}/images"
    added = requests.post(url, json={"content_type": "image/png"}, headers=ops(stack), timeout=60)
    assert added.status_code == 201, added.text
    image_id = added.json()["image"]["image_id"]
    answers = burst(request("DELETE", f"{url}/{image_id}", headers=ops(stack)))
    answers.answered_alike(200, refusals={**CONFLICT, **GONE}, same=lambda p: p["images"])
    product = requests.get(f"{url.rsplit('/', 1)[0]}", headers=ops(stack), timeout=60).json()
    assert product["images"] == []
