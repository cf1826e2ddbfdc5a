"""Races on DynamoDB Local (moto is not safe under concurrent writes): carrier events reported
at once all land on the order's trail, each once and in time order; messages written at once
to a ticket all land, numbered without a gap or a repeat. Run directly, this file is the child
that races (tests/integration/local_engine.py)."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from local_engine import run_child

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def test_carrier_events_at_once_all_land_once_in_time_order(dynamodb_local: str) -> None:
    result = run_child(__file__, dynamodb_local, "tracking")
    assert result["errors"] == [], result
    assert result["event_ids"] == sorted(result["event_ids"], key=lambda e: int(e[1:]))
    assert len(result["event_ids"]) == result["distinct"] == 12
    assert result["status"] == "SHIPPED"
    assert result["version_growth"] == 12  # one write per distinct event, none for the resends


def test_messages_at_once_all_land_numbered_without_gaps(dynamodb_local: str) -> None:
    result = run_child(__file__, dynamodb_local, "messages")
    assert result["errors"] == [], result
    assert result["count"] == result["stored"] == 1 + 10
    assert result["numbers"] == list(range(1, 12))
    assert result["status"] == "open"


# --- the child -------------------------------------------------------------------------------


def _tracking() -> dict[str, Any]:
    """12 distinct carrier events, each sent twice, by 8 threads at once, to one shipped order
    (each retried when told to, as a carrier retries a webhook answered 429)."""
    from commerce import clock
    from commerce.domain.orders import OrderEvent
    from commerce.domain.tracking import TrackingEvent, TrackingStatus
    from commerce.errors import TooManyRequests
    from commerce.orders import moves, tracking
    from commerce.orders.book import Effects, Shipment
    from commerce.store import orders as store
    from commerce.store.transactions import LabelledTransaction
    from order_builders import pending_order

    # Placed, paid and shipped just now: a carrier's events are dated from the shipment on and
    # at most five minutes ahead of the time here.
    stored = pending_order({"RACE-T": 1}, created=clock.now() - 60)
    tx = LabelledTransaction()
    store.put_new_order(tx, stored, updated_at=stored.created_at)
    assert not tx.commit()
    moves.move(stored.order_id, OrderEvent.PAYMENT_APPROVED)  # no stock effects: not the point
    shipment = Effects(shipment=Shipment("sf", "SF-RACE"))
    shipped = moves.move(stored.order_id, OrderEvent.SHIP, effects=lambda c, a: shipment)
    shipped_at = shipped.order.history[-1].at
    reports = [n % 12 for n in range(24)]
    errors: list[str] = []

    def one(n: int) -> None:
        event = TrackingEvent(f"e{n}", TrackingStatus.IN_TRANSIT, shipped_at + n)
        for _ in range(20):  # a 429 tells the carrier to retry, as its webhook does
            try:
                tracking.record_carrier_event(stored.order_id, "sf", event)
                return
            except TooManyRequests:
                continue
            except Exception as error:  # reported, never swallowed
                errors.append(repr(error))
                return
        errors.append("kept losing")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, reports))
    final = store.load_order(stored.order_id)
    assert final is not None
    ids = [e.event_id for e in final.tracking]
    return {
        "errors": errors,
        "event_ids": ids,
        "distinct": len(set(ids)),
        "status": final.status.value,
        "version_growth": final.version - shipped.version,
    }


def _messages() -> dict[str, Any]:
    """10 messages from the customer and support, by 10 threads at once, to one ticket."""
    from commerce.http.auth import Caller
    from commerce.http.gate import admit
    from commerce.store import tickets as store
    from commerce.tickets import service
    from commerce.tickets.schemas import MessageIn, TicketIn

    customer = Caller(sub="c-race", groups=frozenset({"customer"}))
    support = admit(
        "POST",
        "/tickets/{ticket_id}/messages",
        Caller(sub="s-race", groups=frozenset({"support"})),
    )
    opened = service.open_ticket(customer, TicketIn(subject="Race", message="First."))
    errors: list[str] = []

    def one(n: int) -> None:
        who = customer if n % 2 else support
        for _ in range(20):  # told the ticket kept changing, a client tries again
            try:
                service.add_message(who, opened.ticket_id, MessageIn(message=f"Message {n}"))
                return
            except Exception as error:
                if getattr(error, "status", None) != 409:
                    errors.append(repr(error))
                    return
        errors.append("kept losing")

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(one, range(10)))
    ticket = store.load_ticket(opened.ticket_id)
    assert ticket is not None
    rows = store.TicketMessageModel.query(
        f"TICKET#{opened.ticket_id}", store.TicketMessageModel.sk.startswith("MESSAGE#")
    )
    numbers = [int(row.sk.removeprefix("MESSAGE#")) for row in rows]
    return {
        "errors": errors,
        "count": ticket.messages,
        "stored": len(store.messages_of(opened.ticket_id)),
        "numbers": numbers,
        "status": ticket.status.value,
    }


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "tests"))
    print(json.dumps({"tracking": _tracking, "messages": _messages}[sys.argv[1]]()))
