"""A customer's RFM where support and the customer see it, and gone with them on erasure.

The values come from the stream consumer (fed Lambda-shaped records of the customer's paid
orders); support's view, the export and erasure are the customers function's own routes.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from commerce import clock
from commerce.customers import privacy
from commerce.store import analytics as analytics_store
from commerce.store import campaigns as campaign_store
from orders_world import SUBS, Context, Reply, event, invoke
from stream_builders import OrderStory, a_campaign

pytestmark = pytest.mark.integration

DAY = 86_400


def pays(analytics: ModuleType, at: int, amount: int, order_id: str, refund: int = 0) -> None:
    sub = SUBS["customer"]
    story = OrderStory(order_id, sub, "customer@example.com", (("SKU-A", 1, amount),), at)
    story.pay(at + 60)
    if refund:
        story.refund(refund, at + 120)
    answer = analytics.lambda_handler({"Records": story.records()}, Context())
    assert answer == {"batchItemFailures": []}


def call(module: ModuleType, sample: str, who: str, **kwargs: Any) -> Reply:
    return invoke(module, event(sample, who=who, **kwargs))


def test_support_sees_the_customers_rfm_and_the_customer_exports_it(
    dynamodb: Any,
    push_apps: dict[str, str],
    customers_module: ModuleType,
    analytics_module: ModuleType,
) -> None:
    assert call(customers_module, "customers_get_me.json", "customer").status == 200  # a profile
    sub = SUBS["customer"]
    before = call(
        customers_module, "customers_admin_get.json", "support", params={"customer_id": sub}
    )
    assert before.body["rfm"] == {
        "recency_days": None,
        "frequency": 0,
        "monetary": {"amount": 0, "currency": "CNY"},
        "segment": "none",
        "scores": None,
    }
    now = clock.now()
    pays(analytics_module, now - 20 * DAY, 60_000, "o-1")
    pays(analytics_module, now - 10 * DAY, 50_000, "o-2", refund=10_000)
    view = call(
        customers_module, "customers_admin_get.json", "support", params={"customer_id": sub}
    )
    assert view.status == 200, view.body
    assert view.body["rfm"] == {
        "recency_days": 9,  # paid a minute after ten days ago
        "frequency": 2,
        "monetary": {"amount": 100_000, "currency": "CNY"},
        "segment": "promising",
        "scores": {"recency": 5, "frequency": 2, "monetary": 3},
    }
    exported = call(customers_module, "customers_export.json", "customer")
    assert exported.status == 200
    assert exported.body["rfm"] == {"customer_id": sub, **view.body["rfm"]}


def test_erasure_forgets_the_customers_value_and_campaign_memberships(
    dynamodb: Any,
    push_apps: dict[str, str],
    customers_module: ModuleType,
    analytics_module: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(privacy, "user_pool_id", lambda: "")
    sub = SUBS["customer"]
    assert call(customers_module, "customers_get_me.json", "customer").status == 200
    pays(analytics_module, clock.now() - DAY, 5000, "o-1")
    campaign = a_campaign()
    campaign_store.create_campaign(campaign)
    campaign_store.add_recipients(campaign.campaign_id, [sub, SUBS["other"]])
    assert analytics_store.customer_value(sub) is not None

    assert call(customers_module, "customers_erase.json", "customer").status == 204

    assert analytics_store.customer_value(sub) is None
    assert campaign_store.load_recipient(campaign.campaign_id, sub) is None
    assert campaign_store.load_recipient(campaign.campaign_id, SUBS["other"]) is not None
    stored = campaign_store.load_campaign(campaign.campaign_id)
    assert stored is not None
    assert stored.counts.recipients == 2  # the campaign's counts stay as they were
