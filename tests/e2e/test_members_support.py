"""Members, support and delivery over HTTP through the local stack (API.md's v1.1 section): the
personal centre and its address book, shipping by zone, tickets and the support view, order
search and the sandbox carrier's tracking events. (The 15-day quality window needs time to pass:
tests/integration/test_orders_api.py moves the clock.)"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import pytest
import requests
from order_builders import URUMQI
from stack_helpers import (
    POLL_SECONDS,
    checkout,
    create_product,
    new_cart,
    outbox,
    place_order,
    put_item,
    ship,
    wait_for_order,
)

from infra.local.harness import StackProcess

pytestmark = pytest.mark.e2e


class Member:
    """A signed-in customer of their own (a fresh sub and email per test)."""

    def __init__(self, stack: StackProcess) -> None:
        self.stack = stack
        self.sub = f"e2e-member-{uuid.uuid4().hex[:10]}"
        self.email = f"{self.sub}@example.com"
        self.headers = stack.auth(self.sub, ["customer"], self.email)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(
            method, f"{self.stack.base_url}{path}", headers=self.headers, timeout=60, **kwargs
        )


def staff(stack: StackProcess, role: str) -> dict[str, str]:
    return stack.auth(f"e2e-{role}", [role])


def call(stack: StackProcess, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
    return requests.request(method, f"{stack.base_url}{path}", headers=headers, timeout=60, **kw)


def problem(reply: requests.Response, status: int, kind: str) -> None:
    assert reply.status_code == status, reply.text
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert reply.json()["type"] == kind


def paid_order(stack: StackProcess, member: Member, sku: str, address_id: str | None) -> str:
    cart_id, reach = new_cart(stack, member.headers)
    put_item(stack, cart_id, sku, 1, reach)
    if address_id is not None:
        shipped_to = call(
            stack,
            "PUT",
            f"/carts/{cart_id}/shipping-address",
            reach,
            json={"address_id": address_id},
        )
        assert shipped_to.status_code == 200, shipped_to.text
    order_id = str(place_order(stack, cart_id, reach)["order_id"])
    assert wait_for_order(stack, order_id, member.headers)["status"] == "PAID"
    return order_id


def carrier_event(stack: StackProcess, order_id: str, status: str, **extra: Any) -> Any:
    return requests.post(
        f"{stack.base_url}/_local/carrier-events",
        json={"order_id": order_id, "status": status, **extra},
        timeout=60,
    )


def wait_for_mail(stack: StackProcess, to: str, template: str) -> dict[str, Any]:
    deadline = time.monotonic() + POLL_SECONDS
    while True:
        found = [m for m in outbox(stack) if m["to"] == to and m["template"] == template]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no {template} to {to}"
        time.sleep(0.5)


# --- the personal centre ----------------------------------------------------------------------


def test_me_shows_the_member_price_and_the_address_book_feeds_a_cart(stack: StackProcess) -> None:
    member = Member(stack)
    me = member.call("GET", "/me").json()
    assert (me["tier"], me["points_balance"]) == ("member", 0)
    assert me["membership"]["price_bp"] == 9500
    home = member.call("POST", "/me/addresses", json={**URUMQI, "label": "家"})
    assert home.status_code == 201, home.text
    assert home.json()["default"] is True
    for n in range(19):
        added = member.call("POST", "/me/addresses", json={**URUMQI, "line1": f"{n} Jiefang Road"})
        assert added.status_code == 201, added.text
    problem(member.call("POST", "/me/addresses", json=URUMQI), 409, "conflict")
    assert len(member.call("GET", "/me/addresses").json()["items"]) == 20
    other = Member(stack)
    address_id = home.json()["address_id"]
    problem(
        other.call("PATCH", f"/me/addresses/{address_id}", json={"label": "x"}), 404, "not-found"
    )
    problem(other.call("DELETE", f"/me/addresses/{address_id}"), 404, "not-found")

    sku = create_product(stack, "E2E-MEM", stock=10, price=5000, name="E2E member item")
    cart_id, reach = new_cart(stack, member.headers)
    put_item(stack, cart_id, sku, 1, reach)
    before = call(stack, "GET", f"/carts/{cart_id}", reach).json()["totals"]
    assert before["discount"]["amount"] == 250  # 95 % of 50.00
    with_address = call(
        stack, "PUT", f"/carts/{cart_id}/shipping-address", reach, json={"address_id": address_id}
    )
    assert with_address.status_code == 200, with_address.text
    assert with_address.json()["shipping_address"]["city"] == "Urumqi"
    # The demo zone table: remote regions pay 25.00 until 299.00.
    assert with_address.json()["totals"]["shipping"]["amount"] == 2500
    theirs = other.call("POST", "/me/addresses", json=URUMQI).json()["address_id"]
    problem(
        call(
            stack, "PUT", f"/carts/{cart_id}/shipping-address", reach, json={"address_id": theirs}
        ),
        404,
        "not-found",
    )
    placed = place_order(stack, cart_id, reach)
    assert placed["totals"]["shipping"]["amount"] == 2500
    assert placed["totals"]["total"]["amount"] == 4750 + 2500


def test_points_are_earned_on_delivery_and_listed_newest_first(stack: StackProcess) -> None:
    member = Member(stack)
    sku = create_product(stack, "E2E-PTS", stock=10, price=20000, name="E2E points item")
    order_id = paid_order(stack, member, sku, None)
    ship(stack, order_id)
    assert carrier_event(stack, order_id, "delivered").status_code == 202
    wait_for_order(stack, order_id, member.headers, "DELIVERED")
    ledger = member.call("GET", "/me/points").json()
    assert ledger["balance"] == 190  # 200.00 at 95 %: 190.00 paid, 1 point a yuan
    assert [(e["reason"], e["delta"], e["order_id"]) for e in ledger["items"]] == [
        ("earned", 190, order_id)
    ]
    assert member.call("GET", "/me").json()["points_balance"] == 190


# --- tracking through the sandbox carrier -------------------------------------------------------


def test_the_sandbox_carrier_reports_each_step_and_the_customer_hears_of_two(
    stack: StackProcess,
) -> None:
    member = Member(stack)
    sku = create_product(stack, "E2E-TRK", stock=10, price=3000, name="E2E tracking item")
    order_id = paid_order(stack, member, sku, None)
    problem(carrier_event(stack, order_id, "in_transit"), 409, "conflict")  # not shipped yet
    ship(stack, order_id)
    for status, where in (("in_transit", "Hangzhou hub"), ("out_for_delivery", "Xuhui depot")):
        sent = carrier_event(stack, order_id, status, location=where)
        assert sent.status_code == 202, sent.text
        assert sent.json()["webhook"]["status"] == "processed"
    mail = wait_for_mail(stack, member.email, "en/order.out_for_delivery.email")
    assert "Xuhui depot" in mail["body"]
    assert carrier_event(stack, order_id, "delivered", location="Front desk").status_code == 202
    order = wait_for_order(stack, order_id, member.headers, "DELIVERED")
    assert [(t["status"], t.get("location")) for t in order["tracking"]] == [
        ("in_transit", "Hangzhou hub"),
        ("out_for_delivery", "Xuhui depot"),
        ("delivered", "Front desk"),
    ]
    wait_for_mail(stack, member.email, "en/order.delivered.email")
    problem(carrier_event(stack, "0" * 32, "in_transit"), 404, "not-found")
    problem(carrier_event(stack, order_id, "lost_in_space"), 400, "validation-error")


# --- tickets, support's view and the order search ----------------------------------------------


def test_a_ticket_from_question_to_answer(stack: StackProcess) -> None:
    member = Member(stack)
    assert member.call("GET", "/me").status_code == 200  # the app's first call after sign-in
    sku = create_product(stack, "E2E-TKT", stock=10, price=3000, name="E2E ticket item")
    order_id = paid_order(stack, member, sku, None)
    opened = member.call(
        "POST",
        "/tickets",
        json={"subject": "Cracked cup", "message": "It arrived cracked.", "order_id": order_id},
    )
    assert opened.status_code == 201, opened.text
    ticket = opened.json()
    path = f"/tickets/{ticket['ticket_id']}"
    stranger = Member(stack)
    problem(stranger.call("GET", path), 404, "not-found")
    problem(
        stranger.call(
            "POST", "/tickets", json={"subject": "s", "message": "m", "order_id": order_id}
        ),
        404,
        "not-found",
    )
    problem(member.call("POST", f"{path}/messages", json={"message": " "}), 400, "validation-error")
    problem(
        member.call("POST", f"{path}/messages", json={"message": "x" * 5001}),
        400,
        "validation-error",
    )
    problem(member.call("GET", "/admin/tickets"), 403, "forbidden")
    problem(
        member.call("PATCH", f"/admin/tickets/{ticket['ticket_id']}", json={"status": "resolved"}),
        403,
        "forbidden",
    )

    support = staff(stack, "support")
    queue = call(stack, "GET", "/admin/tickets?status=open&limit=100", support).json()["items"]
    assert ticket["ticket_id"] in [t["ticket_id"] for t in queue]
    reply = call(
        stack, "POST", f"{path}/messages", support, json={"message": "A new cup ships today."}
    )
    assert reply.status_code == 201, reply.text
    mail = wait_for_mail(stack, member.email, "en/ticket.replied.email")
    assert "A new cup ships today." in mail["body"]
    problem(
        call(
            stack,
            "PATCH",
            f"/admin/tickets/{ticket['ticket_id']}",
            support,
            json={"status": "closed"},
        ),
        400,
        "validation-error",
    )
    pending = call(
        stack, "PATCH", f"/admin/tickets/{ticket['ticket_id']}", support, json={"status": "pending"}
    )
    assert pending.json()["status"] == "pending"
    assert member.call("GET", path).json()["messages"][-1] == {
        "from": "support",
        "message": "A new cup ships today.",
        "at": reply.json()["messages"][-1]["at"],
    }

    view = call(stack, "GET", f"/admin/customers/{member.sub}", support).json()
    assert [t["ticket_id"] for t in view["tickets"]] == [ticket["ticket_id"]]
    assert any(c["event_type"] == "ticket.replied" for c in view["recent_contacts"])
    found = call(stack, "GET", f"/admin/orders?email={member.email.upper()}", support).json()
    assert [o["order_id"] for o in found["items"]] == [order_id]
    paid = call(stack, "GET", f"/admin/orders?email={member.email}&status=PAID", support).json()
    assert [o["order_id"] for o in paid["items"]] == [order_id]
    problem(member.call("GET", f"/admin/orders?email={member.email}"), 403, "forbidden")
    problem(call(stack, "GET", "/admin/orders", support), 400, "validation-error")


def test_export_lists_addresses_and_tickets_and_erasure_removes_them(stack: StackProcess) -> None:
    member = Member(stack)
    assert member.call("POST", "/me/addresses", json=URUMQI).status_code == 201
    assert (
        member.call(
            "POST", "/tickets", json={"subject": "Hi", "message": "A question."}
        ).status_code
        == 201
    )
    document = member.call("GET", "/me/export").json()
    assert document["schema_version"] == 2
    assert [a["source"] for a in document["addresses"]] == ["address_book"]
    assert [t["subject"] for t in document["tickets"]] == ["Hi"]
    erased = member.call("DELETE", "/me")
    assert erased.status_code == 204, erased.text
    view = call(stack, "GET", f"/admin/customers/{member.sub}", staff(stack, "support"))
    problem(view, 404, "not-found")
    listed = call(stack, "GET", "/admin/tickets?status=open&limit=100", staff(stack, "support"))
    assert member.sub not in {t.get("customer_id") for t in listed.json()["items"]}


def test_checkout_still_works_for_guests_in_the_default_zone(stack: StackProcess) -> None:
    sku = create_product(stack, "E2E-GZ", stock=5, price=3000, name="E2E guest zone item")
    placed = checkout(stack, sku)
    assert placed["totals"]["shipping"]["amount"] == 1000  # no address: the default zone
    assert placed["totals"]["discount"]["amount"] == 0  # guests pay list prices


@pytest.mark.skipif(os.environ.get("E2E_DEMO_DATA", "1") == "0", reason="demo data not loaded")
def test_the_demo_customer_has_addresses_and_a_ticket_for_support_to_see(
    stack: StackProcess,
) -> None:
    view = call(stack, "GET", "/admin/customers/demo-customer", staff(stack, "support"))
    assert view.status_code == 200, view.text
    assert [t["order_id"] for t in view.json()["tickets"]] == [None]
    demo = stack.auth("demo-customer", ["customer"], "wang.fang@example.com")
    book = call(stack, "GET", "/me/addresses", demo).json()["items"]
    assert [(a["label"], a["default"]) for a in book] == [("家", True), ("Office", False)]
    zones = call(stack, "GET", "/admin/shipping-zones", staff(stack, "ops")).json()["zones"]
    assert {z["zone_id"] for z in zones} == {"default", "jiangzhehu", "remote", "hk-mo-tw"}
