"""Insight over HTTP against the local stack (API.md, "Insight"): the order stream reaches the
figures through DynamoDB Local's streams and the stack's stream poller, within seconds.

Other tests share the stack and its day, so totals are compared before and after; what a test
must find exactly (units, revenue, a customer's RFM, a campaign's counts) it reads through
things only it made: a SKU of its own, a customer of its own, a segment only its customers
reach (a spend no other test's customer has).
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pyarrow.parquet as pq
import pytest
import requests
from commerce.http.pagination import encode_page_token
from http_problems import assert_problem
from stack_helpers import (
    checkout,
    create_product,
    get_order,
    ops,
    outbox,
    staff,
    wait_for_order,
)

from infra.local.harness import StackProcess

#: API.md: figures follow the order stream by at most 10 s in the local stack.
FIGURE_LAG_SECONDS = 10
#: A campaign's work goes through its own queue at a bounded rate.
CAMPAIGN_SECONDS = 60

T = TypeVar("T")


def eventually(read: Callable[[], T], done: Callable[[T], bool], seconds: float, what: str) -> T:
    """Poll ``read`` until ``done`` holds; fail with the last value after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not within {seconds}s; last seen: {value}")
        time.sleep(0.2)


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def get(stack: StackProcess, path: str, headers: dict[str, str], **query: str) -> requests.Response:
    return requests.get(f"{stack.base_url}{path}", params=query, headers=headers, timeout=30)


def segment_members(stack: StackProcess, segment_id: str, headers: dict[str, str]) -> list[str]:
    """Every member, page after page: a page reads a bounded share of the index, so on a stack
    where many customers ordered today a page may come back short, or empty, with a token."""
    found: list[str] = []
    token: str | None = None
    while True:
        query = {"limit": "100"} | ({"next_token": token} if token else {})
        reply = get(stack, f"/admin/segments/{segment_id}/members", headers, **query)
        assert reply.status_code == 200, reply.text
        found += [m["customer_id"] for m in reply.json()["items"]]
        token = reply.json().get("next_token")
        if not token:
            return found


def sales(stack: StackProcess) -> dict[str, Any]:
    reply = get(stack, "/admin/analytics/sales", ops(stack), **{"from": today(), "to": today()})
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def product_figures(stack: StackProcess, sku: str) -> dict[str, Any] | None:
    reply = get(
        stack,
        "/admin/analytics/products",
        ops(stack),
        limit="100",
        **{"from": today(), "to": today()},
    )
    assert reply.status_code == 200, reply.text
    return next((p for p in reply.json()["items"] if p["sku"] == sku), None)


def customer(stack: StackProcess, *, consent: bool = False) -> tuple[str, str, dict[str, str]]:
    """A new signed-in customer (with a profile, and marketing consent if asked): sub, email,
    headers."""
    sub = f"insight-{uuid.uuid4().hex[:12]}"
    email = f"{sub}@example.com"
    headers = stack.auth(sub, ["customer"], email)
    reply = requests.patch(
        f"{stack.base_url}/me", json={"marketing_consent": consent}, headers=headers, timeout=30
    )
    assert reply.status_code == 200, reply.text
    return sub, email, headers


def paid_order(
    stack: StackProcess, sku: str, quantity: int, headers: dict[str, str]
) -> dict[str, Any]:
    placed = checkout(stack, sku, quantity, headers=headers)
    return wait_for_order(stack, placed["order_id"], headers, "PAID")


def rfm(stack: StackProcess, sub: str) -> dict[str, Any]:
    reply = get(stack, f"/admin/customers/{sub}", staff(stack, "support"))
    assert reply.status_code == 200, reply.text
    found: dict[str, Any] = reply.json()["rfm"]
    return found


def test_a_paid_order_is_in_the_days_figures_within_seconds_and_once(stack: StackProcess) -> None:
    sku = create_product(stack, "INSIGHT", stock=20, price=4500)
    sub, _, headers = customer(stack)
    before = sales(stack)["totals"]
    order = paid_order(stack, sku, 2, headers)
    total = order["totals"]["total"]["amount"]

    figure = eventually(
        lambda: product_figures(stack, sku),
        lambda found: found is not None,
        FIGURE_LAG_SECONDS,
        "the paid order's SKU in the product figures",
    )
    assert figure is not None
    assert (figure["units"], figure["revenue"]["amount"]) == (2, 9000)
    assert figure["product_id"]
    after = eventually(
        lambda: sales(stack)["totals"],
        lambda t: t["orders"] > before["orders"] and t["carts"] > before["carts"],
        FIGURE_LAG_SECONDS,
        "the order and its cart in the day's totals",
    )
    assert after["gmv"]["amount"] >= before["gmv"]["amount"] + total
    assert 0 <= after["conversion_rate"] <= 1
    assert rfm(stack, sub) == {
        "recency_days": 0,
        "frequency": 1,
        "monetary": {"amount": total, "currency": "CNY"},
        "segment": "new",
        "scores": {"recency": 5, "frequency": 1, "monetary": 1},
    }


