"""The day's order facts to S3 as Parquet, partitioned by date, for the shop's BI (Athena).

Each run writes whole days: by default today so far and yesterday (so the day that just ended
is complete in the first run after midnight, and today's file is at most one run old), or the
days an event names (``{"dates": ["2026-11-11"]}``) to write one again. A day is one object,
``{prefix}date={YYYY-MM-DD}/facts.parquet``, written whole: a rerun replaces it, so the export
is idempotent and never holds a fact twice. The object carries a digest of the facts it holds
(metadata ``facts-digest``); a run whose facts for a day are the same leaves that day's object
alone, so frequent runs cost a Query and a HEAD per day, not a rewrite. The Glue table in
template.yaml declares the columns and projects the ``date`` partition from the path, so
Athena needs no crawler and no ``MSCK REPAIR``.

Columns (one row per fact; money in integer minor units):

| column     | type                                             |                                  |
|------------|--------------------------------------------------|----------------------------------|
| fact_id    | string                                           | the stream record it came from   |
| kind       | string                                           | ``paid`` or ``refunded``         |
| order_id   | string                                           |                                  |
| buyer      | string                                           | pseudonymous buyer key           |
| signed_in  | boolean                                          | false for guests                 |
| at         | timestamp (ms, UTC; whole seconds)               | paid at, or refunded at          |
| amount     | int64                                            | order total, or money refunded   |
| currency   | string                                           |                                  |
| units      | int32                                            | units of a paid order, else 0    |
| lines      | list<struct<sku:string,quantity:int32,amount:int64>> | a paid order's lines         |

pyarrow is imported here only: it ships with the export function, not the shared layer.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from commerce import clock
from commerce.domain.order_facts import utc_date
from commerce.observability import logger
from commerce.settings import get_settings
from commerce.store import analytics as store
from commerce.store.analytics import FactRow

if TYPE_CHECKING:
    import pyarrow as pa

#: Where the facts live in the bucket (the Glue table's location).
PREFIX: Final = "order_facts/"
PARQUET_CONTENT_TYPE: Final = "application/vnd.apache.parquet"


def object_key(day: str) -> str:
    return f"{PREFIX}date={day}/facts.parquet"


def schema() -> pa.Schema:
    """The file's schema, as Parquet keeps it (times in milliseconds, lists of ``element``),
    so a file read back has exactly this schema."""
    import pyarrow as pa

    line = pa.struct(
        [
            pa.field("sku", pa.string()),
            pa.field("quantity", pa.int32()),
            pa.field("amount", pa.int64()),
        ]
    )
    fields: list[pa.Field[Any]] = [
        pa.field("fact_id", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("order_id", pa.string()),
        pa.field("buyer", pa.string()),
        pa.field("signed_in", pa.bool_()),
        pa.field("at", pa.timestamp("ms", tz="UTC")),
        pa.field("amount", pa.int64()),
        pa.field("currency", pa.string()),
        pa.field("units", pa.int32()),
        pa.field("lines", pa.list_(pa.field("element", line))),
    ]
    return pa.schema(fields)


def table(rows: Iterable[FactRow]) -> pa.Table:
    """The facts as an Arrow table of ``schema()``."""
    import pyarrow as pa

    found = list(rows)
    columns: dict[str, list[Any]] = {
        "fact_id": [r.event_id for r in found],
        "kind": [r.kind for r in found],
        "order_id": [r.order_id for r in found],
        "buyer": [r.buyer for r in found],
        "signed_in": [r.signed_in for r in found],
        "at": [r.at * 1000 for r in found],
        "amount": [r.amount.amount for r in found],
        "currency": [r.amount.currency for r in found],
        "units": [r.units for r in found],
        "lines": [[{"sku": s, "quantity": q, "amount": a} for s, q, a in r.lines] for r in found],
    }
    return pa.Table.from_pydict(columns, schema=schema())


def parquet_bytes(rows: Iterable[FactRow]) -> bytes:
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table(rows), sink, compression="snappy")
    return sink.getvalue()


@lru_cache(maxsize=1)
def _s3() -> Any:
    import boto3

    return boto3.client("s3", region_name=get_settings().region)


@dataclass(frozen=True)
class Exported:
    day: str
    rows: int
    key: str
    written: bool = True


#: The object metadata naming which facts a day's file holds.
DIGEST_METADATA: Final = "facts-digest"


def facts_digest(rows: Iterable[FactRow]) -> str:
    """A fingerprint of the facts a day's file holds: their ids, in order."""
    ids = "\n".join(sorted(f"{r.kind}#{r.order_id}#{r.event_id}" for r in rows))
    return hashlib.sha256(ids.encode()).hexdigest()


def _written_digest(bucket: str, key: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        head = _s3().head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return str((head.get("Metadata") or {}).get(DIGEST_METADATA) or "") or None


def export_day(day: str, *, bucket: str | None = None) -> Exported:
    """Write one UTC day's facts, whole, over any earlier file of that day (unless that file
    holds exactly these facts already)."""
    target = bucket or get_settings().export_bucket
    if not target:
        raise RuntimeError("EXPORT_BUCKET is not set")
    rows = sorted(store.facts_of(day), key=lambda r: (r.at, r.order_id, r.kind))
    key = object_key(day)
    digest = facts_digest(rows)
    if _written_digest(target, key) == digest:
        return Exported(day, len(rows), key, written=False)
    _s3().put_object(
        Bucket=target,
        Key=key,
        Body=parquet_bytes(rows),
        ContentType=PARQUET_CONTENT_TYPE,
        Metadata={DIGEST_METADATA: digest},
    )
    logger.info("order facts exported", extra={"date": day, "rows": len(rows), "key": key})
    return Exported(day, len(rows), key)


def days_to_export(event: Mapping[str, Any] | None, now: int) -> list[str]:
    """The days a run writes: the event's ``dates`` if it names any, else yesterday and today."""
    named = (event or {}).get("dates")
    if named:
        if not isinstance(named, Sequence) or isinstance(named, str):
            raise ValueError("dates must be a list of YYYY-MM-DD")
        return [date.fromisoformat(str(d)).isoformat() for d in named]
    today = date.fromisoformat(utc_date(now))
    return [(today - timedelta(days=1)).isoformat(), today.isoformat()]


def run(event: Mapping[str, Any] | None = None) -> list[Exported]:
    """One run of the scheduled export."""
    return [export_day(day) for day in days_to_export(event, clock.now())]
