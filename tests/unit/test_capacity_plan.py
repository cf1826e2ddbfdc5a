"""The capacity plan (infra/ops/capacity.py): its arithmetic on a small set of measured costs, and
docs/capacity.md being exactly what the committed docs/capacity.json renders to."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.local.stack import REPO_ROOT
from infra.ops import capacity
from infra.ops.capacity import LIMITS, PRICES, plan, render

pytestmark = pytest.mark.unit


def _op(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "description": "probe",
        "api_requests": 1,
        "invocations": {"CartFunction": 1},
        "duration_ms": {"CartFunction": 50},
        "memory_mb": {"CartFunction": 512},
        "sources": {"CartFunction": "api"},
        "dynamodb_requests": 3,
        "tables": {
            "InventoryTable": {"requests": 2, "rru": 1, "wru": 2},
            "CartsTable": {"requests": 1, "rru": 1, "wru": 2},
        },
    }
    return {**base, **overrides}


def measured(**shard: Any) -> dict[str, Any]:
    stock_shard = {
        "shards": 4,
        "wru": 2,
        "rru_per_shard_read": 1,
        "shards_read": 4,
        "reads_every_shard": True,
        **shard,
    }
    return {
        "measured_at": "2026-11-23 10:00 UTC",
        "commit": "abc1234",
        "machine": "2 cores, Linux x86_64",
        "load": "1.00, 1.00, 1.00",
        "repeat": 3,
        "operations": {
            "hold": _op(stock_shard=stock_shard),
            "refusal": _op(
                duration_ms={"CartFunction": 10},
                dynamodb_requests=1,
                tables={"InventoryTable": {"requests": 1, "rru": 1, "wru": 0}},
                stock_shard={**stock_shard, "wru": 0},
            ),
            "order": _op(
                api_requests=4,
                invocations={"CartFunction": 3, "OrdersFunction": 1, "PaymentsFunction": 1},
                duration_ms={"CartFunction": 40, "OrdersFunction": 120, "PaymentsFunction": 200},
                memory_mb={"CartFunction": 512, "OrdersFunction": 512, "PaymentsFunction": 1024},
                sources={"CartFunction": "api", "OrdersFunction": "api", "PaymentsFunction": "sqs"},
                dynamodb_requests=20,
                tables={
                    "OrdersTable": {"requests": 5, "rru": 2, "wru": 10},
                    "InventoryTable": {"requests": 4, "rru": 3, "wru": 4},
                },
                sqs_messages={"PaymentsQueue": 1, "NotificationsQueue": 1},
                sqs_requests=6,
                provider_calls=1,
            ),
        },
    }


def test_one_sku_needs_the_shards_its_holds_write_and_the_reads_are_checked() -> None:
    p = plan(measured())
    # 10,000 holds/s x 2 WRU on a shard, against 1,000 WRU/s per key with 20% spare.
    assert p.shards.needed == math.ceil(10_000 * 2 / (1000 * 0.8)) == 25
    assert p.shards.per_shard_wru == pytest.approx(800)
    # Every hold reads every shard: each carries all 10,000 reads, over 80% of 3,000.
    assert p.shards.per_shard_rru == pytest.approx(10_000)
    assert not p.shards.reads_fit
    # A hold that reads only its own shard spreads its reads like its writes.
    own = plan(measured(shards_read=1, reads_every_shard=False))
    assert own.shards.per_shard_rru == pytest.approx(10_000 / 25)
    assert own.shards.reads_fit


def test_the_sale_and_the_orders_load_every_part() -> None:
    p = plan(measured())
    sale, orders = p.sale, p.orders
    assert sale.api_rps == pytest.approx(20_000)  # holds and refusals, 1 request each
    assert sale.tables["InventoryTable"].wru == pytest.approx(20_000)
    assert sale.tables["InventoryTable"].rru == pytest.approx(20_000)
    # Little's law: 10,000/s x 50 ms + 10,000/s x 10 ms.
    assert sale.concurrency["CartFunction"] == pytest.approx(600)
    assert sale.seconds_to_scale("CartFunction", LIMITS) == 0
    per_second = 100_000 / 60
    assert orders.api_rps == pytest.approx(4 * per_second)
    assert orders.tables["OrdersTable"].wru == pytest.approx(10 * per_second)
    assert orders.concurrency["PaymentsFunction"] == pytest.approx(0.2 * per_second)
    assert orders.sqs_messages == pytest.approx(
        {"NotificationsQueue": per_second, "PaymentsQueue": per_second}
    )
    assert orders.provider_calls == pytest.approx(per_second)
    # GB-s: 3 x 0.04 s x 0.5 GB + 0.12 s x 0.5 GB + 0.2 s x 1 GB per order.
    assert orders.gb_seconds == pytest.approx(per_second * (0.06 + 0.06 + 0.2))


def test_scaling_time_counts_lambda_s_steps_of_a_thousand_every_ten_seconds() -> None:
    p = plan(measured(), holds_per_second=50_000, refusals_per_second=0)
    concurrency = p.sale.concurrency["CartFunction"]
    assert concurrency == pytest.approx(2500)
    assert p.sale.seconds_to_scale("CartFunction", LIMITS) == 20
    # An SQS consumer scales by its event source: from 5 batches, 300 more a minute.
    orders = plan(measured(), orders_per_minute=60 * 1000).orders
    assert orders.concurrency["PaymentsFunction"] == pytest.approx(200)
    assert orders.seconds_to_scale("PaymentsFunction", LIMITS) == pytest.approx(60 * 195 / 300)


def test_the_quotas_to_raise_are_those_the_peak_passes() -> None:
    quotas = {q.limit.name: q for q in plan(measured()).quotas}
    api = quotas[LIMITS["apigw_rps"].name]
    assert api.needed == math.ceil(20_000 / 0.8)
    assert api.raise_it
    stripe = quotas[LIMITS["stripe_writes"].name]
    assert stripe.needed == math.ceil(100_000 / 60 / 0.8)
    assert stripe.raise_it
    alipay = quotas[LIMITS["alipay_orders"].name]
    assert not alipay.raise_it  # no published figure: the document says to ask
    table = quotas[LIMITS["table_wru"].name]
    assert table.needed == math.ceil(20_000 / 0.8)
    assert not table.raise_it


def test_cost_per_hour_is_rate_times_list_price() -> None:
    cost = plan(measured()).sale.cost_per_hour(PRICES)
    hour = 3600
    assert cost["API Gateway requests"] == pytest.approx(20_000 * hour * 3.5e-6)
    assert cost["DynamoDB writes"] == pytest.approx((20_000 + 20_000) * hour * 0.625e-6)
    assert cost["Lambda requests"] == pytest.approx(20_000 * hour * 0.2e-6)


def test_the_document_shows_the_plan_s_figures() -> None:
    text = render(plan(measured()))
    assert "**Shards: 25.**" in text
    assert "$252.00" in text  # 20,000 API requests/s for an hour at $3.50 per million
    assert "abc1234" in text
    for code in ("L-8A5B8E43", "L-B99A9384", "L-AB614373", "L-CF0CBE56"):
        assert code in text
    assert "shards alone cannot carry this rate" in text
    for limit in LIMITS.values():
        assert limit.source in text


@given(
    holds=st.floats(min_value=1, max_value=1e6),
    wru=st.floats(min_value=0.5, max_value=64),
)
def test_no_shard_is_planned_past_its_share_of_the_write_ceiling(holds: float, wru: float) -> None:
    op = capacity.Operation.from_json("hold", measured(wru=wru)["operations"]["hold"])
    shards = capacity.shards_for(holds, op, LIMITS, 0.8)
    assert shards.per_shard_wru <= 1000 * 0.8 + 1e-6
    # and one shard fewer would not do (unless one is all it takes)
    if shards.needed > 1:
        assert holds * wru / (shards.needed - 1) > 1000 * 0.8


def test_the_committed_document_is_what_the_committed_measurements_render_to() -> None:
    """docs/capacity.md is generated: edit the code or re-measure, never the page."""
    measured_json = json.loads((REPO_ROOT / "docs" / "capacity.json").read_text("utf-8"))
    expected = render(plan(measured_json))
    assert (REPO_ROOT / "docs" / "capacity.md").read_text("utf-8") == expected


def test_a_sku_past_the_shard_limit_is_said_to_be() -> None:
    text = render(plan(measured(wru=4), holds_per_second=10_000))
    assert "**Shards: 50.**" in text
    assert "more than the 32 shards a SKU may have" in text
    assert f"at most {32 * 800 // 4:,} holds a second" in text
