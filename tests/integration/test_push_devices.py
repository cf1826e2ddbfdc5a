"""Push devices and push delivery on moto: the customers handler registers and removes devices
(SNS platform endpoints under moto's platform applications), and the notifications handler
publishes to them, read back through the local outbox (the reader behind GET /_local/outbox).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from types import ModuleType
from typing import Any

import boto3
import pytest
from commerce.customers import devices as device_service
from commerce.customers import privacy as privacy_service
from commerce.notifications import delivery, queue
from commerce.settings import get_settings
from commerce.store import devices as device_store
from notifications_world import BUYER, Notifier, order_body, write_order
from orders_world import SUBS, Reply, event, invoke, problem

from infra.local.outbox import Outbox

pytestmark = pytest.mark.integration

FCM = "FcmPlatformApplicationArn"
APNS = "ApnsPlatformApplicationArn"
IOS_TOKEN = "apns-token-3f9c0d7e"
ANDROID_TOKEN = "fcm-token-b81a44c2"
WEB_TOKEN = "https://fcm.googleapis.com/fcm/send/web-token-5d0e"
#: What order.paid's push says in each language: its title, and the order total as shown.
PAID_PUSH = {"en": ("Payment confirmed", "CN¥34.90"), "zh-CN": ("付款成功", "¥34.90")}


# --- the customers handler ----------------------------------------------------------------------


class Api:
    """The customers routes as the gateway calls them, signed in as ``who``."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def call(
        self,
        sample: str,
        who: str | None = "customer",
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> Reply:
        return invoke(self.module, event(sample, who=who, body=body, params=params))

    def add_device(self, body: Any, who: str = "customer") -> Reply:
        return self.call("customers_add_device.json", who, body=body)

    def register(self, platform: str, token: str, who: str = "customer") -> dict[str, Any]:
        reply = self.add_device({"platform": platform, "token": token}, who)
        assert reply.status == 201, reply.body
        return dict(reply.body)

    def list_devices(self, who: str = "customer") -> list[dict[str, Any]]:
        reply = self.call("customers_list_devices.json", who)
        assert reply.status == 200, reply.body
        return list(reply.body["items"])

    def remove_device(self, device_id: str, who: str = "customer") -> Reply:
        return self.call("customers_remove_device.json", who, params={"device_id": device_id})

    def me(self, who: str = "customer") -> Reply:
        return self.call("customers_get_me.json", who)

    def patch(self, body: Any, who: str = "customer") -> None:
        reply = self.call("customers_patch_me.json", who, body=body)
        assert reply.status == 200, reply.body

    def export(self, who: str = "customer") -> dict[str, Any]:
        reply = self.call("customers_export.json", who)
        assert reply.status == 200, reply.body
        return dict(reply.body)

    def erase(self, who: str = "customer") -> Reply:
        return self.call("customers_erase.json", who)


@pytest.fixture
def api(dynamodb: Any, push_apps: dict[str, str], customers_module: ModuleType) -> Api:
    return Api(customers_module)


# --- SNS and the Customers table ----------------------------------------------------------------


def sns() -> Any:
    return boto3.client("sns", region_name="us-east-1")


def endpoints_of(application_arn: str) -> list[dict[str, Any]]:
    """Every platform endpoint of the application: EndpointArn and Attributes."""
    found = sns().list_endpoints_by_platform_application(PlatformApplicationArn=application_arn)
    return list(found["Endpoints"])


def all_endpoints(apps: dict[str, str]) -> list[dict[str, Any]]:
    return [e for arn in apps.values() for e in endpoints_of(arn)]


def attributes(endpoint_arn: str) -> dict[str, str]:
    return dict(sns().get_endpoint_attributes(EndpointArn=endpoint_arn)["Attributes"])


def disable(endpoint_arn: str) -> None:
    """What SNS does when the push service reports the token invalid."""
    sns().set_endpoint_attributes(EndpointArn=endpoint_arn, Attributes={"Enabled": "false"})
    assert attributes(endpoint_arn)["Enabled"] == "false"


