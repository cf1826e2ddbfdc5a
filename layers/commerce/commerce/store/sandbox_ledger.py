"""The sandbox payment provider's ledger in DynamoDB (``SandboxPaymentsTable``, outside prod only).

``commerce.payments.sandbox`` keeps every decision as a record written once by (partition, key);
this adapter maps that onto the table: ``pk`` = partition (an order id or a charge id), ``sk`` =
key (``charge#<idempotency key>``, ``attempt#...``, ``charge``, ``movement#000001``, ...), the
record itself in ``record``. "Written once" is a conditional put (``attribute_not_exists(pk)``),
so two concurrent calls with one idempotency key cannot both make a charge, on DynamoDB Local as
on AWS. Reads are strongly consistent: the sandbox reads its own writes before deciding, and
``find_charge`` answering "no charge" is certain, never a read that missed a fresh write.

``ttl`` (30 days) only tidies the table; nothing relies on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pynamodb.attributes import MapAttribute
from pynamodb.exceptions import DoesNotExist

from commerce import clock
from commerce.store import kit
from commerce.store.tables.sandbox import SandboxLedgerModel

#: How long sandbox ledger records are kept before DynamoDB may delete them.
RETENTION_SECONDS: Final = 30 * 24 * 60 * 60

#: A record as the sandbox writes it (``commerce.payments.sandbox.Record``): strings and ints.
Record = Mapping[str, str | int]


def _plain(record: MapAttribute[str, Any]) -> dict[str, str | int]:
    """A stored record as the sandbox wrote it: numbers come back as int, the rest as str."""
    plain: dict[str, str | int] = {}
    for name, value in record.as_dict().items():  # type: ignore[no-untyped-call]
        if isinstance(value, bool):
            plain[name] = str(value)
        elif isinstance(value, int | float):
            plain[name] = int(value)
        else:
            plain[name] = str(value)
    return plain


class DynamoLedger:
    """A ``LedgerStore`` over ``SandboxPaymentsTable``."""

    def get(self, partition: str, key: str) -> Record | None:
        try:
            item = SandboxLedgerModel.get(partition, key, consistent_read=True)
        except DoesNotExist:
            return None
        return _plain(item.record)

    def put_if_absent(self, partition: str, key: str, record: Record) -> bool:
        item = SandboxLedgerModel(
            partition,
            key,
            record=MapAttribute(**dict(record)),  # type: ignore[no-untyped-call]
            ttl=clock.now() + RETENTION_SECONDS,
        )
        return kit.applied(lambda: item.save(condition=SandboxLedgerModel.pk.does_not_exist()))

    def query(self, partition: str, prefix: str) -> list[tuple[str, Record]]:
        rows = SandboxLedgerModel.query(
            partition, SandboxLedgerModel.sk.startswith(prefix), consistent_read=True
        )
        return [(row.sk, _plain(row.record)) for row in rows]
