"""The insight routes through InsightFunction's handler on moto: who may call them, what a bad
request gets, segments and their members from the index, campaigns accepted once per key."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from types import ModuleType
from typing import Any

import boto3
import pytest
from commerce import clock
from commerce.analytics import campaign_work
from commerce.http.pagination import encode_page_token
from commerce.settings import get_settings
from http_problems import assert_problem
from orders_world import Context, Reply, invoke, load_function
from queue_helpers import drain
from stream_builders import OrderStory

from infra.local.resources import CreatedResources, create_queues
from infra.local.stack import REPO_ROOT
from infra.local.template import Resolver, load_template

pytestmark = pytest.mark.integration

TEMPLATE = load_template(REPO_ROOT / "template.yaml")

Event = Callable[..., dict[str, Any]]
DAY = 86_400
SEGMENT_ID = "9d2f4c1a7b3e4d5f8a6c0b1e2d3f4a5b"


@pytest.fixture(scope="module")
def insight_module() -> ModuleType:
    return load_function("insight")


@pytest.fixture
def call(dynamodb: Any, insight_module: ModuleType) -> Callable[[dict[str, Any]], Reply]:
    return partial(invoke, insight_module)


@pytest.fixture
def work_queue(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The campaigns queue on moto, named in the settings the campaign routes read."""
    created = CreatedResources()
    create_queues(Resolver(TEMPLATE), boto3.client("sqs", region_name="us-east-1"), created)
    url = created.queues["CampaignsQueue"]
    named = replace(get_settings(), campaigns_queue_url=url)
    monkeypatch.setattr(campaign_work, "get_settings", lambda: named)
    campaign_work._sqs.cache_clear()
    return url


def paid(analytics: ModuleType, customer: str, at: int, amount: int, order_id: str) -> None:
    """A paid order of ``customer`` through the stream consumer (its value and RFM)."""
    story = OrderStory(order_id, customer, f"{customer}@example.com", (("SKU-A", 1, amount),), at)
    records = story.pay(at + 60).records()
    assert analytics.lambda_handler({"Records": records}, Context()) == {"batchItemFailures": []}


# --- Who may call ------------------------------------------------------------------------------

ROUTES = [
    ("insight_sales.json", None),
    ("insight_products.json", None),
    ("insight_create_segment.json", None),
    ("insight_list_segments.json", None),
    ("insight_get_segment.json", None),
    ("insight_segment_members.json", None),
    ("insight_create_campaign.json", None),
    ("insight_list_campaigns.json", None),
    ("insight_get_campaign.json", None),
]


@pytest.mark.parametrize(("sample", "_"), ROUTES, ids=[r[0] for r in ROUTES])
@pytest.mark.parametrize(("role", "status"), [(None, 401), ("customer", 403), ("support", 403)])
def test_only_ops_and_admin_reach_insight(
    call: Callable[[dict[str, Any]], Reply],
    make_event: Event,
    scan_all: Callable[[], dict[str, list[dict[str, Any]]]],
    sample: str,
    _: None,
    role: str | None,
    status: int,
) -> None:
    before = scan_all()
    reply = call(make_event(sample, role=role))
    assert_problem(reply, status, "unauthorized" if status == 401 else "forbidden")
    assert scan_all() == before


@pytest.mark.parametrize("role", ["ops", "admin"])
def test_ops_and_admin_read_the_figures(
    call: Callable[[dict[str, Any]], Reply], make_event: Event, role: str
) -> None:
    reply = call(make_event("insight_sales.json", role=role))
    assert reply.status == 200, reply.body
    assert len(reply.body["days"]) == 30
    assert reply.body["from"] == "2026-11-01"


# --- Bad ranges ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-11-02", "to": "2026-11-01"}, "from"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "to"),
        ({"from": "2026-02-30", "to": "2026-03-01"}, "from"),
        ({"from": "11/01/2026", "to": "2026-11-30"}, "from"),
        ({"to": "2026-11-30"}, "from"),
    ],
)
@pytest.mark.parametrize("sample", ["insight_sales.json", "insight_products.json"])
def test_a_bad_range_is_a_400_naming_the_field(
    call: Callable[[dict[str, Any]], Reply],
    make_event: Event,
    sample: str,
    query: dict[str, str],
    field: str,
) -> None:
    reply = call(make_event(sample, role="ops", query=query))
    assert_problem(reply, 400, "validation-error")
    assert field in {e["field"].split(".")[-1] for e in reply.body["errors"]}


