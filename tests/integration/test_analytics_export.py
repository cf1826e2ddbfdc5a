"""The Parquet export on moto's S3: a day's order facts written as one object under its date
partition, read back with pyarrow, rewritten whole (never twice a fact), left alone when
nothing changed."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest
from commerce.analytics import export
from commerce.settings import get_settings
from orders_world import Context, load_function
from stream_builders import OrderStory

from infra.local.resources import CreatedResources, create_buckets
from infra.local.stack import REPO_ROOT
from infra.local.template import Resolver, load_template

pytestmark = pytest.mark.integration

TEMPLATE = load_template(REPO_ROOT / "template.yaml")

START = 1_893_456_000  # 2030-01-01T00:00:00Z


@pytest.fixture(scope="module")
def export_module() -> ModuleType:
    return load_function("export")


@pytest.fixture
def bucket(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The template's export bucket on moto, as the local stack makes it; settings name it."""
    created = CreatedResources()
    create_buckets(Resolver(TEMPLATE), boto3.client("s3", region_name="us-east-1"), created)
    name = created.buckets["ExportBucket"]
    named = replace(get_settings(), export_bucket=name)
    monkeypatch.setattr(export, "get_settings", lambda: named)
    export._s3.cache_clear()
    return name


def read(bucket: str, day: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    s3 = boto3.client("s3", region_name="us-east-1")
    got = s3.get_object(Bucket=bucket, Key=f"order_facts/date={day}/facts.parquet")
    table = pq.read_table(io.BytesIO(got["Body"].read()))
    assert table.schema == export.schema()
    return table.to_pylist(), dict(got["Metadata"])


def test_a_days_facts_are_written_read_back_and_rewritten_whole(
    bucket: str, analytics_module: ModuleType, export_module: ModuleType
) -> None:
    lines = (("SKU-A", 2, 1250), ("SKU-B", 1, 800))
    paid = OrderStory("o-paid", "c-1", "a@example.com", lines, START).pay(START + 60)
    refunded = OrderStory("o-guest", None, "g@example.com", (("SKU-A", 1, 500),), START)
    refunded.pay(START + 120).refund(200, START + 3600)
    for story in (paid, refunded):
        records = story.records()
        analytics_module.lambda_handler({"Records": records}, Context())
        analytics_module.lambda_handler({"Records": records}, Context())  # redelivered

    answer = export_module.lambda_handler({"dates": ["2030-01-01"]}, Context())
    assert answer == {
        "exported": [
            {
                "date": "2030-01-01",
                "rows": 3,
                "key": "order_facts/date=2030-01-01/facts.parquet",
                "written": True,
            }
        ]
    }
    rows, metadata = read(bucket, "2030-01-01")
    at = datetime.fromtimestamp
    assert [(r["kind"], r["order_id"], r["amount"], r["units"]) for r in rows] == [
        ("paid", "o-paid", 3300, 3),
        ("paid", "o-guest", 500, 1),
        ("refunded", "o-guest", 200, 0),
    ]
    assert rows[0]["at"] == at(START + 60, UTC)
    assert rows[0]["lines"] == [
        {"sku": "SKU-A", "quantity": 2, "amount": 2500},
        {"sku": "SKU-B", "quantity": 1, "amount": 800},
    ]
    assert [r["signed_in"] for r in rows] == [True, False, False]
    assert all(r["currency"] == "CNY" and len(r["buyer"]) == 32 for r in rows)
    assert "a@example.com" not in str(rows)
    assert "c-1" not in str(rows)
    assert metadata == {
        export.DIGEST_METADATA: export.facts_digest(export.store.facts_of("2030-01-01"))
    }

    # Nothing changed: the object is left alone. A new fact: the day is rewritten whole.
    assert export.export_day("2030-01-01").written is False
    later = OrderStory("o-late", "c-2", "b@example.com", (("SKU-C", 1, 900),), START + 7200)
    analytics_module.lambda_handler({"Records": later.pay(START + 7300).records()}, Context())
    assert export.export_day("2030-01-01").written is True
    rows, _ = read(bucket, "2030-01-01")
    assert [r["order_id"] for r in rows] == ["o-paid", "o-guest", "o-guest", "o-late"]


def test_a_scheduled_run_writes_yesterday_and_today(bucket: str, export_module: ModuleType) -> None:
    assert export.days_to_export({}, START + 10) == ["2029-12-31", "2030-01-01"]
    scheduled = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
    answer = export_module.lambda_handler(scheduled, Context())
    assert [e["rows"] for e in answer["exported"]] == [0, 0]
    for entry in answer["exported"]:
        rows, _ = read(bucket, entry["date"])
        assert rows == []  # an empty day is a valid, empty partition


def test_a_named_day_that_is_no_date_is_refused() -> None:
    with pytest.raises(ValueError, match="yesterday"):
        export.days_to_export({"dates": ["yesterday"]}, START)
