"""A campaign from its request to its results, on moto: the insight route accepts it, the
campaigns function works through its queue (segment pages, one turn per member), messages go
out through SES and SNS only where the member consented to marketing, each once, and the
stream consumer credits the campaign with a recipient's order."""

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
from commerce.analytics import campaign_queue, campaign_work
from commerce.customers.profiles import Identity, Patch, ensure_profile, update_me
from commerce.settings import get_settings
from notifications_world import Notifier
from orders_world import Context, Reply, invoke, load_function
from payment_orders import sqs_event
from queue_helpers import drain
from stream_builders import OrderStory

from infra.local.outbox import Outbox

pytestmark = pytest.mark.integration

Event = Callable[..., dict[str, Any]]
PHONE = "+8613800138000"


@pytest.fixture(scope="module")
def insight_module() -> ModuleType:
    return load_function("insight")


@pytest.fixture(scope="module")
def campaigns_module() -> ModuleType:
    return load_function("campaigns")


@pytest.fixture
def queues(notifier: Notifier, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The campaigns queue and its DLQ on moto (made with the template's queues by the
    notifier fixture), named in the campaign code's settings."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    urls = {
        name: sqs.get_queue_url(QueueName=f"commerce-local-{name}")["QueueUrl"]
        for name in ("CampaignsQueue", "CampaignsDLQ")
    }
    named = replace(
        get_settings(),
        campaigns_queue_url=urls["CampaignsQueue"],
        campaigns_dlq_url=urls["CampaignsDLQ"],
    )
    monkeypatch.setattr(campaign_queue, "get_settings", lambda: named)
    monkeypatch.setattr(campaign_work, "get_settings", lambda: named)
    campaign_work._sqs.cache_clear()
    return urls


def customer(
    analytics: ModuleType,
    sub: str,
    *,
    consent: bool | None,
    channels: tuple[str, ...] | None = None,
    phone: str | None = None,
) -> None:
    """A customer who paid one order (so a segment of buyers holds them), with a profile
    (unless ``consent`` is None) that gives or withholds marketing consent."""
    if consent is not None:
        identity = Identity(sub=sub, email=f"{sub}@example.com", locale="en")
        ensure_profile(identity)
        update_me(
            identity,
            Patch(
                marketing_consent=consent,
                notification_channels=channels,
                phone=phone,
                phone_set=phone is not None,
            ),
        )
    at = clock.now() - 5 * 86_400
    story = OrderStory(f"o-{sub}", sub, f"{sub}@example.com", (("SKU-A", 1, 1000),), at)
    records = story.pay(at + 60).records()
    assert analytics.lambda_handler({"Records": records}, Context()) == {"batchItemFailures": []}


def work_through(campaigns: ModuleType, queue_url: str) -> list[dict[str, Any]]:
    """Feed the campaigns queue to the function, a batch at a time, until it is empty; every
    body handed over."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    seen: list[dict[str, Any]] = []
    for _ in range(20):
        bodies = [m["Body"] for m in drain(sqs, queue_url)]
        if not bodies:
            return seen
        for start in range(0, len(bodies), 10):
            response = campaigns.lambda_handler(sqs_event(*bodies[start : start + 10]), Context())
            assert response == {"batchItemFailures": []}
        seen += [json.loads(b) for b in bodies]
    pytest.fail("the campaigns queue never emptied")


def test_a_campaign_reaches_each_consenting_member_once_and_reports_their_orders(
    dynamodb: Any,
    queues: dict[str, str],
    notifier: Notifier,
    make_event: Event,
    insight_module: ModuleType,
    analytics_module: ModuleType,
    campaigns_module: ModuleType,
) -> None:
    call: Callable[[dict[str, Any]], Reply] = partial(invoke, insight_module)
    customer(analytics_module, "c-email", consent=True)
    customer(analytics_module, "c-both", consent=True, channels=("email", "sms"), phone=PHONE)
    customer(analytics_module, "c-declined", consent=False, channels=("email", "sms"), phone=PHONE)
    customer(analytics_module, "c-no-profile", consent=None)
    segment = call(
        make_event("insight_create_segment.json", role="ops", body={"name": "All", "rules": {}})
    ).body["segment_id"]
    body = {
        "name": "Spring sale",
        "segment_id": segment,
        "channels": ["sms", "email"],
        "subject": "Spring sale: 20% off tea sets",
        "body": "This week only.",
    }
    accepted = call(make_event("insight_create_campaign.json", role="ops", body=body))
    assert accepted.status == 202, accepted.body
    campaign_id = accepted.body["campaign_id"]

    work = work_through(campaigns_module, queues["CampaignsQueue"])
    assert [w["kind"] for w in work].count("expand") == 1
    assert sorted(w["customer_id"] for w in work if w["kind"] == "deliver") == [
        "c-both",
        "c-declined",
        "c-email",
        "c-no-profile",
    ]
    sent = sorted((m["channel"], m["to"]) for m in Outbox().items())
    assert sent == [
        ("email", "c-both@example.com"),
        ("email", "c-email@example.com"),
        ("sms", PHONE),
    ]
    mails = [m for m in Outbox().items() if m["channel"] == "email"]
    assert {m["template"] for m in mails} == {"en/campaign.message.email"}
    assert {m["subject"] for m in mails} == {"Spring sale: 20% off tea sets"}

    def shown() -> dict[str, Any]:
        event = make_event(
            "insight_get_campaign.json", role="ops", path_params={"campaign_id": campaign_id}
        )
        reply = call(event)
        assert reply.status == 200
        result: dict[str, Any] = reply.body
        return result

    result = shown()
    assert result["status"] == "sent"
    assert (result["recipients"], result["sent"], result["skipped"]) == (4, 3, 5)

    # Redelivered work changes nothing: no second message, no count twice.
    again = [campaign_work.deliver_message(campaign_id, "c-both")]
    again.append(campaign_work.expand_message(campaign_id, 0, None))
    assert campaigns_module.lambda_handler(sqs_event(*again), Context()) == {
        "batchItemFailures": []
    }
    assert drain(boto3.client("sqs", region_name="us-east-1"), queues["CampaignsQueue"]) == []
    assert len(Outbox().items()) == 3
    assert (shown()["sent"], shown()["skipped"]) == (3, 5)

    # A recipient's order within the week counts for the campaign; a non-recipient's does not.
    now = clock.now()
    for sub, order_id, amount in (("c-both", "o-after-1", 4200), ("c-declined", "o-after-2", 999)):
        story = OrderStory(order_id, sub, f"{sub}@example.com", (("SKU-A", 1, amount),), now)
        records = story.pay(now + 60).records()
        assert analytics_module.lambda_handler({"Records": records}, Context()) == {
            "batchItemFailures": []
        }
    final = shown()
    assert (final["orders"], final["revenue"]) == (1, {"amount": 4200, "currency": "CNY"})


def test_work_naming_no_campaign_goes_to_the_dead_letter_queue_at_once(
    dynamodb: Any, queues: dict[str, str], campaigns_module: ModuleType
) -> None:
    bodies = [
        campaign_work.deliver_message("0" * 32, "c-1"),
        campaign_work.expand_message("0" * 32, 0, None),
        "not json",
        json.dumps({"kind": "teleport"}),
    ]
    assert campaigns_module.lambda_handler(sqs_event(*bodies), Context()) == {
        "batchItemFailures": []
    }
    dead = drain(boto3.client("sqs", region_name="us-east-1"), queues["CampaignsDLQ"])
    assert sorted(m["Body"] for m in dead) == sorted(bodies)
