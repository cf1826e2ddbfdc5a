"""No personal data in the logs, proved over the running stack.

A signed-in customer and a guest go through the flows that handle personal data (profile,
address book, carts and their addresses, checkout, payment, shipment and delivery with their
messages by email and SMS, a ticket and support's reply, support's search by email, a refused
address, erasure), each with an email, phone, name, street and tokens made up for this run.
Then every line the stack logged (its own, and each function worker's in its own file, as
``StackProcess.log_dir`` holds them) is read and searched for each of those values: there must be
none. Staff appear in logs by their subject id, never their email. The count of lines scanned is
printed (README, "Personal data in logs").
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterable

import pytest
import requests
from stack_helpers import (
    create_product,
    new_cart,
    outbox,
    place_order,
    put_item,
    staff,
    wait_for_order,
    wait_until_settled,
)

from infra.local.harness import StackProcess

pytestmark = pytest.mark.e2e


def _digits(n: int) -> str:
    return "".join(str(secrets.randbelow(10)) for _ in range(n))


class Known:
    """The personal values of this run: unique, so a hit can only come from this test's flows."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.email = f"Scan.Member.{tag}@Example.com"
        self.guest_email = f"scan-guest-{tag}@example.com"
        self.staff_email = f"scan-support-{tag}@example.com"
        self.phone = f"+86137{_digits(8)}"
        self.guest_phone = f"+86158{_digits(8)}"
        self.name = f"Qiao Lanfang {tag}"
        self.guest_name = f"Guo Wenjie {tag}"
        self.line1 = f"{secrets.randbelow(900) + 100} Scanlog Road {tag}"
        self.guest_line1 = f"Building {tag}, Guestlane"
        self.sub = str(uuid.uuid4())
        self.tokens: list[str] = []

    def address(self, *, guest: bool = False) -> dict[str, str]:
        return {
            "name": self.guest_name if guest else self.name,
            "line1": self.guest_line1 if guest else self.line1,
            "city": "Hangzhou",
            "postal_code": "310002",
            "country": "CN",
            "phone": self.guest_phone if guest else self.phone,
        }

    def values(self) -> list[str]:
        """Every value to look for, national phone numbers included (a log could drop the +86)."""
        phones = [self.phone, self.guest_phone]
        return [
            self.email,
            self.guest_email,
            self.staff_email,
            *phones,
            *(p.removeprefix("+86") for p in phones),
            self.name,
            self.guest_name,
            self.line1,
            self.guest_line1,
            *self.tokens,
        ]


def _call(
    stack: StackProcess, method: str, path: str, headers: dict[str, str], expect: int, **kw: object
) -> requests.Response:
    reply = requests.request(method, f"{stack.base_url}{path}", headers=headers, timeout=60, **kw)
    assert reply.status_code == expect, reply.text
    return reply


def _ship_to(
    stack: StackProcess,
    cart_id: str,
    reach: dict[str, str],
    address: dict[str, str],
    expect: int = 200,
) -> None:
    _call(stack, "PUT", f"/carts/{cart_id}/shipping-address", reach, expect, json=address)