def customer_items(scan_all: Callable[[], dict[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    return scan_all()[get_settings().customers_table]


def token_owners(scan_all: Callable[[], dict[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    return [i for i in customer_items(scan_all) if i["pk"]["S"].startswith("PUSHTOKEN#")]


def device_items(
    scan_all: Callable[[], dict[str, list[dict[str, Any]]]], who: str
) -> list[dict[str, Any]]:
    return [
        i
        for i in customer_items(scan_all)
        if i["pk"]["S"] == f"CUSTOMER#{SUBS[who]}" and i["sk"]["S"].startswith("DEVICE#")
    ]


def endpoint_of(who: str, device_id: str) -> str:
    stored = device_store.load_device(SUBS[who], device_id)
    assert stored is not None
    assert stored.endpoint_arn is not None
    return stored.endpoint_arn


# --- orders and the notifications handler -------------------------------------------------------


def pushes() -> list[dict[str, Any]]:
    return [item for item in Outbox().items() if item["channel"] == "push"]


def published(endpoint_arn: str) -> list[dict[str, Any]]:
    """The SNS documents published to the endpoint, as moto keeps them."""
    from moto.sns.models import sns_backends

    backend = sns_backends["123456789012"]["us-east-1"]
    return [json.loads(text) for text in backend.platform_endpoints[endpoint_arn].messages.values()]


# --- 1. registration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "token", "application"),
    [("ios", IOS_TOKEN, APNS), ("android", ANDROID_TOKEN, FCM), ("web", WEB_TOKEN, FCM)],
)
def test_a_device_gets_one_endpoint_under_its_push_service(
    api: Api, push_apps: dict[str, str], platform: str, token: str, application: str
) -> None:
    added = api.add_device({"platform": platform, "token": token})

    assert added.status == 201, added.body
    assert set(added.body) == {"device_id", "platform", "created_at"}
    assert added.body["platform"] == platform
    [endpoint] = endpoints_of(push_apps[application])
    assert endpoint["Attributes"]["Token"] == token
    assert endpoint["Attributes"]["Enabled"] == "true"
    other = next(arn for name, arn in push_apps.items() if name != application)
    assert endpoints_of(other) == []
    assert endpoint_of("customer", added.body["device_id"]) == endpoint["EndpointArn"]

    listed = api.call("customers_list_devices.json")
    assert listed.body == {"items": [added.body]}
    assert token not in json.dumps(listed.body)

    again = api.add_device({"platform": platform, "token": token})
    assert again.status == 201, again.body
    assert again.body == added.body  # the same device, first created_at kept
    assert all_endpoints(push_apps) == [endpoint]
    assert api.list_devices() == [added.body]


def test_devices_are_listed_by_id_without_their_tokens(api: Api, push_apps: dict[str, str]) -> None:
    added = [
        api.register("ios", IOS_TOKEN),
        api.register("android", ANDROID_TOKEN),
        api.register("web", WEB_TOKEN),
    ]

    listed = api.list_devices()

    assert listed == sorted(added, key=lambda d: d["device_id"])
    assert len(all_endpoints(push_apps)) == 3
    text = json.dumps(listed)
    assert not any(t in text for t in (IOS_TOKEN, ANDROID_TOKEN, WEB_TOKEN))
    assert api.list_devices("other") == []


# --- 2. a token changing hands ------------------------------------------------------------------


def test_a_token_registered_by_another_customer_moves_to_them(
    api: Api, push_apps: dict[str, str], notifier: Notifier
) -> None:
    first = api.register("android", ANDROID_TOKEN, "customer")
    [endpoint] = all_endpoints(push_apps)

    second = api.register("android", ANDROID_TOKEN, "other")

    assert second["device_id"] != first["device_id"]
    assert device_store.token_owner(ANDROID_TOKEN) == (SUBS["other"], second["device_id"])
    assert api.list_devices("customer") == []
    assert api.list_devices("other") == [second]
    [moved] = all_endpoints(push_apps)
    assert moved["EndpointArn"] == endpoint["EndpointArn"]
    assert attributes(moved["EndpointArn"])["CustomUserData"] == second["device_id"]
    assert endpoint_of("other", second["device_id"]) == endpoint["EndpointArn"]
    problem(api.remove_device(first["device_id"], "customer"), 404, "not-found")
    assert len(all_endpoints(push_apps)) == 1  # the 404 touched nothing

    # The new owner's order reaches the phone; the previous owner's no longer does.
    api.patch({"notification_channels": ["push"]}, "customer")
    api.patch({"notification_channels": ["push"]}, "other")
    theirs, mine = write_order(owner=SUBS["other"]), write_order(owner=SUBS["customer"])
    response = notifier.deliver(order_body(mine, "order.paid"), order_body(theirs, "order.paid"))

    assert response == {"batchItemFailures": []}
    [push] = pushes()
    assert push["to"] == endpoint["EndpointArn"]
    [document] = published(endpoint["EndpointArn"])
    assert json.loads(document["GCM"])["data"]["ref"] == theirs.order_id


# --- 3. removal ---------------------------------------------------------------------------------


def test_removing_a_device_deletes_its_record_owner_and_endpoint(
    api: Api, push_apps: dict[str, str], scan_all: Callable[[], dict[str, list[dict[str, Any]]]]
) -> None:
    device = api.register("ios", IOS_TOKEN)
    assert len(token_owners(scan_all)) == 1

    removed = api.remove_device(device["device_id"])

    assert removed.status == 204, removed.body
    assert device_store.load_device(SUBS["customer"], device["device_id"]) is None
    assert device_store.token_owner(IOS_TOKEN) is None
    assert token_owners(scan_all) == []
    assert device_items(scan_all, "customer") == []
    assert all_endpoints(push_apps) == []
    assert api.list_devices() == []
    problem(api.remove_device(device["device_id"]), 404, "not-found")


def test_another_customers_device_is_not_found_and_stays(
    api: Api, push_apps: dict[str, str], scan_all: Callable[[], dict[str, list[dict[str, Any]]]]
) -> None:
    theirs = api.register("android", ANDROID_TOKEN, "other")
    api.me("customer")
    before = scan_all()
    endpoints_before = all_endpoints(push_apps)

    problem(api.remove_device(theirs["device_id"], "customer"), 404, "not-found")
    problem(api.remove_device("not-a-device-id", "customer"), 404, "not-found")

    assert scan_all() == before
    assert all_endpoints(push_apps) == endpoints_before
    assert api.list_devices("other") == [theirs]


# --- 4. refused registrations -------------------------------------------------------------------


def test_a_platform_without_its_application_is_409_and_stores_nothing(
    api: Api,
    push_apps: dict[str, str],
    scan_all: Callable[[], dict[str, list[dict[str, Any]]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configured = device_service.get_settings()
    without_apns = replace(configured, apns_platform_application_arn="")
    monkeypatch.setattr(device_service, "get_settings", lambda: without_apns)
    api.me()  # the profile exists already: only the device is in question
    before = scan_all()

    reply = api.add_device({"platform": "ios", "token": IOS_TOKEN})

    problem(reply, 409, "conflict")
    assert scan_all() == before
    assert all_endpoints(push_apps) == []
    # FCM is still set up: Android devices register as usual.
    assert api.register("android", ANDROID_TOKEN)["platform"] == "android"


@pytest.mark.parametrize(
    "body",
    [
        {"platform": "symbian", "token": IOS_TOKEN},
        {"platform": "IOS", "token": IOS_TOKEN},
        {"platform": "ios"},
        {"platform": "ios", "token": ""},
        {"platform": "ios", "token": None},
        {"platform": "ios", "token": 12345},
        {"platform": "ios", "token": "t" * 4097},
        {"platform": "ios", "token": "a\x00b"},
        {"platform": "ios", "token": "two words"},
        {"platform": "ios", "token": "tök"},
        {"platform": "ios", "token": IOS_TOKEN, "endpoint_arn": "arn:aws:sns:x"},
        {"token": IOS_TOKEN},
        [],
    ],
    ids=[
        "unknown-platform",
        "platform-case",
        "missing-token",
        "empty-token",
        "null-token",
        "number-token",
        "token-over-4096",
        "control-character",
        "space",
        "not-ascii",
        "extra-field",
        "missing-platform",
        "not-an-object",
    ],
)
def test_bad_bodies_are_400_and_store_nothing(
    api: Api,
    push_apps: dict[str, str],
    scan_all: Callable[[], dict[str, list[dict[str, Any]]]],
    body: Any,
) -> None:
    before = scan_all()

    problem(api.add_device(body), 400, "validation-error")

    assert scan_all() == before
    assert all_endpoints(push_apps) == []


# --- 5. a disabled endpoint ---------------------------------------------------------------------


def test_registering_again_enables_an_endpoint_sns_disabled(
    api: Api, push_apps: dict[str, str]
) -> None:
    device = api.register("android", ANDROID_TOKEN)
    [endpoint] = all_endpoints(push_apps)
    disable(endpoint["EndpointArn"])

    again = api.register("android", ANDROID_TOKEN)

    assert again == device
    [after] = all_endpoints(push_apps)
    assert after["EndpointArn"] == endpoint["EndpointArn"]
    assert attributes(endpoint["EndpointArn"])["Enabled"] == "true"
    assert attributes(endpoint["EndpointArn"])["Token"] == ANDROID_TOKEN
    assert endpoint_of("customer", device["device_id"]) == endpoint["EndpointArn"]


# --- 6. erasure ---------------------------------------------------------------------------------


@pytest.fixture
def pool(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user pool on moto holding both customers (erasure disables the caller's sign-in)."""
    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    pool_id = cognito.create_user_pool(PoolName="push-test")["UserPool"]["Id"]
    for who in ("customer", "other"):
        cognito.admin_create_user(UserPoolId=pool_id, Username=who)
    monkeypatch.setattr(privacy_service, "user_pool_id", lambda: pool_id)


def test_erasure_deletes_every_device_endpoint_and_token_owner(
    api: Api,
    push_apps: dict[str, str],
    pool: None,
    scan_all: Callable[[], dict[str, list[dict[str, Any]]]],
) -> None:
    api.register("ios", IOS_TOKEN)
    api.register("android", ANDROID_TOKEN)
    kept = api.register("web", WEB_TOKEN, "other")
    assert len(token_owners(scan_all)) == 3
    kept_endpoint = endpoint_of("other", kept["device_id"])

    reply = api.erase()

    assert reply.status == 204, reply.body
    [owner] = token_owners(scan_all)
    assert owner["customer_id"]["S"] == SUBS["other"]
    assert device_items(scan_all, "customer") == []
    assert [e["EndpointArn"] for e in all_endpoints(push_apps)] == [kept_endpoint]
    assert device_store.token_owner(IOS_TOKEN) is None
    assert device_store.token_owner(ANDROID_TOKEN) is None
    assert api.list_devices("other") == [kept]


# --- 7. delivery --------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_an_order_event_pushes_once_to_each_device_in_the_customers_language(
    api: Api, push_apps: dict[str, str], notifier: Notifier, locale: str
) -> None:
    api.patch({"notification_channels": ["push"], "locale": locale})
    phone = api.register("ios", IOS_TOKEN)
    tablet = api.register("android", ANDROID_TOKEN)
    targets = {endpoint_of("customer", d["device_id"]) for d in (phone, tablet)}
    stored = write_order(owner=SUBS["customer"])
    body = order_body(stored, "order.paid")

    response = notifier.deliver(body)

    assert response == {"batchItemFailures": []}
    sent = Outbox().items()
    assert {item["channel"] for item in sent} == {"push"}  # push was the only channel chosen
    assert sorted(item["to"] for item in sent) == sorted(targets)
    title, total = PAID_PUSH[locale]
    for item in sent:
        assert item["template"] == f"{locale}/order.paid.push"
        assert item["subject"] == title
        assert total in item["body"]
        assert stored.order_id[-8:] in item["body"]
    # iOS gets the APNs payload, with the template and the order as app data.
    ios = endpoint_of("customer", phone["device_id"])
    [document] = published(ios)
    apns = json.loads(document["APNS"])
    assert apns["aps"]["alert"]["title"] == title
    assert (apns["template"], apns["ref"]) == (f"{locale}/order.paid.push", stored.order_id)

    # Redelivered, twice in one batch and again later: nothing more is pushed.
    assert notifier.deliver(body, body, receive_count=2) == {"batchItemFailures": []}
    assert len(pushes()) == 2
    outcome = queue.handle_body(body)
    assert outcome.result is delivery.Result.DUPLICATE
    assert outcome.deduplicated == 2
    assert [(m["channel"], m["template"]) for m in api.export()["messages"]] == [
        ("push", f"{locale}/order.paid.push")
    ] * 2


# --- 8. a dead endpoint -------------------------------------------------------------------------


def test_a_disabled_endpoint_forgets_its_device_without_a_retry(
    api: Api,
    push_apps: dict[str, str],
    notifier: Notifier,
    scan_all: Callable[[], dict[str, list[dict[str, Any]]]],
) -> None:
    api.patch({"notification_channels": ["push"]})
    dead = api.register("ios", IOS_TOKEN)
    alive = api.register("android", ANDROID_TOKEN)
    dead_endpoint = endpoint_of("customer", dead["device_id"])
    alive_endpoint = endpoint_of("customer", alive["device_id"])
    disable(dead_endpoint)
    body = order_body(write_order(owner=SUBS["customer"]), "order.paid")

    response = notifier.deliver(body)

    assert response == {"batchItemFailures": []}  # nothing a retry could deliver
    assert notifier.dead_letters() == []
    assert [p["to"] for p in pushes()] == [alive_endpoint]
    assert device_store.load_device(SUBS["customer"], dead["device_id"]) is None
    assert device_store.token_owner(IOS_TOKEN) is None
    assert [e["EndpointArn"] for e in all_endpoints(push_apps)] == [alive_endpoint]
    assert [i["device_id"]["S"] for i in device_items(scan_all, "customer")] == [alive["device_id"]]
    assert api.list_devices() == [alive]
    messages = api.export()["messages"]
    assert [(m["channel"], m["template"]) for m in messages] == [("push", "en/order.paid.push")]

    # A redelivery sends nothing more: the live device had its push, the dead one is gone.
    assert notifier.deliver(body, receive_count=2) == {"batchItemFailures": []}
    assert [p["to"] for p in pushes()] == [alive_endpoint]
    assert len(api.export()["messages"]) == 1


# --- 9. push chosen, no device ------------------------------------------------------------------


def test_push_without_a_device_leaves_email_only(
    api: Api, push_apps: dict[str, str], notifier: Notifier
) -> None:
    api.patch({"notification_channels": ["email", "push"]})
    stored = write_order(owner=SUBS["customer"])

    response = notifier.deliver(order_body(stored, "order.paid"))

    assert response == {"batchItemFailures": []}
    assert [(m["channel"], m["to"], m["template"]) for m in Outbox().items()] == [
        ("email", BUYER, "en/order.paid.email")
    ]


def test_a_token_the_push_service_refuses_is_400_and_stores_nothing(
    api: Api,
    push_apps: dict[str, str],
    scan_all: Callable[[], dict[str, list[dict[str, Any]]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SNS checks each push service's token rules (APNs tokens are hexadecimal); moto does
    not, so its backend is made to answer as SNS does for such a token."""
    from moto.sns.exceptions import SNSInvalidParameter
    from moto.sns.models import SNSBackend

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise SNSInvalidParameter(
            "Invalid parameter: Token Reason: iOS device tokens must be hexadecimal"
        )

    api.me()
    before = scan_all()
    monkeypatch.setattr(SNSBackend, "create_platform_endpoint", refuse)

    reply = api.add_device({"platform": "ios", "token": "not-hex"})

    problem(reply, 400, "validation-error")
    assert reply.body["errors"][0]["field"] == "token"
    assert scan_all() == before
    assert all_endpoints(push_apps) == []