def test_a_refund_lowers_net_and_the_customers_monetary(stack: StackProcess) -> None:
    sku = create_product(stack, "INSIGHT-REFUND", stock=5, price=3000)
    sub, _, headers = customer(stack)
    order = paid_order(stack, sku, 1, headers)
    total = order["totals"]["total"]["amount"]
    eventually(lambda: rfm(stack, sub)["frequency"], lambda n: n == 1, FIGURE_LAG_SECONDS, "RFM")
    before = sales(stack)["totals"]

    cancelled = requests.post(
        f"{stack.base_url}/orders/{order['order_id']}/cancel", headers=headers, timeout=30
    )
    assert cancelled.status_code == 200, cancelled.text
    assert get_order(stack, order["order_id"], headers)["payment"]["status"] == "REFUNDED"

    eventually(
        lambda: rfm(stack, sub)["monetary"]["amount"],
        lambda amount: amount == 0,
        FIGURE_LAG_SECONDS,
        "the refund in the customer's monetary",
    )
    after = sales(stack)["totals"]
    assert after["refunds"]["amount"] >= before["refunds"]["amount"] + total
    assert after["net"]["amount"] == after["gmv"]["amount"] - after["refunds"]["amount"]
    assert rfm(stack, sub)["frequency"] == 1  # the order was paid: it still counts as bought


SEGMENT = {"name": "Everyone", "rules": {}}
CAMPAIGN = {
    "name": "x",
    "segment_id": "0" * 32,
    "channels": ["email"],
    "subject": "s",
    "body": "b",
}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/admin/analytics/sales?from=2026-01-01&to=2026-01-31", None),
        ("GET", "/admin/analytics/products?from=2026-01-01&to=2026-01-31", None),
        ("POST", "/admin/segments", SEGMENT),
        ("GET", "/admin/segments", None),
        ("POST", "/admin/campaigns", CAMPAIGN),
        ("GET", "/admin/campaigns/" + "0" * 32, None),
    ],
)
def test_customers_and_support_get_403_and_strangers_401(
    stack: StackProcess, method: str, path: str, body: dict[str, Any] | None
) -> None:
    for headers, status, kind in (
        (stack.auth("insight-someone", ["customer"]), 403, "forbidden"),
        (staff(stack, "support"), 403, "forbidden"),
        ({}, 401, "unauthorized"),
    ):
        key = {"Idempotency-Key": uuid.uuid4().hex}
        reply = requests.request(
            method, f"{stack.base_url}{path}", json=body, headers=headers | key, timeout=30
        )
        assert_problem(reply, status, kind)


def test_bad_input_is_a_problem_and_changes_nothing(stack: StackProcess) -> None:
    headers = ops(stack)
    for query in (
        {"from": "2026-02-01", "to": "2026-01-01"},
        {"from": "2025-01-01", "to": "2026-01-02"},
    ):
        assert_problem(
            get(stack, "/admin/analytics/sales", headers, **query), 400, "validation-error"
        )

    def post(path: str, body: Any, extra: dict[str, str] | None = None) -> requests.Response:
        return requests.post(
            f"{stack.base_url}{path}", json=body, headers={**headers, **(extra or {})}, timeout=30
        )

    assert_problem(
        post("/admin/segments", {"name": "x", "rules": {"age": 30}}), 400, "validation-error"
    )
    assert_problem(
        post("/admin/segments", {"name": "x", "rules": {"rfm_segments": ["whales"]}}),
        400,
        "validation-error",
    )
    campaign = {
        "name": "x",
        "segment_id": "0" * 32,
        "channels": [],
        "subject": "s",
        "body": "b",
    }
    key = {"Idempotency-Key": uuid.uuid4().hex}
    assert_problem(post("/admin/campaigns", campaign, key), 400, "validation-error")
    missing = post("/admin/campaigns", {**campaign, "channels": ["email"]}, key)
    assert_problem(missing, 404, "not-found")
    listed = get(stack, "/admin/campaigns", headers, limit="100").json()["items"]
    assert all(c["segment_id"] != "0" * 32 for c in listed)