def test_products_refuse_a_limit_out_of_range(
    call: Callable[[dict[str, Any]], Reply], make_event: Event
) -> None:
    query = {"from": "2026-11-01", "to": "2026-11-30", "limit": "0"}
    assert_problem(
        call(make_event("insight_products.json", role="ops", query=query)), 400, "validation-error"
    )


# --- Segments ------------------------------------------------------------------------------------


def create_segment(
    call: Callable[[dict[str, Any]], Reply],
    make_event: Event,
    rules: dict[str, Any],
    name: str = "S",
) -> Reply:
    return call(
        make_event("insight_create_segment.json", role="ops", body={"name": name, "rules": rules})
    )


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ({"min_visits": 3}, "min_visits"),
        ({"tiers": ["platinum"]}, "rules.tiers[0]"),
        ({"rfm_segments": ["whales"]}, "rules.rfm_segments[0]"),
        ({"tiers": []}, "rules.tiers"),
        ({"min_orders": 1.5}, "min_orders"),
        ({"min_spend": {"amount": 100, "currency": "USD"}}, "currency"),
        ({"last_order_within_days": 30, "no_order_within_days": 30}, "rules.no_order_within_days"),
        ({"last_order_within_days": 0}, "last_order_within_days"),
    ],
)
def test_unknown_rules_or_values_are_a_400_and_store_nothing(
    call: Callable[[dict[str, Any]], Reply],
    make_event: Event,
    scan_all: Callable[[], dict[str, list[dict[str, Any]]]],
    rules: dict[str, Any],
    field: str,
) -> None:
    before = scan_all()
    reply = create_segment(call, make_event, rules)
    assert_problem(reply, 400, "validation-error")
    assert any(field in e["field"] for e in reply.body["errors"]), reply.body
    assert scan_all() == before


def test_a_segment_is_stored_listed_and_read(
    call: Callable[[dict[str, Any]], Reply], make_event: Event
) -> None:
    rules = {
        "min_orders": 2,
        "min_spend": {"amount": 10000, "currency": "CNY"},
        "tiers": ["member"],
    }
    first = create_segment(call, make_event, rules, "Regulars")
    second = create_segment(call, make_event, {}, "Everyone who bought")
    assert first.status == 201, first.body
    assert first.body["rules"] == rules
    segment_id = first.body["segment_id"]
    got = call(
        make_event(
            "insight_get_segment.json",
            role="ops",
            path_params={"segment_id": segment_id},
        )
    )
    assert got.body == first.body
    listed = call(make_event("insight_list_segments.json", role="ops", query={"limit": "1"}))
    assert [s["segment_id"] for s in listed.body["items"]] == [second.body["segment_id"]]
    rest = call(
        make_event(
            "insight_list_segments.json",
            role="ops",
            query={"limit": "1", "next_token": listed.body["next_token"]},
        )
    )
    assert [s["segment_id"] for s in rest.body["items"]] == [segment_id]
    missing = call(
        make_event("insight_get_segment.json", role="ops", path_params={"segment_id": "f" * 32})
    )
    assert_problem(missing, 404, "not-found")


def _members(
    call: Callable[[dict[str, Any]], Reply], make_event: Event, segment_id: str, limit: int
) -> list[str]:
    found: list[str] = []
    token: str | None = None
    for _ in range(50):
        query = {"limit": str(limit)} | ({"next_token": token} if token else {})
        reply = call(
            make_event(
                "insight_segment_members.json",
                role="ops",
                path_params={"segment_id": segment_id},
                query=query,
            )
        )
        assert reply.status == 200, reply.body
        assert len(reply.body["items"]) <= limit
        found += [m["customer_id"] for m in reply.body["items"]]
        token = reply.body.get("next_token")
        if token is None:
            return found
    pytest.fail("members never ended")


