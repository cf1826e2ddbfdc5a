"""The sandbox carrier behind POST /_local/carrier-events, against a gateway stand-in: what it
reads, what it signs and sends, and every request it refuses (the e2e suite drives it through
the real stack: tests/e2e/test_members_support.py)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from commerce.webhooks.signatures import verify
from werkzeug.wrappers import Request, Response

from infra.local.carrier import (
    CarrierEventInvalid,
    CarrierEventRequest,
    NoShipment,
    SandboxCarrier,
    carrier_secrets,
)
from infra.local.environment import DEV_WEBHOOK_SECRET, LOCAL_DEFAULTS

pytestmark = pytest.mark.integration

ORDER = "3f9a1c2b7d4e4f0a9b8c6d5e4f3a2b1c"


class Issuer:
    def __init__(self) -> None:
        self.issued = 0

    def issue(self, request: Any) -> str:
        self.issued += 1
        return f"token-{request.sub}"


class Gateway:
    """Answers the order read and records the webhook call, as the real gateway would route."""

    def __init__(self, shipment: dict[str, str] | None, order_status: int = 200) -> None:
        self.shipment = shipment
        self.order_status = order_status
        self.sent: list[tuple[str, dict[str, str], bytes]] = []

    def __call__(self, request: Request, request_id: str) -> Response:
        if request.method == "GET":
            assert request.headers["Authorization"] == "Bearer token-local-sandbox-carrier"
            body = {"order_id": ORDER, **({"shipment": self.shipment} if self.shipment else {})}
            return Response(json.dumps(body), status=self.order_status)
        self.sent.append((request.path, dict(request.headers), request.get_data()))
        return Response(json.dumps({"status": "processed"}), status=200)


def test_the_local_secrets_sign_for_every_carrier_the_shop_ships_with() -> None:
    secrets = carrier_secrets(LOCAL_DEFAULTS["WEBHOOK_SECRETS_JSON"])
    assert {"sf", "sf-express", "jd", "zto", "ems"} <= set(secrets)
    assert set(secrets.values()) == {DEV_WEBHOOK_SECRET}
    assert carrier_secrets("not json") == {}
    assert carrier_secrets('{"payments/sandbox": ["x"]}') == {}


def test_an_event_is_signed_with_the_carriers_secret_and_sent_to_its_webhook() -> None:
    gateway = Gateway({"carrier": "sf", "tracking_number": "SF123"})
    carrier = SandboxCarrier(gateway, Issuer(), {"sf": "s3cret"})  # type: ignore[arg-type]
    request = CarrierEventRequest(ORDER, "out_for_delivery", "Xuhui depot")
    sent, reply = carrier.send(request)
    assert reply.status_code == 200
    ((path, headers, raw),) = gateway.sent
    assert path == "/webhooks/carriers/sf"
    # Raises unless the carrier signed exactly these bytes, now.
    verify(headers["X-Signature"], raw, ["s3cret"], now=int(time.time()))
    payload = json.loads(raw)
    assert payload == {k: v for k, v in sent.items() if k != "carrier"}
    assert (payload["type"], payload["order_id"], payload["tracking_number"]) == (
        "out_for_delivery",
        ORDER,
        "SF123",
    )
    assert payload["location"] == "Xuhui depot"
    assert payload["event_id"].startswith("sandbox-")
    second, _ = carrier.send(request)
    assert second["event_id"] != sent["event_id"]  # each call is a new carrier event


@pytest.mark.parametrize(
    ("shipment", "order_status", "status"),
    [
        (None, 200, 409),  # not shipped yet
        ({"carrier": "ups", "tracking_number": "1Z"}, 200, 409),  # no secret for that carrier
        ({"carrier": "sf", "tracking_number": "SF1"}, 404, 404),  # no such order
    ],
)
def test_what_cannot_be_reported_is_refused_before_anything_is_sent(
    shipment: dict[str, str] | None, order_status: int, status: int
) -> None:
    gateway = Gateway(shipment, order_status)
    carrier = SandboxCarrier(gateway, Issuer(), {"sf": "s3cret"})  # type: ignore[arg-type]
    with pytest.raises(NoShipment) as refused:
        carrier.send(CarrierEventRequest(ORDER, "in_transit", None))
    assert refused.value.status == status
    assert gateway.sent == []


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"status": "in_transit"},
        {"order_id": ORDER, "status": "teleported"},
        {"order_id": ORDER, "status": "delivered", "location": ""},
        {"order_id": ORDER, "status": "delivered", "location": "x" * 201},
        {"order_id": ORDER, "status": "delivered", "courier": "Bob"},
    ],
)
def test_a_bad_request_names_its_fields(body: Any) -> None:
    with pytest.raises(CarrierEventInvalid) as bad:
        CarrierEventRequest.parse(body)
    assert bad.value.errors


def test_the_token_is_reused() -> None:
    issuer = Issuer()
    gateway = Gateway({"carrier": "sf", "tracking_number": "SF1"})
    carrier = SandboxCarrier(gateway, issuer, {"sf": "s"})  # type: ignore[arg-type]
    carrier.send(CarrierEventRequest(ORDER, "in_transit", None))
    carrier.send(CarrierEventRequest(ORDER, "in_transit", None))
    assert issuer.issued == 1
