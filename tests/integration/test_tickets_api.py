"""Support tickets through TicketsFunction on moto: who may do what, the messages and their
limits, the status, the reply's notification, the unanswered count, and support's view."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from commerce import clock
from commerce.domain.tickets import UNANSWERED_AFTER_SECONDS
from commerce.events import MemoryEventPublisher
from commerce.tickets import unanswered
from orders_world import EVENTS, SUBS, Context, Reply, Shop, event, invoke, problem

pytestmark = pytest.mark.integration

SKU = "TEA-TKT-1"


class Desk:
    """The ticket routes, as whoever asks."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def call(
        self,
        sample: str,
        who: str | None,
        body: Any = None,
        params: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> Reply:
        return invoke(self.module, event(sample, who=who, body=body, params=params, query=query))

    def open(self, body: Any, who: str | None = "customer") -> Reply:
        return self.call("tickets_open.json", who, body=body)

    def mine(self, who: str = "customer", query: dict[str, str] | None = None) -> Reply:
        return self.call("tickets_list.json", who, query=query)

    def get(self, ticket_id: str, who: str | None = "customer") -> Reply:
        return self.call("tickets_get.json", who, params={"ticket_id": ticket_id})

    def write(self, ticket_id: str, message: Any, who: str | None = "customer") -> Reply:
        body = {"message": message}
        return self.call("tickets_add_message.json", who, body, {"ticket_id": ticket_id})

    def queue(self, who: str | None = "support", query: dict[str, str] | None = None) -> Reply:
        return self.call("tickets_admin_list.json", who, query=query)

    def set_status(self, ticket_id: str, status: Any, who: str | None = "support") -> Reply:
        params = {"ticket_id": ticket_id}
        return self.call("tickets_set_status.json", who, {"status": status}, params)


@pytest.fixture
def desk(dynamodb: Any, events: MemoryEventPublisher, tickets_module: ModuleType) -> Desk:
    return Desk(tickets_module)


@pytest.fixture
def shop(shop: Shop, create_product: Callable[..., Any]) -> Shop:
    create_product((SKU, 20), price=2000)
    return shop


def opened(desk: Desk, **body: Any) -> dict[str, Any]:
    reply = desk.open({"subject": "Cracked cup", "message": "One cup arrived cracked.", **body})
    assert reply.status == 201, reply.body
    ticket: dict[str, Any] = reply.body
    return ticket


def test_a_customer_opens_a_ticket_about_their_order(desk: Desk, shop: Shop) -> None:
    cart_id, _ = shop.cart_with({SKU: 1}, who="customer")
    order_id = shop.place(cart_id, who="customer", email=None).body["order_id"]
    ticket = opened(desk, order_id=order_id)
    assert ticket["status"] == "open"
    assert ticket["order_id"] == order_id
    assert [(m["from"], m["message"]) for m in ticket["messages"]] == [
        ("customer", "One cup arrived cracked.")
    ]
    assert "customer_id" not in ticket  # staff only
    assert desk.get(ticket["ticket_id"]).body == ticket
    listed = desk.mine().body["items"]
    assert [(t["ticket_id"], t["message_count"]) for t in listed] == [(ticket["ticket_id"], 1)]


def test_an_order_of_someone_else_or_none_at_all_is_404_and_opens_nothing(
    desk: Desk, shop: Shop, scan_all: Any
) -> None:
    cart_id, _ = shop.cart_with({SKU: 1}, who="other")
    theirs = shop.place(cart_id, who="other", email=None).body["order_id"]
    before = scan_all()
    for order_id in (theirs, "0" * 32, "not-an-order"):
        problem(desk.open({"subject": "s", "message": "m", "order_id": order_id}), 404, "not-found")
    assert scan_all() == before


@pytest.mark.parametrize(
    "body",
    [
        {"subject": "Hello", "message": ""},
        {"subject": "Hello", "message": "   \n "},
        {"subject": "Hello", "message": "x" * 5001},
        {"subject": "", "message": "Hi"},
        {"subject": "s" * 201, "message": "Hi"},
        {"subject": "Hello", "message": "bell \u0007"},
        {"subject": "Hello"},
        {"subject": "Hello", "message": "Hi", "priority": "urgent"},
    ],
)
def test_a_bad_ticket_is_400_and_changes_nothing(desk: Desk, scan_all: Any, body: Any) -> None:
    before = scan_all()
    problem(desk.open(body), 400, "validation-error")
    assert scan_all() == before


def test_a_message_of_5000_characters_is_taken_and_one_more_is_not(
    desk: Desk, scan_all: Any
) -> None:
    ticket_id = opened(desk)["ticket_id"]
    assert desk.write(ticket_id, "长" * 5000).status == 201
    before = scan_all()
    problem(desk.write(ticket_id, "长" * 5001), 400, "validation-error")
    problem(desk.write(ticket_id, ""), 400, "validation-error")
    problem(desk.write(ticket_id, " \t"), 400, "validation-error")
    assert scan_all() == before