def test_members_are_the_customers_the_rules_hold_for_page_by_page(
    call: Callable[[dict[str, Any]], Reply], make_event: Event, analytics_module: ModuleType
) -> None:
    now = clock.now()
    paid(analytics_module, "c-recent", now - 2 * DAY, 5000, "o-1")
    paid(analytics_module, "c-recent", now - DAY, 7000, "o-2")
    paid(analytics_module, "c-lapsed", now - 90 * DAY, 90000, "o-3")
    paid(analytics_module, "c-once", now - 3 * DAY, 1000, "o-4")
    everyone = create_segment(call, make_event, {}).body["segment_id"]
    assert sorted(_members(call, make_event, everyone, 1)) == ["c-lapsed", "c-once", "c-recent"]
    regulars = create_segment(call, make_event, {"min_orders": 2}).body["segment_id"]
    assert _members(call, make_event, regulars, 20) == ["c-recent"]
    lapsed = create_segment(
        call,
        make_event,
        {"no_order_within_days": 30, "min_spend": {"amount": 50000, "currency": "CNY"}},
    ).body["segment_id"]
    assert _members(call, make_event, lapsed, 20) == ["c-lapsed"]
    recent_new = create_segment(
        call, make_event, {"last_order_within_days": 7, "rfm_segments": ["new"]}
    ).body["segment_id"]
    assert _members(call, make_event, recent_new, 20) == ["c-once"]
    nobody_gold = create_segment(call, make_event, {"tiers": ["gold"]}).body["segment_id"]
    assert _members(call, make_event, nobody_gold, 20) == []
    members = create_segment(call, make_event, {"tiers": ["member"]}).body["segment_id"]
    assert len(_members(call, make_event, members, 2)) == 3


def test_a_forged_members_token_is_a_400(
    call: Callable[[dict[str, Any]], Reply], make_event: Event
) -> None:
    segment_id = create_segment(call, make_event, {}).body["segment_id"]
    forged = encode_page_token(
        {"pk": {"S": "x"}, "sk": {"S": "y"}, "gsi1pk": {"S": "SEGMENTS"}, "gsi1sk": {"S": "z"}}
    )
    for token in (forged, "not-base64!"):
        reply = call(
            make_event(
                "insight_segment_members.json",
                role="ops",
                path_params={"segment_id": segment_id},
                query={"next_token": token},
            )
        )
        assert_problem(reply, 400, "validation-error")


# --- Campaigns -----------------------------------------------------------------------------------


def campaign_body(segment: str, **changes: Any) -> dict[str, Any]:
    body = {
        "name": "Double 11",
        "segment_id": segment,
        "channels": ["email", "sms"],
        "subject": "Double 11 starts tonight",
        "body": "See you there",
    }
    return {**body, **changes}


def post_campaign(
    call: Callable[[dict[str, Any]], Reply],
    make_event: Event,
    body: dict[str, Any],
    key: str | None = "k-1",
) -> Reply:
    event = make_event("insight_create_campaign.json", role="ops", body=body)
    event["headers"].pop("Idempotency-Key", None)
    event["multiValueHeaders"].pop("Idempotency-Key", None)
    if key is not None:
        event["headers"]["Idempotency-Key"] = key
        event["multiValueHeaders"]["Idempotency-Key"] = [key]
    return call(event)


@pytest.mark.parametrize(
    "changes",
    [
        {"channels": []},
        {"channels": ["email", "email"]},
        {"channels": ["fax"]},
        {"subject": "   "},
        {"body": "x" * 5001},
        {"segment_id": ""},
    ],
)
def test_a_bad_campaign_is_a_400_and_sends_nothing(
    call: Callable[[dict[str, Any]], Reply],
    make_event: Event,
    work_queue: str,
    scan_all: Callable[[], dict[str, list[dict[str, Any]]]],
    changes: dict[str, Any],
) -> None:
    segment_id = create_segment(call, make_event, {}).body["segment_id"]
    before = scan_all()
    assert_problem(
        post_campaign(call, make_event, campaign_body(segment_id, **changes)),
        400,
        "validation-error",
    )
    assert scan_all() == before
    assert drain(boto3.client("sqs", region_name="us-east-1"), work_queue) == []


