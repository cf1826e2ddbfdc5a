"""WebhooksFunction's handler against moto: signatures over the raw body, stale timestamps,
replays, unknown senders, carrier deliveries and payment events, secrets from env or SSM."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from commerce import events
from commerce.domain.orders import OrderEvent, OrderStatus, PaymentStatus
from commerce.orders import charging, moves
from commerce.payments import factory
from commerce.payments.sandbox import SandboxProvider
from commerce.settings import get_settings
from commerce.store.orders import StoredOrder, load_order
from commerce.store.sandbox_ledger import DynamoLedger
from commerce.webhooks import service
from commerce.webhooks.signatures import sign
from orders_world import Context
from payment_orders import cancel_pending, level
from payment_orders import place_order as place_long_ago

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_test_carrier"
SECRETS = {
    "carriers/sf-express": [SECRET],
    "payments/sandbox": ["whsec_old_sandbox", "whsec_new_sandbox"],
}


@pytest.fixture
def env_secrets(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    settings = replace(get_settings(), webhook_secrets_json=json.dumps(SECRETS))
    monkeypatch.setattr(service, "get_settings", lambda: settings)
    return SECRETS


@pytest.fixture
def world(dynamodb: Any, create_product: Callable[..., Any]) -> Iterator[None]:
    create_product(("HOOK-A", 10))
    events.use_publisher(events.MemoryEventPublisher())
    factory.use_provider(SandboxProvider(DynamoLedger()))
    yield
    factory.use_provider(None)
    events.use_publisher(None)


@pytest.fixture
def post(
    webhooks_module: ModuleType, make_event: Callable[..., dict[str, Any]], env_secrets: Any
) -> Callable[..., tuple[int, Any]]:
    """POST a webhook: ``post(kind, name, body, secret=..., t=..., header=..., base64=...)``."""

    def call(
        kind: str,
        name: str,
        body: Any,
        *,
        secret: str = SECRET,
        t: int | None = None,
        header: str | None = None,
        encode: bool = False,
    ) -> tuple[int, Any]:
        raw = body if isinstance(body, str) else json.dumps(body)
        sample = (
            "webhooks_carrier_delivered.json"
            if kind == "carriers"
            else ("webhooks_payment_event.json")
        )
        param = "carrier" if kind == "carriers" else "provider"
        signature = header if header is not None else sign(secret, t or int(time.time()), raw)
        event = make_event(
            sample, raw_body=raw, path_params={param: name}, headers={"X-Signature": signature}
        )
        if encode:
            event["body"] = base64.b64encode(raw.encode()).decode()
            event["isBase64Encoded"] = True
        result = webhooks_module.lambda_handler(event, Context())
        return result["statusCode"], json.loads(result["body"])

    return call


def _shipped_order() -> str:
    stored = place_order({"HOOK-A": 1})
    charging.pay(stored.order_id)
    moves.move(stored.order_id, OrderEvent.SHIP)
    shipped = load_order(stored.order_id)
    assert shipped is not None
    assert shipped.status is OrderStatus.SHIPPED
    return stored.order_id


def place_order(lines: dict[str, int]) -> StoredOrder:
    """An order placed just now: a webhook's event may not be dated before the order's step."""
    return place_long_ago(lines, created=int(time.time()) - 1)


def _soon() -> int:
    """A time for carrier events: after the shipment made just now, and less than five minutes
    ahead of the clock."""
    return int(time.time()) + 60


def _at(epoch: int, offset_hours: int = 0) -> str:
    """``epoch`` as an ISO 8601 time in the zone ``offset_hours`` east of UTC."""
    zone = timezone(timedelta(hours=offset_hours))
    text = datetime.fromtimestamp(epoch, zone).isoformat()
    return text.replace("+00:00", "Z")


def _delivered(order_id: str, event_id: str = "evt-1", at: Any = None) -> dict[str, Any]:
    when = _at(_soon()) if at is None else at
    return {"event_id": event_id, "type": "delivered", "order_id": order_id, "at": when}


# --- carriers ---------------------------------------------------------------------------------


def test_a_signed_delivery_marks_the_order_delivered(world: None, post: Any) -> None:
    soon = _soon()
    order_id = _shipped_order()
    status, body = post("carriers", "sf-express", _delivered(order_id, at=soon))
    assert status == 200, body
    assert body == {
        "status": "processed",
        "event_id": "evt-1",
        "order_id": order_id,
        "order_status": "DELIVERED",
    }
    stored = load_order(order_id)
    assert stored is not None
    assert stored.status is OrderStatus.DELIVERED
    assert stored.order.delivered_at == soon


def test_a_replayed_event_is_a_duplicate_and_changes_nothing(world: None, post: Any) -> None:
    order_id = _shipped_order()
    assert post("carriers", "sf-express", _delivered(order_id))[0] == 200
    before = load_order(order_id)
    status, body = post("carriers", "sf-express", _delivered(order_id))
    assert (status, body) == (200, {"status": "duplicate", "event_id": "evt-1"})
    assert load_order(order_id) == before


def test_a_tampered_body_is_401_and_nothing_is_remembered(world: None, post: Any) -> None:
    order_id = _shipped_order()
    signed = json.dumps(_delivered(order_id))
    header = sign(SECRET, int(time.time()), signed)
    tampered = signed.replace('"type": "delivered"', '"type": "delivered", "x": 1')
    status, body = post("carriers", "sf-express", tampered, header=header)
    assert status == 401
    assert body["type"] == "unauthorized"
    assert "no signature matches" in body["detail"]
    stored = load_order(order_id)
    assert stored is not None
    assert stored.status is OrderStatus.SHIPPED
    # The event id was not burnt by the forgery: the genuine delivery still goes through.
    assert post("carriers", "sf-express", _delivered(order_id))[1]["status"] == "processed"


def test_a_wrong_secret_and_a_missing_header_are_401(world: None, post: Any) -> None:
    order_id = _shipped_order()
    assert post("carriers", "sf-express", _delivered(order_id), secret="guess")[0] == 401
    status, body = post("carriers", "sf-express", _delivered(order_id), header="")
    assert status == 401
    assert "missing" in body["detail"]


def test_a_stale_timestamp_is_401(world: None, post: Any) -> None:
    order_id = _shipped_order()
    status, body = post("carriers", "sf-express", _delivered(order_id), t=int(time.time()) - 301)
    assert status == 401
    assert "timestamp" in body["detail"]
    future = post("carriers", "sf-express", _delivered(order_id), t=int(time.time()) + 400)
    assert future[0] == 401


def test_an_unknown_sender_is_404(world: None, post: Any) -> None:
    order_id = _shipped_order()
    status, body = post("carriers", "unknown-carrier", _delivered(order_id))
    assert status == 404
    assert body["type"] == "not-found"
    assert post("payments", "sf-express", _delivered(order_id))[0] == 404


def test_a_signed_body_that_is_not_an_event_is_400(world: None, post: Any) -> None:
    assert post("carriers", "sf-express", "not json")[0] == 400
    assert post("carriers", "sf-express", [1, 2])[0] == 400
    status, body = post("carriers", "sf-express", {"type": "delivered", "order_id": "o-1"})
    assert status == 400
    assert body["errors"][0]["field"] == "event_id"
    bad_at = {"event_id": "e-9", "type": "delivered", "order_id": "o-1", "at": "yesterday"}
    assert post("carriers", "sf-express", bad_at)[0] == 400


def test_a_delivery_of_an_order_not_shipped_is_409_and_can_be_retried(
    world: None, post: Any
) -> None:
    stored = place_order({"HOOK-A": 1})
    charging.pay(stored.order_id)
    status, body = post("carriers", "sf-express", _delivered(stored.order_id, "evt-early"))
    assert status == 409
    assert body["type"] == "conflict"
    moves.move(stored.order_id, OrderEvent.SHIP)
    status, body = post("carriers", "sf-express", _delivered(stored.order_id, "evt-early"))
    assert (status, body["status"]) == (200, "processed")


def test_an_unknown_order_is_404(world: None, post: Any) -> None:
    assert post("carriers", "sf-express", _delivered("no-such-order", "evt-x"))[0] == 404


def test_other_carrier_event_types_are_ignored(world: None, post: Any) -> None:
    body = {"event_id": "evt-label", "type": "label_created", "order_id": "o-1"}
    status, reply = post("carriers", "sf-express", body)
    assert (status, reply["status"]) == (200, "ignored")
    transit = {"event_id": "evt-transit", "type": "in_transit", "order_id": "o-1"}
    status, reply = post("carriers", "sf-express", transit)
    assert (status, reply["type"]) == (404, "not-found")


def test_a_base64_encoded_body_is_verified_over_its_bytes(world: None, post: Any) -> None:
    soon = _soon()
    order_id = _shipped_order()
    status, body = post("carriers", "sf-express", _delivered(order_id, at=soon), encode=True)
    assert (status, body["status"]) == (200, "processed")


# --- tracking ---------------------------------------------------------------------------------


def _ship_with_carrier() -> str:
    from commerce.orders.book import Effects, Shipment

    stored = place_order({"HOOK-A": 1})
    charging.pay(stored.order_id)
    shipment = Effects(shipment=Shipment("sf-express", "SF77"))
    moves.move(stored.order_id, OrderEvent.SHIP, effects=lambda current, adv: shipment)
    return stored.order_id


def _step(order_id: str, event_id: str, kind: str, at: str, **extra: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": kind, "order_id": order_id, "at": at, **extra}


def test_carrier_steps_make_a_trail_on_the_order_in_time_order(world: None, post: Any) -> None:
    soon = _soon()
    order_id = _ship_with_carrier()
    steps = [
        _step(order_id, "s3", "delivered", _at(soon + 90), location="Front desk"),
        _step(order_id, "s1", "in_transit", _at(soon + 10), location="Hangzhou hub"),
        _step(order_id, "s2", "out_for_delivery", _at(soon + 60, offset_hours=8)),
        _step(order_id, "s0", "exception", _at(soon), tracking_number="SF77"),
    ]
    for step in steps:
        status, body = post("carriers", "sf-express", step)
        assert status == 200, body
        assert body["status"] == "processed"
    stored = load_order(order_id)
    assert stored is not None
    assert stored.status is OrderStatus.DELIVERED
    assert [e.to_dict() for e in stored.tracking] == [
        {"status": "exception", "at": _at(soon)},
        {"status": "in_transit", "at": _at(soon + 10), "location": "Hangzhou hub"},
        {"status": "out_for_delivery", "at": _at(soon + 60)},
        {"status": "delivered", "at": _at(soon + 90), "location": "Front desk"},
    ]


def test_out_for_delivery_is_announced_to_the_customer(world: None, post: Any) -> None:
    soon = _soon()
    order_id = _ship_with_carrier()
    published = events.publisher()
    assert isinstance(published, events.MemoryEventPublisher)
    step = _step(order_id, "ofd-1", "out_for_delivery", _at(soon), location="Xuhui")
    assert post("carriers", "sf-express", step)[0] == 200
    (sent,) = [e for e in published.events if e.type == "order.out_for_delivery"]
    stored = load_order(order_id)
    assert stored is not None
    assert sent.data == {
        "order_id": order_id,
        "owner_sub": stored.order.owner,
        "at": _at(soon),
        "location": "Xuhui",
    }
    # The same event is a duplicate at the door: nothing moves, nothing is sent again.
    assert post("carriers", "sf-express", step)[1]["status"] == "duplicate"
    assert [e.type for e in published.events].count("order.out_for_delivery") == 1


def test_a_lost_announcement_fails_the_webhook_and_the_carriers_retry_sends_it(
    world: None, post: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    soon = _soon()
    order_id = _ship_with_carrier()
    published = events.publisher()
    assert isinstance(published, events.MemoryEventPublisher)
    working = published.publish
    queue_down = [True]

    def flaky(event: Any) -> None:
        if queue_down[0]:
            raise events.EventPublishError("queue unavailable")
        working(event)

    monkeypatch.setattr(published, "publish", flaky)
    step = _step(order_id, "ofd-2", "out_for_delivery", _at(soon))
    assert post("carriers", "sf-express", step)[0] == 500  # the carrier will retry
    queue_down[0] = False
    status, body = post("carriers", "sf-express", step)
    assert (status, body["status"]) == (200, "processed")
    assert [e.type for e in published.events].count("order.out_for_delivery") == 1
    stored = load_order(order_id)
    assert stored is not None
    assert [e.event_id for e in stored.tracking] == ["ofd-2"]


def test_events_for_no_known_shipment_or_badly_formed_change_nothing(
    world: None, post: Any, scan_all: Any
) -> None:
    soon = _soon()
    order_id = _ship_with_carrier()
    paid = place_order({"HOOK-A": 1})
    charging.pay(paid.order_id)
    before = scan_all()
    at = _at(soon)
    unknown = post("carriers", "sf-express", _step("f" * 32, "u1", "in_transit", at))
    assert unknown[0] == 404
    other_number = _step(order_id, "u2", "in_transit", at, tracking_number="SF00")
    assert post("carriers", "sf-express", other_number)[0] == 404
    not_shipped = post("carriers", "sf-express", _step(paid.order_id, "u3", "in_transit", at))
    assert (not_shipped[0], not_shipped[1]["type"]) == (409, "conflict")
    for location in ("", "x" * 201, 42):
        bad = post(
            "carriers", "sf-express", _step(order_id, "u4", "in_transit", at, location=location)
        )
        assert (bad[0], bad[1]["errors"][0]["field"]) == (400, "location")
    assert scan_all() == before
    # A refused event id was not remembered: the same event, once possible, goes through.
    moves.move(paid.order_id, OrderEvent.SHIP)
    assert post("carriers", "sf-express", _step(paid.order_id, "u3", "in_transit", at))[0] == 200


def test_a_delivery_dated_in_the_year_9999_or_before_the_shipment_is_400_and_changes_nothing(
    world: None, post: Any, scan_all: Any
) -> None:
    order_id = _ship_with_carrier()
    shipped = load_order(order_id)
    assert shipped is not None
    before = scan_all()
    year_9999 = _delivered(order_id, "evt-9999", at="9999-12-31T00:00:00Z")
    status, body = post("carriers", "sf-express", year_9999)
    assert (status, body["errors"][0]["field"]) == (400, "at"), body
    assert "ahead" in body["detail"]
    shipped_at = shipped.order.history[-1].at
    early = _step(order_id, "evt-early", "in_transit", _at(shipped_at - 1))
    status, body = post("carriers", "sf-express", early)
    assert (status, body["errors"][0]["field"]) == (400, "at"), body
    assert "SHIPPED" in body["detail"]
    assert scan_all() == before
    # Neither id was remembered: the carrier's corrected event goes through.
    fixed = _delivered(order_id, "evt-9999")
    assert post("carriers", "sf-express", fixed)[1]["status"] == "processed"


# --- payment providers ------------------------------------------------------------------------


def _charge_event(
    order_id: str, kind: str, event_id: str, charge_id: str = "ch_hook"
) -> dict[str, Any]:
    return {"event_id": event_id, "type": kind, "order_id": order_id, "charge_id": charge_id}


def test_charge_succeeded_pays_a_pending_order_once(world: None, post: Any) -> None:
    stored = place_order({"HOOK-A": 2})
    event = _charge_event(stored.order_id, "charge.succeeded", "evt_pay_1")
    status, body = post("payments", "sandbox", event, secret="whsec_new_sandbox")
    assert status == 200, body
    assert body["result"] == "paid"
    paid = load_order(stored.order_id)
    assert paid is not None
    assert paid.status is OrderStatus.PAID
    assert paid.order.payment.charge_id == "ch_hook"
    assert level("HOOK-A") == (8, 0, 8)
    # Signed with the old secret of a rotation: still believed; a replay does nothing.
    assert post("payments", "sandbox", event, secret="whsec_old_sandbox")[1]["status"] == (
        "duplicate"
    )
    again = _charge_event(stored.order_id, "charge.succeeded", "evt_pay_2")
    status, body = post("payments", "sandbox", again, secret="whsec_new_sandbox")
    assert (status, body["result"]) == (200, "already_settled")
    assert load_order(stored.order_id) == paid
    assert level("HOOK-A") == (8, 0, 8)


def test_a_payment_event_dated_ahead_or_before_the_order_is_400_and_changes_nothing(
    world: None, post: Any
) -> None:
    stored = load_order(place_order({"HOOK-A": 1}).order_id)
    assert stored is not None
    for n, at in enumerate((int(time.time()) + 400, stored.order.created_at - 5)):
        event = {**_charge_event(stored.order_id, "charge.succeeded", f"evt_at_{n}"), "at": at}
        status, body = post("payments", "sandbox", event, secret="whsec_new_sandbox")
        assert (status, body["errors"][0]["field"]) == (400, "at"), body
    assert load_order(stored.order_id) == stored
    assert level("HOOK-A") == (10, 1, 9)


def test_charge_failed_fails_a_pending_order_and_releases_its_stock(world: None, post: Any) -> None:
    stored = place_order({"HOOK-A": 3})
    event = _charge_event(stored.order_id, "charge.failed", "evt_fail_1")
    status, body = post("payments", "sandbox", event, secret="whsec_new_sandbox")
    assert (status, body["result"]) == (200, "payment_failed")
    failed = load_order(stored.order_id)
    assert failed is not None
    assert failed.status is OrderStatus.PAYMENT_FAILED
    assert level("HOOK-A") == (10, 0, 10)


def test_charge_succeeded_on_a_cancelled_order_refunds_the_charge(world: None, post: Any) -> None:
    stored = place_order({"HOOK-A": 1})
    sandbox = SandboxProvider(DynamoLedger())
    charge = sandbox.charge(
        stored.order_id, stored.order.totals.total, "tok_ok", f"order:{stored.order_id}:charge"
    )
    cancel_pending(stored.order_id)
    event = _charge_event(stored.order_id, "charge.succeeded", "evt_late", charge.charge_id)
    status, body = post("payments", "sandbox", event, secret="whsec_new_sandbox")
    assert (status, body["result"]) == (200, "cancelled_refunded")
    after = load_order(stored.order_id)
    assert after is not None
    assert after.status is OrderStatus.CANCELLED
    assert after.order.payment.status is PaymentStatus.REFUNDED
    assert sandbox.refunded_total(charge.charge_id) == stored.order.totals.total


def test_refund_succeeded_is_noted(world: None, post: Any) -> None:
    stored = place_order({"HOOK-A": 1})
    event = _charge_event(stored.order_id, "refund.succeeded", "evt_ref")
    status, body = post("payments", "sandbox", event, secret="whsec_new_sandbox")
    assert (status, body["result"]) == (200, "noted")


def test_a_payment_event_without_a_charge_id_is_400(world: None, post: Any) -> None:
    event = {"event_id": "e", "type": "charge.succeeded", "order_id": "o-1"}
    assert post("payments", "sandbox", event, secret="whsec_new_sandbox")[0] == 400


# --- where the secrets come from --------------------------------------------------------------


def test_secrets_come_from_the_ssm_secure_string_when_the_env_has_none(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(
        Name="/commerce/test/webhook-secrets",
        Type="SecureString",
        Value=json.dumps({"carriers/ups": ["from-ssm"]}),
    )
    settings = replace(
        get_settings(),
        webhook_secrets_json="",
        webhook_secrets_parameter="/commerce/test/webhook-secrets",
    )
    monkeypatch.setattr(service, "get_settings", lambda: settings)
    service.clear_secrets_cache()
    try:
        assert service.all_secrets() == {"carriers/ups": ["from-ssm"]}
    finally:
        service.clear_secrets_cache()


def test_env_secrets_are_never_honoured_in_prod(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(
        Name="/commerce/prod/webhook-secrets",
        Type="SecureString",
        Value=json.dumps({"payments/sandbox": "only-ssm"}),
    )
    settings = replace(
        get_settings(),
        stage="prod",
        webhook_secrets_json=json.dumps({"payments/sandbox": ["from-env"]}),
        webhook_secrets_parameter="/commerce/prod/webhook-secrets",
    )
    monkeypatch.setattr(service, "get_settings", lambda: settings)
    service.clear_secrets_cache()
    try:
        assert service.all_secrets() == {"payments/sandbox": ["only-ssm"]}
    finally:
        service.clear_secrets_cache()


@pytest.mark.parametrize(
    "raw", ["not json", "[]", '{"a": []}', '{"a": [""]}', '{"a": [1]}', '{"a": 5}']
)
def test_malformed_secrets_are_a_configuration_error(raw: str) -> None:
    with pytest.raises(service.SecretsConfigurationError):
        service._parse_secrets(raw)