def _member_flow(stack: StackProcess, known: Known, sku: str) -> None:
    """Sign-in, profile, address book, a paid order shipped and delivered, a ticket answered,
    support's search by email, a refused address, then erasure."""
    me = stack.auth(known.sub, ["customer"], known.email)
    known.tokens.append(me["Authorization"].removeprefix("Bearer "))
    _call(stack, "GET", "/me", me, 200)
    _call(
        stack,
        "PATCH",
        "/me",
        me,
        200,
        json={
            "phone": known.phone,
            "marketing_consent": True,
            "notification_channels": ["email", "sms"],
        },
    )
    book = _call(stack, "POST", "/me/addresses", me, 201, json=known.address()).json()
    cart_id, reach = new_cart(stack, me)
    put_item(stack, cart_id, sku, 1, reach)
    _ship_to(stack, cart_id, reach, {**known.address(), "postal_code": "NOT A CODE"}, 400)
    _ship_to(stack, cart_id, reach, {"address_id": book["address_id"]})
    order_id = str(place_order(stack, cart_id, reach)["order_id"])
    assert wait_for_order(stack, order_id, me)["status"] == "PAID"
    ops = staff(stack, "ops")
    _call(
        stack,
        "POST",
        f"/admin/orders/{order_id}/shipments",
        ops,
        200,
        json={"carrier": "sf", "tracking_number": f"SF{_digits(10)}"},
    )
    for status in ("out_for_delivery", "delivered"):
        sent = requests.post(
            f"{stack.base_url}/_local/carrier-events",
            json={"order_id": order_id, "status": status, "location": "Front desk"},
            timeout=60,
        )
        assert sent.status_code == 202, sent.text
    wait_for_order(stack, order_id, me, "DELIVERED")
    ticket = _call(
        stack,
        "POST",
        "/tickets",
        me,
        201,
        json={
            "subject": "Parcel",
            "message": f"Please call me on {known.phone}.",
            "order_id": order_id,
        },
    ).json()
    # Support is a person with an email too: logs know them by their subject id alone.
    support = stack.auth(f"scan-support-{uuid.uuid4().hex[:6]}", ["support"], known.staff_email)
    known.tokens.append(support["Authorization"].removeprefix("Bearer "))
    _call(
        stack,
        "POST",
        f"/tickets/{ticket['ticket_id']}/messages",
        support,
        201,
        json={"message": "We will call you today."},
    )
    found = _call(stack, "GET", "/admin/orders", support, 200, params={"email": known.email})
    assert [o["order_id"] for o in found.json()["items"]] == [order_id]
    wait_until_settled(stack)
    _call(stack, "DELETE", "/me", me, 204)


def _guest_flow(stack: StackProcess, known: Known, sku: str) -> None:
    """A guest's cart, address and checkout by email; the order read and cancelled by token."""
    cart_id, reach = new_cart(stack)
    known.tokens.append(reach["X-Cart-Token"])
    put_item(stack, cart_id, sku, 1, reach)
    _ship_to(stack, cart_id, reach, known.address(guest=True))
    placed = place_order(stack, cart_id, reach, email=known.guest_email)
    known.tokens.append(placed["order_token"])
    token = {"X-Order-Token": placed["order_token"]}
    wait_for_order(stack, placed["order_id"], token, "PAID")
    _call(stack, "POST", f"/orders/{placed['order_id']}/cancel", token, 200)


def _hits(lines: Iterable[tuple[object, str]], values: list[str]) -> tuple[int, list[str]]:
    """How many lines were read, and each (file, value) found: case-insensitive, and only as a
    whole value (not inside a longer run of letters or digits)."""
    patterns = [
        (value, re.compile(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", re.IGNORECASE))
        for value in values
    ]
    count, hits = 0, []
    for path, line in lines:
        count += 1
        hits += [f"{path}: {value}" for value, pattern in patterns if pattern.search(line)]
    return count, hits


def test_no_personal_value_of_any_flow_reaches_any_log_line(
    stack: StackProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    known = Known()
    sku = create_product(stack, "E2E-LOGS", stock=10, price=4200, name="E2E log scan item")
    _member_flow(stack, known, sku)
    _guest_flow(stack, known, sku)
    wait_until_settled(stack)
    sent_to = {message["to"].lower() for message in outbox(stack)}
    assert {known.email.lower(), known.guest_email, known.phone} <= sent_to  # they ran

    files = stack.log_files()
    count, hits = _hits(stack.log_lines(), known.values())
    workers = [p.name for p in files if p != stack.log_path]
    with capsys.disabled():  # the figure README quotes, in every run's output
        print(
            f"\nlog scan: {count} lines in {len(files)} files ({len(workers)} function workers), "
            f"{len(known.values())} personal values, {len(hits)} found"
        )
    functions = stack.info["functions"]
    for logical in ("CustomersFunction", "CartFunction", "OrdersFunction", "NotificationsFunction"):
        assert any(name.startswith(f"{functions[logical]}-") for name in workers), workers
    assert hits == [], hits