def test_a_campaign_needs_an_idempotency_key_and_an_existing_segment(
    call: Callable[[dict[str, Any]], Reply],
    make_event: Event,
    work_queue: str,
    scan_all: Callable[[], dict[str, list[dict[str, Any]]]],
) -> None:
    segment_id = create_segment(call, make_event, {}).body["segment_id"]
    before = scan_all()
    assert_problem(
        post_campaign(call, make_event, campaign_body(segment_id), key=None),
        400,
        "validation-error",
    )
    assert_problem(post_campaign(call, make_event, campaign_body(SEGMENT_ID)), 404, "not-found")
    assert scan_all() == before
    assert drain(boto3.client("sqs", region_name="us-east-1"), work_queue) == []


def test_a_campaign_is_accepted_once_per_key(
    call: Callable[[dict[str, Any]], Reply], make_event: Event, work_queue: str
) -> None:
    segment_id = create_segment(call, make_event, {}).body["segment_id"]
    first = post_campaign(call, make_event, campaign_body(segment_id))
    again = post_campaign(call, make_event, campaign_body(segment_id))
    assert first.status == again.status == 202, first.body
    assert first.body == again.body
    assert first.body["status"] == "sending"
    other = post_campaign(call, make_event, campaign_body(segment_id, subject="Changed"))
    assert_problem(other, 422, "idempotency-key-reuse")
    second = post_campaign(call, make_event, campaign_body(segment_id), key="k-2")
    assert second.body["campaign_id"] != first.body["campaign_id"]
    queued = [
        json.loads(m["Body"])
        for m in drain(boto3.client("sqs", region_name="us-east-1"), work_queue)
    ]
    assert sorted(m["campaign_id"] for m in queued) == sorted(
        [first.body["campaign_id"], second.body["campaign_id"]]
    )
    assert all(
        m == {"kind": "expand", "campaign_id": m["campaign_id"], "page": 0, "start": None}
        for m in queued
    )
    shown = call(
        make_event(
            "insight_get_campaign.json",
            role="ops",
            path_params={"campaign_id": first.body["campaign_id"]},
        )
    )
    assert shown.status == 200
    assert shown.body | {"created_at": "-"} == {
        "campaign_id": first.body["campaign_id"],
        "name": "Double 11",
        "segment_id": segment_id,
        "channels": ["email", "sms"],
        "status": "sending",
        "recipients": 0,
        "sent": 0,
        "skipped": 0,
        "orders": 0,
        "revenue": {"amount": 0, "currency": "CNY"},
        "created_at": "-",
    }
    listed = call(make_event("insight_list_campaigns.json", role="ops"))
    assert {c["campaign_id"] for c in listed.body["items"]} == {
        first.body["campaign_id"],
        second.body["campaign_id"],
    }
    missing = call(
        make_event("insight_get_campaign.json", role="ops", path_params={"campaign_id": "0" * 32})
    )
    assert_problem(missing, 404, "not-found")


def test_a_members_token_older_than_the_window_resumes_at_the_window(
    call: Callable[[dict[str, Any]], Reply], make_event: Event, analytics_module: ModuleType
) -> None:
    paid(analytics_module, "c-recent", clock.now() - DAY, 5000, "o-1")
    segment_id = create_segment(call, make_event, {"last_order_within_days": 7}).body["segment_id"]
    # A page token from long ago: the recency window has moved past where it stopped.
    stale = encode_page_token(
        {
            "pk": {"S": "CUSTOMER#c-old"},
            "sk": {"S": "VALUE"},
            "gsi1pk": {"S": "VALUES#00"},
            "gsi1sk": {"S": "000000000001#c-old"},
        }
    )
    reply = call(
        make_event(
            "insight_segment_members.json",
            role="ops",
            path_params={"segment_id": segment_id},
            query={"next_token": stale, "limit": "100"},
        )
    )
    assert reply.status == 200, reply.body
    assert [m["customer_id"] for m in reply.body["items"]] == ["c-recent"]
