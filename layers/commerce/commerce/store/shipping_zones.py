"""The shipping zone table's storage: one Catalog item, ``pk=SHIPPING, sk=ZONES``.

Absent until ops first configure zones: then ``load`` answers the default table (the old fixed
rule as the default zone). A change puts the whole table conditioned on the version it was
read at, so of two concurrent edits one wins and the other is told to read again.
"""

from __future__ import annotations

from typing import Any

from commerce.domain.money import Money
from commerce.domain.pricing import ShippingRule
from commerce.domain.shipping import DEFAULT_ZONE_TABLE, Zone, ZoneTable
from commerce.store import batch_reads, keys, kit
from commerce.store.tables.attributes import plain
from commerce.store.tables.catalog import ShippingZonesModel


def _money(raw: Any) -> Money:
    return Money(int(raw["amount"]), str(raw["currency"]))


def _zone(raw: dict[str, Any]) -> Zone:
    threshold = raw.get("free_threshold")
    return Zone(
        zone_id=str(raw["zone_id"]),
        name=str(raw["name"]),
        places=tuple(str(p) for p in raw.get("places") or ()),
        rule=ShippingRule(_money(raw["fee"]), _money(threshold) if threshold else None),
    )


def table_key() -> batch_reads.Key[ShippingZonesModel]:
    """The zone table's key, for a caller that reads it in its own batch."""
    return batch_reads.Key(ShippingZonesModel, keys.SHIPPING_ZONES_PK, keys.SHIPPING_ZONES_SK)


def table_from(row: ShippingZonesModel | None) -> ZoneTable:
    """The zone table a stored row says (the default table when ops never configured one)."""
    if row is None:
        return DEFAULT_ZONE_TABLE
    return ZoneTable(tuple(_zone(z) for z in plain(row.zones)), int(row.version))


def load(consistent: bool = False) -> ZoneTable:
    """The zone table in force (the default table before ops configured one)."""
    try:
        row = ShippingZonesModel.get(
            keys.SHIPPING_ZONES_PK, keys.SHIPPING_ZONES_SK, consistent_read=consistent
        )
    except ShippingZonesModel.DoesNotExist:
        return DEFAULT_ZONE_TABLE
    return table_from(row)


def replace(table: ZoneTable, read_version: int, *, at: str, by: str | None) -> bool:
    """Put ``table`` (its ``version`` the next one) if the stored table is still at
    ``read_version`` (0: none stored yet); False when another change came first."""
    row = ShippingZonesModel(
        keys.SHIPPING_ZONES_PK,
        keys.SHIPPING_ZONES_SK,
        zones=[z.to_dict() for z in table.zones],
        version=table.version,
        updated_at=at,
        updated_by=by,
    )
    condition = ShippingZonesModel.version == read_version
    if read_version == 0:
        condition = ShippingZonesModel.pk.does_not_exist() | condition
    return kit.applied(lambda: row.save(condition=condition))
