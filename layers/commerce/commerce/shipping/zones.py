"""The shipping zone table: read by carts and checkout, replaced whole by ops.

``rule_for(address)`` is what a cart's totals and an order's shipping charge: the rule of the
zone the address ships in, the default zone's without an address (``domain.shipping``). The
table is read fresh each time (one small item, eventually consistent: a change reaches every
cart within about a second), so checkout charges what the table says when the order is placed.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from commerce.clock import now_iso
from commerce.domain.pricing import ShippingRule
from commerce.domain.shipping import ZoneTable, parse_zone_table
from commerce.domain.shipping_address import ShippingAddress
from commerce.errors import Conflict, ValidationFailed
from commerce.http.auth import Caller
from commerce.observability import logger, metrics
from commerce.store import shipping_zones as store


def zone_table() -> ZoneTable:
    return store.load()


def rule_for(address: ShippingAddress | None, table: ZoneTable | None = None) -> ShippingRule:
    """The shipping rule ``address`` pays now (``table``: the zone table if already read)."""
    return (table if table is not None else store.load()).rule_for(address)


def replace_table(caller: Caller, zones: list[dict[str, Any]], version: int | None) -> ZoneTable:
    """Check and store the whole table (400 naming every bad field); with ``version``, only if
    the table is still at that version (409 otherwise, as when another edit wins the race)."""
    current = store.load(consistent=True)
    if version is not None and version != current.version:
        raise Conflict(
            f"The zone table is at version {current.version}, not {version}: read it again",
            version=current.version,
        )
    parsed = parse_zone_table(zones, current.version + 1)
    if isinstance(parsed, list):
        raise ValidationFailed(parsed)
    if not store.replace(parsed, current.version, at=now_iso(), by=caller.sub):
        raise Conflict("The zone table changed meanwhile: read it again")
    metrics.add_metric(name="ShippingZonesChanged", unit=MetricUnit.Count, value=1)
    logger.info("shipping zones replaced", extra={"version": parsed.version})
    return parsed
