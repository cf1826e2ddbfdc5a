"""The sandbox carrier behind ``POST /_local/carrier-events``: it plays the order's carrier.

Given ``{"order_id", "status", "location"?}`` it reads the order's shipment through the API (as
a support user of the local issuer), builds the event the carrier would send (a fresh event id,
the shipment's tracking number, the time now), signs it with that carrier's webhook secret (the
one the webhooks function itself is configured with) and posts it to
``/webhooks/carriers/{carrier}`` through the gateway, so the production webhook code verifies
and applies it exactly as it would a real carrier's. Local-only: never deployed.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from commerce.webhooks.signatures import sign
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from infra.local.auth import CognitoIssuer, TokenRequest

#: What the sandbox carrier can report (API.md, "The local stack").
STATUSES: Final = ("in_transit", "out_for_delivery", "delivered", "exception")
CARRIER_USER: Final = TokenRequest(sub="local-sandbox-carrier", email=None, groups=["support"])
#: Local tokens live an hour; one is reused for half of that.
_TOKEN_SECONDS: Final = 1800
MAX_LOCATION_CHARS: Final = 200

#: Runs one request through the gateway (its ``dispatch``), as if it came from outside.
Dispatch = Callable[[Request, str], Response]


class CarrierEventInvalid(Exception):
    """The body of POST /_local/carrier-events is invalid."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("invalid carrier event request")
        self.errors = errors


@dataclass(frozen=True)
class CarrierEventRequest:
    order_id: str
    status: str
    location: str | None

    @classmethod
    def parse(cls, body: Any) -> CarrierEventRequest:
        if not isinstance(body, dict):
            raise CarrierEventInvalid([{"field": "body", "message": "must be a JSON object"}])
        errors: list[dict[str, str]] = []
        order_id = body.get("order_id")
        if not isinstance(order_id, str) or not 1 <= len(order_id) <= 64:
            errors.append({"field": "order_id", "message": "must be an order id"})
        status = body.get("status")
        if status not in STATUSES:
            errors.append({"field": "status", "message": f"must be one of {list(STATUSES)}"})
        location = body.get("location")
        if location is not None and (
            not isinstance(location, str) or not 1 <= len(location) <= MAX_LOCATION_CHARS
        ):
            message = f"must be text of 1 to {MAX_LOCATION_CHARS} characters"
            errors.append({"field": "location", "message": message})
        unexpected = sorted(set(body) - {"order_id", "status", "location"})
        errors += [{"field": name, "message": "unexpected field"} for name in unexpected]
        if errors:
            raise CarrierEventInvalid(errors)
        return cls(str(order_id), str(status), location)


class NoShipment(Exception):
    """The order cannot be reported on: missing (404) or not shipped yet (409)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def carrier_secrets(secrets_json: str) -> dict[str, str]:
    """Each carrier's current signing secret from the webhooks function's secrets JSON."""
    try:
        parsed = json.loads(secrets_json or "{}")
    except ValueError:
        return {}
    found: dict[str, str] = {}
    for sender, values in parsed.items() if isinstance(parsed, dict) else ():
        kind, _, name = str(sender).partition("/")
        secret = values[0] if isinstance(values, list) and values else values
        if kind == "carriers" and isinstance(secret, str) and secret:
            found[name] = secret
    return found


@dataclass
class SandboxCarrier:
    """Sends the carrier events of ``POST /_local/carrier-events`` through the gateway."""

    dispatch: Dispatch
    issuer: CognitoIssuer
    secrets: dict[str, str]
    _token: tuple[str, float] | None = field(default=None, repr=False)

    def _bearer(self) -> str:
        if self._token is None or time.monotonic() - self._token[1] > _TOKEN_SECONDS:
            self._token = (self.issuer.issue(CARRIER_USER), time.monotonic())
        return self._token[0]

    def _call(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> Response:
        builder = EnvironBuilder(path=path, method=method, headers=list(headers.items()), data=body)
        try:
            request = Request(builder.get_environ())
        finally:
            builder.close()
        return self.dispatch(request, f"sandbox-carrier-{uuid.uuid4()}")

    def shipment(self, order_id: str) -> tuple[str, str]:
        """(carrier, tracking number) of the order's shipment, read through the API."""
        reply = self._call(
            "GET", f"/orders/{order_id}", {"Authorization": f"Bearer {self._bearer()}"}
        )
        if reply.status_code == 404:
            raise NoShipment(404, f"No order {order_id}.")
        if reply.status_code != 200:
            raise NoShipment(502, f"The order could not be read ({reply.status_code}).")
        shipment = json.loads(reply.get_data()).get("shipment")
        if not shipment:
            raise NoShipment(409, "The order has not been shipped: it has no carrier yet.")
        return str(shipment["carrier"]), str(shipment["tracking_number"])

    def send(self, event: CarrierEventRequest) -> tuple[dict[str, Any], Response]:
        """The event as sent, and the webhook's answer."""
        carrier, tracking_number = self.shipment(event.order_id)
        secret = self.secrets.get(carrier)
        if secret is None:
            known = ", ".join(sorted(self.secrets))
            raise NoShipment(409, f"The sandbox has no secret for carrier {carrier!r} ({known}).")
        payload: dict[str, Any] = {
            "event_id": f"sandbox-{uuid.uuid4().hex}",
            "type": event.status,
            "order_id": event.order_id,
            "tracking_number": tracking_number,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if event.location is not None:
            payload["location"] = event.location
        raw = json.dumps(payload, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Signature": sign(secret, int(time.time()), raw),
        }
        reply = self._call("POST", f"/webhooks/carriers/{carrier}", headers, raw)
        return {**payload, "carrier": carrier}, reply