def test_a_campaign_reaches_consenting_members_once_and_reports_their_orders(
    stack: StackProcess,
) -> None:
    # A spend no other test's customer reaches makes a segment of exactly these two.
    price = 4_321_000 + uuid.uuid4().int % 1000
    sku = create_product(stack, "INSIGHT-CAMPAIGN", stock=10, price=price)
    consenting, consenting_email, consenting_headers = customer(stack, consent=True)
    declining, declining_email, declining_headers = customer(stack, consent=False)
    # What a member pays is the price less the tier's discount: the segment asks for that.
    spent = min(
        paid_order(stack, sku, 1, headers)["totals"]["total"]["amount"]
        for headers in (consenting_headers, declining_headers)
    )
    for sub in (consenting, declining):
        eventually(
            lambda s=sub: rfm(stack, s)["frequency"], lambda n: n == 1, FIGURE_LAG_SECONDS, "RFM"
        )
    headers = ops(stack)
    rules = {"min_spend": {"amount": spent, "currency": "CNY"}, "last_order_within_days": 1}
    segment = requests.post(
        f"{stack.base_url}/admin/segments",
        json={"name": f"big spenders {uuid.uuid4().hex[:6]}", "rules": rules},
        headers=headers,
        timeout=30,
    ).json()
    members = segment_members(stack, segment["segment_id"], headers)
    assert sorted(members) == sorted([consenting, declining])
    # A token from a page read long ago (the recency window has moved on) resumes at the window.
    stale = encode_page_token(
        {
            "pk": {"S": "CUSTOMER#gone"},
            "sk": {"S": "VALUE"},
            "gsi1pk": {"S": "VALUES#00"},
            "gsi1sk": {"S": "000000000001#gone"},
        }
    )
    resumed = get(
        stack, f"/admin/segments/{segment['segment_id']}/members", headers, next_token=stale
    )
    assert resumed.status_code == 200, resumed.text

    subject = f"Tea week {uuid.uuid4().hex[:6]}"
    body = {
        "name": "Tea week",
        "segment_id": segment["segment_id"],
        "channels": ["email"],
        "subject": subject,
        "body": "Our spring harvest is in.",
    }
    key = {"Idempotency-Key": uuid.uuid4().hex}
    accepted = requests.post(
        f"{stack.base_url}/admin/campaigns", json=body, headers={**headers, **key}, timeout=30
    )
    assert accepted.status_code == 202, accepted.text
    retried = requests.post(
        f"{stack.base_url}/admin/campaigns", json=body, headers={**headers, **key}, timeout=30
    )
    assert retried.json()["campaign_id"] == accepted.json()["campaign_id"]
    path = f"/admin/campaigns/{accepted.json()['campaign_id']}"
    result = eventually(
        lambda: get(stack, path, headers).json(),
        lambda found: found["status"] == "sent",
        CAMPAIGN_SECONDS,
        "the campaign sent",
    )
    assert (result["recipients"], result["sent"], result["skipped"]) == (2, 1, 1)
    mails = [m for m in outbox(stack) if m.get("subject") == subject]
    assert [m["to"] for m in mails] == [consenting_email]

    order = paid_order(stack, sku, 1, consenting_headers)
    result = eventually(
        lambda: get(stack, path, headers).json(),
        lambda found: found["orders"] == 1,
        FIGURE_LAG_SECONDS,
        "the recipient's order credited to the campaign",
    )
    assert result["revenue"] == order["totals"]["total"]
    assert [m["to"] for m in outbox(stack) if m.get("subject") == subject] == [consenting_email]
    assert declining_email not in {m["to"] for m in outbox(stack) if m.get("subject") == subject}


def test_the_days_order_facts_are_exported_as_parquet(stack: StackProcess) -> None:
    sku = create_product(stack, "INSIGHT-EXPORT", stock=5, price=1200)
    _, _, headers = customer(stack)
    order = paid_order(stack, sku, 1, headers)
    s3 = stack.client("s3")
    bucket = stack.info["buckets"]["ExportBucket"]
    key = f"order_facts/date={today()}/facts.parquet"

    def rows() -> list[dict[str, Any]]:
        try:
            got = s3.get_object(Bucket=bucket, Key=key)
        except s3.exceptions.NoSuchKey:
            return []
        return list(pq.read_table(io.BytesIO(got["Body"].read())).to_pylist())

    found = eventually(
        rows,
        lambda facts: any(f["order_id"] == order["order_id"] for f in facts),
        FIGURE_LAG_SECONDS + 15,
        "the order in today's Parquet file",
    )
    (fact,) = [f for f in found if f["order_id"] == order["order_id"]]
    assert (fact["kind"], fact["amount"], fact["units"]) == (
        "paid",
        order["totals"]["total"]["amount"],
        1,
    )
    assert fact["lines"] == [{"sku": sku, "quantity": 1, "amount": 1200}]