def test_who_may_read_write_and_set_the_status(desk: Desk, scan_all: Any) -> None:
    ticket_id = opened(desk)["ticket_id"]
    for who in ("support", "ops", "admin"):
        staff_view = desk.get(ticket_id, who=who)
        assert staff_view.status == 200, (who, staff_view.body)
        assert staff_view.body["customer_id"] == SUBS["customer"]
    before = scan_all()
    problem(desk.get(ticket_id, who="other"), 404, "not-found")
    problem(desk.write(ticket_id, "let me in", who="other"), 404, "not-found")
    problem(desk.write(ticket_id, "ops cannot answer", who="ops"), 403, "forbidden")
    problem(desk.get("0" * 32, who="support"), 404, "not-found")
    problem(desk.get(ticket_id, who=None), 401, "unauthorized")
    problem(desk.queue(who="customer"), 403, "forbidden")
    problem(desk.set_status(ticket_id, "resolved", who="customer"), 403, "forbidden")
    problem(desk.set_status(ticket_id, "resolved", who="ops"), 403, "forbidden")
    problem(desk.set_status(ticket_id, "closed"), 400, "validation-error")
    problem(desk.set_status("0" * 32, "resolved"), 404, "not-found")
    assert scan_all() == before
    assert desk.queue(who="ops").status == 200
    assert desk.set_status(ticket_id, "pending", who="admin").status == 200


def test_a_support_reply_notifies_the_customer_and_their_answer_reopens_the_ticket(
    desk: Desk, events: MemoryEventPublisher
) -> None:
    ticket_id = opened(desk)["ticket_id"]
    replied = desk.write(ticket_id, "A new cup ships today.", who="support")
    assert replied.status == 201, replied.body
    assert [m["from"] for m in replied.body["messages"]] == ["customer", "support"]
    assert "awaiting_support_since" not in replied.body
    (sent,) = [e for e in events.events if e.type == "ticket.replied"]
    assert sent.data["ticket_id"] == ticket_id
    assert sent.data["owner_sub"] == SUBS["customer"]
    assert sent.data["message"] == "A new cup ships today."
    assert desk.set_status(ticket_id, "pending").body["status"] == "pending"
    assert [t["ticket_id"] for t in desk.queue(query={"status": "pending"}).body["items"]] == [
        ticket_id
    ]
    answer = desk.write(ticket_id, "Thanks, received.")  # the customer again
    assert answer.body["status"] == "open"
    assert [e.type for e in events.events].count("ticket.replied") == 1  # only support replies
    assert desk.set_status(ticket_id, "resolved").body["status"] == "resolved"
    assert desk.set_status(ticket_id, "resolved").body["status"] == "resolved"  # no change


def test_support_queues_are_by_status_and_paged(desk: Desk) -> None:
    ids = [opened(desk, subject=f"Question {n}")["ticket_id"] for n in range(3)]
    desk.set_status(ids[1], "resolved")
    first = desk.queue(query={"status": "open", "limit": "1"})
    assert first.status == 200, first.body
    assert len(first.body["items"]) == 1
    second = desk.queue(
        query={"status": "open", "limit": "1", "next_token": first.body["next_token"]}
    )
    found = {t["ticket_id"] for t in first.body["items"] + second.body["items"]}
    assert found == {ids[0], ids[2]}
    assert [t["ticket_id"] for t in desk.queue(query={"status": "resolved"}).body["items"]] == [
        ids[1]
    ]
    assert desk.queue().body["items"][0]["customer_id"] == SUBS["customer"]  # default: open
    token = first.body["next_token"]
    problem(desk.queue(query={"status": "pending", "next_token": token}), 400, "validation-error")
    mine = desk.mine(query={"limit": "2"})
    problem(
        desk.mine(who="other", query={"next_token": mine.body["next_token"]}),
        400,
        "validation-error",
    )


def test_tickets_waiting_a_day_are_counted_until_someone_answers(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiting = opened(desk)["ticket_id"]
    answered = opened(desk)["ticket_id"]
    handled = opened(desk)["ticket_id"]
    desk.write(answered, "Answered.", who="support")
    desk.set_status(handled, "resolved")
    start = clock.now()
    assert unanswered.report_unanswered(start) == 0
    later = start + UNANSWERED_AFTER_SECONDS + 5
    assert unanswered.report_unanswered(later) == 1  # only the one nobody answered
    monkeypatch.setattr(clock, "now", lambda: later)
    desk.write(answered, "Still broken.")  # the customer writes again: a new wait begins
    assert unanswered.report_unanswered(later) == 1
    assert unanswered.report_unanswered(later + UNANSWERED_AFTER_SECONDS + 1) == 2
    desk.write(waiting, "Sorry for the wait.", who="support")
    desk.write(answered, "On it.", who="support")
    assert unanswered.report_unanswered(later + UNANSWERED_AFTER_SECONDS + 1) == 0


def test_the_sweeper_emits_the_count(
    desk: Desk,
    sweeper_module: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    opened(desk)
    later = clock.now() + UNANSWERED_AFTER_SECONDS + 60
    monkeypatch.setattr(clock, "now", lambda: later)
    capsys.readouterr()
    schedule = json.loads((EVENTS / "sweeper_schedule.json").read_text())
    sweeper_module.lambda_handler(schedule, Context(60_000))
    lines = [line for line in capsys.readouterr().out.splitlines() if "TicketsUnanswered" in line]
    assert json.loads(lines[-1])["TicketsUnanswered"] == [1.0]
