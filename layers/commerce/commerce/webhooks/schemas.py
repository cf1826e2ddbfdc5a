"""The response body of both webhook routes (their request bodies are parsed only after the
signature verifies, so they have no model here)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from commerce.http.model import Schema


class WebhookOut(Schema):
    """What became of one webhook event."""

    status: Literal["processed", "duplicate", "ignored"] = Field(
        description="`duplicate`: this event id was already acted on, nothing was done again"
    )
    event_id: str
    order_id: str | SkipJsonSchema[None] = None
    order_status: str | SkipJsonSchema[None] = Field(
        default=None, description="carriers: the order's status after the event"
    )
    result: str | SkipJsonSchema[None] = Field(
        default=None, description="payments: what the event did to the order"
    )
