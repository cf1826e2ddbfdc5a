"""Customer profile, devices, export, erasure and support's view through the handler, on moto."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer
from commerce import clock
from commerce.customers import privacy as privacy_service
from commerce.domain import privacy
from commerce.domain.consent import MARKETING, current_consent
from commerce.domain.coupons import Coupon, CouponKind
from commerce.domain.money import Money
from commerce.domain.points import LedgerEntry, PointsReason, points_earned
from commerce.orders import fulfilment
from commerce.payments.sandbox import SandboxProvider
from commerce.store import coupons as coupon_store
from commerce.store import customers as customer_store
from commerce.store import notifications as sent_records
from commerce.store import orders as store
from commerce.store import points as points_store
from commerce.store.transactions import LabelledTransaction
from orders_world import EVENTS, SUBS, Context, Reply, Shop, deliver, event, invoke, pay, problem

pytestmark = pytest.mark.integration

SKU = "TEA-CUS-1"
ADDRESS = {
    "name": "Zhang Xiaoming",
    "line1": "77 Huaihai Middle Road",
    "line2": "Flat 3409",
    "city": "Shanghai",
    "region": "Shanghai",
    "postal_code": "200021",
    "country": "CN",
    "phone": "+8613911112222",
}
OTHER_ADDRESS = {
    "name": "Wang Fang",
    "line1": "12 Zhongshan Road",
    "city": "Nanjing",
    "postal_code": "210005",
    "country": "CN",
    "phone": "+8613655556666",
}
PHONE = "+8613700001111"
DEVICE_TOKEN = "apns-device-token-7f3e9a"


@pytest.fixture
def pool(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
    """A user pool on moto holding the customer, which erasure disables."""
    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    pool_id = cognito.create_user_pool(PoolName="customers-test")["UserPool"]["Id"]
    for who in ("customer", "other"):
        cognito.admin_create_user(UserPoolId=pool_id, Username=who)
    monkeypatch.setattr(privacy_service, "user_pool_id", lambda: pool_id)
    return cognito, pool_id


@pytest.fixture
def session(pool: tuple[Any, str]) -> Callable[[], bool]:
    """The customer signed in once (a password, an app client): whether their refresh token
    still gets new tokens, which erasure's global sign-out must end."""
    cognito, pool_id = pool
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="shop-app",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    password = "Tea-for-two-2030"
    cognito.admin_set_user_password(
        UserPoolId=pool_id, Username="customer", Password=password, Permanent=True
    )
    signed_in = cognito.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "customer", "PASSWORD": password},
    )
    refresh_token = signed_in["AuthenticationResult"]["RefreshToken"]

    def refreshes() -> bool:
        try:
            cognito.admin_initiate_auth(
                UserPoolId=pool_id,
                ClientId=client_id,
                AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": refresh_token},
            )
        except cognito.exceptions.NotAuthorizedException:
            return False
        return True

    return refreshes


@pytest.fixture
def shop(shop: Shop, create_product: Callable[..., Any]) -> Shop:
    create_product((SKU, 50), price=5000)
    return shop


class Api:
    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def call(
        self,
        sample: str,
        who: str | None = "customer",
        body: Any = None,
        params: dict[str, str] | None = None,
        raw_body: str | None = None,
    ) -> Reply:
        return invoke(
            self.module, event(sample, who=who, body=body, params=params, raw_body=raw_body)
        )

    def me(self, who: str | None = "customer") -> Reply:
        return self.call("customers_get_me.json", who)

    def patch(self, body: Any, who: str | None = "customer") -> Reply:
        return self.call("customers_patch_me.json", who, body=body)

    def export(self, who: str | None = "customer") -> Reply:
        return self.call("customers_export.json", who)

    def erase(self, who: str | None = "customer") -> Reply:
        return self.call("customers_erase.json", who)

    def add_device(self, body: Any, who: str | None = "customer") -> Reply:
        return self.call("customers_add_device.json", who, body=body)

    def remove_device(self, device_id: str, who: str | None = "customer") -> Reply:
        return self.call("customers_remove_device.json", who, params={"device_id": device_id})

    def admin(self, customer_id: str, who: str | None = "support") -> Reply:
        return self.call("customers_admin_get.json", who, params={"customer_id": customer_id})

    def points(self, who: str | None = "customer", query: dict[str, str] | None = None) -> Reply:
        return invoke(self.module, event("customers_points.json", who=who, query=query))

    def add_address(self, body: Any, who: str | None = "customer") -> Reply:
        return self.call("customers_add_address.json", who, body=body)


def _ticket(
    who: str = "customer",
    message: str = "The lid of my teapot is chipped.",
    subject: str = "Chipped teapot lid",
) -> str:
    """A ticket the customer opened, through the tickets use case (TicketsFunction's own)."""
    from commerce.http.auth import Caller
    from commerce.tickets import service as tickets
    from commerce.tickets.schemas import TicketIn

    caller = Caller(sub=SUBS[who], groups=frozenset({"customer"}))
    opened = tickets.open_ticket(caller, TicketIn(subject=subject, message=message))
    return opened.ticket_id


@pytest.fixture
def api(dynamodb: Any, push_apps: dict[str, str], customers_module: ModuleType) -> Api:
    return Api(customers_module)


def _order(shop: Shop, who: str = "customer") -> str:
    cart_id, _ = shop.cart_with({SKU: 2}, who=who)
    address = ADDRESS if who == "customer" else OTHER_ADDRESS
    reply = invoke(
        shop.cart,
        event("cart_set_shipping_address.json", who=who, body=address, params={"cart_id": cart_id}),
    )
    assert reply.status == 200, reply.body
    placed = shop.place(cart_id, who=who, email=None)
    assert placed.status == 202, placed.body
    order_id: str = placed.body["order_id"]
    return order_id


def _delivered(shop: Shop, who: str = "customer") -> str:
    order_id = _order(shop, who)
    deliver(shop, order_id)
    return order_id


# --- profile ----------------------------------------------------------------------------------


def test_first_call_creates_the_profile_from_the_claims(api: Api, scan_all: Any) -> None:
    reply = api.me()
    assert reply.status == 200, reply.body
    assert reply.body["customer_id"] == SUBS["customer"]
    assert reply.body["email"] == "customer@example.com"
    assert reply.body["locale"] == "en"
    assert reply.body["marketing_consent"] is False
    assert reply.body["notification_channels"] is None
    again = api.me()
    assert again.body == reply.body
    profiles = [
        item
        for items in scan_all().values()
        for item in items
        if item.get("sk", {}).get("S") == "PROFILE"
    ]
    assert len(profiles) == 1


def test_me_shows_the_tier_and_the_points(api: Api, shop: Shop) -> None:
    first = api.me()
    assert first.status == 200, first.body
    assert (first.body["tier"], first.body["points_balance"]) == ("member", 0)
    assert first.body["membership"] == {
        "tier": "member",
        "discount_bp": 500,
        "price_bp": 9500,
        "benefits": [],
        "trailing_spend": {"amount": 0, "currency": "CNY"},
        "next_tier": {"tier": "silver", "spend_needed": {"amount": 100_000, "currency": "CNY"}},
    }
    order_id = _delivered(shop)  # 100.00 at the member price: 95.00, shipping free
    stored = store.load_order(order_id)
    assert stored is not None
    paid = stored.order.totals.total.amount
    after = api.me().body
    assert after["points_balance"] == points_earned(stored.order.totals) == paid // 100
    assert after["membership"]["trailing_spend"]["amount"] == paid
    assert after["membership"]["next_tier"]["spend_needed"]["amount"] == 100_000 - paid
    assert api.patch({"locale": "zh-CN"}).body["points_balance"] == after["points_balance"]


def test_the_points_ledger_is_newest_first_a_page_at_a_time(api: Api) -> None:
    api.me()
    for n, delta in enumerate((100, -30, 50)):
        entry = LedgerEntry(delta, PointsReason.ADJUSTED, None, clock.now() + n, ref=f"r{n}")
        assert points_store.record_once(SUBS["customer"], entry)
    first = api.points(query={"limit": "2"})
    assert first.status == 200, first.body
    assert first.body["balance"] == 120
    assert [(e["delta"], e["ref"]) for e in first.body["items"]] == [(50, "r2"), (-30, "r1")]
    assert first.body["items"][0]["reason"] == "adjusted"
    token = first.body["next_token"]
    rest = api.points(query={"limit": "2", "next_token": token})
    assert [e["delta"] for e in rest.body["items"]] == [100]
    assert "next_token" not in rest.body
    problem(api.points("other", query={"next_token": token}), 400, "validation-error")
    problem(api.points(query={"limit": "0"}), 400, "validation-error")
    assert api.points("other").body == {"balance": 0, "items": []}


def test_unauthenticated_is_401(api: Api) -> None:
    for reply in (
        api.points(None),
        api.me(None),
        api.patch({"locale": "en"}, None),
        api.export(None),
        api.erase(None),
        api.add_device({"platform": "ios", "token": "t"}, None),
        api.remove_device("0" * 32, None),
        api.admin(SUBS["customer"], None),
    ):
        problem(reply, 401, "unauthorized")


def test_patch_changes_only_what_is_sent(api: Api) -> None:
    reply = api.patch(
        {"notification_channels": ["sms", "email"], "locale": "zh-CN", "phone": PHONE}
    )
    assert reply.status == 200, reply.body
    assert reply.body["notification_channels"] == ["sms", "email"]
    assert reply.body["locale"] == "zh-CN"
    assert reply.body["phone"] == PHONE
    assert reply.body["marketing_consent"] is False
    cleared = api.patch({"phone": None, "notification_channels": []})
    assert cleared.status == 200, cleared.body
    assert "phone" not in cleared.body or cleared.body["phone"] is None
    assert cleared.body["notification_channels"] == []
    assert cleared.body["locale"] == "zh-CN"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"nickname": "x"}, "nickname"),
        ({"marketing_consent": "yes"}, "marketing_consent"),
        ({"notification_channels": ["fax"]}, "notification_channels"),
        ({"locale": "fr"}, "locale"),
        ({"phone": "13800138000"}, "phone"),
        ({"email": "new@example.com"}, "email"),
    ],
)
def test_bad_fields_are_400(api: Api, body: dict[str, Any], field: str) -> None:
    reply = api.patch(body)
    problem(reply, 400, "validation-error")
    assert any(field in e["field"] for e in reply.body["errors"]), reply.body


def test_consent_changes_append_history(api: Api) -> None:
    assert api.patch({"marketing_consent": True}).body["marketing_consent"] is True
    assert api.patch({"marketing_consent": True}).status == 200  # no change: no record
    assert api.patch({"marketing_consent": False}).body["marketing_consent"] is False
    history = customer_store.consent_history(SUBS["customer"])
    assert [(r.what, r.action.value, r.source) for r in history] == [
        (MARKETING, "given", "api"),
        (MARKETING, "withdrawn", "api"),
    ]
    assert current_consent(history, MARKETING) is False
    assert api.patch({"marketing_consent": True}).status == 200
    history = customer_store.consent_history(SUBS["customer"])
    assert len(history) == 3
    assert current_consent(history, MARKETING) is True
    assert api.me().body["marketing_consent"] is True


def test_preferences_for_the_notifications(api: Api) -> None:
    from commerce.customers.profiles import preferences_for
    from commerce.domain.consent import Channel

    assert preferences_for(SUBS["customer"]) is None
    api.patch({"notification_channels": ["push"], "locale": "zh-CN", "marketing_consent": True})
    api.add_device({"platform": "android", "token": DEVICE_TOKEN})
    found = preferences_for(SUBS["customer"])
    assert found is not None
    assert found.locale == "zh-CN"
    assert found.channels == frozenset({Channel.PUSH})
    assert current_consent(found.consents, MARKETING) is True
    assert [d.device_token for d in found.devices] == [DEVICE_TOKEN]
    assert found.rules().has_device
    assert found.rules().has_email


# --- devices ----------------------------------------------------------------------------------


def test_devices(api: Api) -> None:
    added = api.add_device({"platform": "ios", "token": DEVICE_TOKEN})
    assert added.status == 201, added.body
    device_id = added.body["device_id"]
    assert api.add_device({"platform": "ios", "token": DEVICE_TOKEN}).body == added.body
    problem(api.add_device({"platform": "symbian", "token": "t"}), 400, "validation-error")
    problem(api.add_device({"platform": "ios"}), 400, "validation-error")
    problem(api.remove_device(device_id, who="other"), 404, "not-found")
    problem(api.remove_device("not-a-device"), 404, "not-found")
    removed = api.remove_device(device_id)
    assert removed.status == 204, removed.body
    problem(api.remove_device(device_id), 404, "not-found")


# --- support ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["support", "ops", "admin"])
def test_support_view(api: Api, shop: Shop, who: str) -> None:
    api.me()
    created = [_order(shop) for _ in range(6)]
    adjusted = LedgerEntry(320, PointsReason.ADJUSTED, None, clock.now())
    assert points_store.record_once(SUBS["customer"], adjusted)
    reply = api.admin(SUBS["customer"], who)
    assert reply.status == 200, reply.body
    assert reply.body["profile"]["email"] == "customer@example.com"
    assert reply.body["tier"] == "member"  # nothing delivered: no trailing spend
    assert reply.body["points"] == 320
    assert [o["order_id"] for o in reply.body["recent_orders"]] == list(reversed(created))[:5]
    assert reply.body["tickets"] == []
    assert reply.body["recent_contacts"] == []


def test_support_view_adds_tickets_and_recent_contacts(api: Api, shop: Shop) -> None:
    api.me()
    first, second = _ticket(), _ticket(message="Still waiting for an answer.")
    _ticket(who="other")
    _message_sent(SUBS["customer"], "ord-1")
    _message_sent(SUBS["other"], "ord-2")
    view = api.admin(SUBS["customer"]).body
    assert [t["ticket_id"] for t in view["tickets"]] == [second, first]
    assert view["tickets"][0]["status"] == "open"
    assert view["tickets"][0]["awaiting_support_since"] is not None
    assert [(c["channel"], c["template"], c["ref"]) for c in view["recent_contacts"]] == [
        ("email", "en/order.paid.email", "ord-1")
    ]
    assert view["recent_contacts"][0]["sent_at"].endswith("Z")


def test_support_view_roles_and_missing(api: Api) -> None:
    api.me()
    problem(api.admin(SUBS["customer"], "customer"), 403, "forbidden")
    problem(api.admin(SUBS["other"]), 404, "not-found")
    problem(api.admin("bad id!"), 404, "not-found")


# --- export -----------------------------------------------------------------------------------


def test_export_holds_every_section(api: Api, shop: Shop, sandbox: SandboxProvider) -> None:
    api.patch({"marketing_consent": True, "phone": PHONE})
    api.add_device({"platform": "web", "token": DEVICE_TOKEN})
    order_id = _delivered(shop)  # delivery earns points
    _message_sent(SUBS["customer"], order_id)
    redeemed = LedgerEntry(-40, PointsReason.REDEEMED, order_id, clock.now() + 60, ref="r1")
    assert points_store.record_once(SUBS["customer"], redeemed)
    stored = store.load_order(order_id)
    assert stored is not None
    earned = points_earned(stored.order.totals)
    assert earned > 40
    reply = api.export()
    assert reply.status == 200, reply.body
    doc = reply.body
    assert set(privacy.EXPORT_SECTIONS) <= set(doc)
    assert doc["schema_version"] == privacy.EXPORT_SCHEMA_VERSION
    assert doc["profile"]["phone"] == PHONE
    assert [(c["what"], c["action"]) for c in doc["consents"]] == [(MARKETING, "given")]
    assert [d["device_token"] for d in doc["devices"]] == [DEVICE_TOKEN]
    assert doc["addresses"][0]["line1"] == ADDRESS["line1"]
    assert [o["order_id"] for o in doc["orders"]] == [order_id]
    assert doc["orders"][0]["email"] == "customer@example.com"
    assert doc["points"]["balance"] == earned - 40
    assert [(e["reason"], e["delta"], e["order_id"]) for e in doc["points"]["ledger"]] == [
        ("earned", earned, order_id),
        ("redeemed", -40, order_id),
    ]
    assert doc["points"]["ledger"][1]["ref"] == "r1"
    assert doc["points"]["ledger"][1]["at"] == clock.iso(redeemed.at)
    assert [(m["channel"], m["template"], m["ref"]) for m in doc["messages"]] == [
        ("email", "en/order.paid.email", order_id)
    ]
    assert doc["messages"][0]["sent_at"] is not None
    assert not privacy.find_values(doc, ["tok_ok"])  # payment tokens stay inside
    assert doc["tickets"] == []


def test_export_holds_the_address_book_and_tickets(api: Api, shop: Shop) -> None:
    added = api.add_address({**OTHER_ADDRESS, "label": "Mum"})
    assert added.status == 201, added.body
    _order(shop)  # shipped to ADDRESS, which is not in the book
    ticket_id = _ticket()
    doc = api.export().body
    assert doc["schema_version"] == 2
    book, ordered = doc["addresses"]
    assert (book["source"], book["address_id"], book["label"], book["default"]) == (
        "address_book",
        added.body["address_id"],
        "Mum",
        True,
    )
    assert (ordered["source"], ordered["line1"]) == ("order", ADDRESS["line1"])
    (ticket,) = doc["tickets"]
    assert (ticket["ticket_id"], ticket["subject"]) == (ticket_id, "Chipped teapot lid")
    assert [(m["from"], m["message"]) for m in ticket["messages"]] == [
        ("customer", "The lid of my teapot is chipped.")
    ]

    assert not any(k.startswith("gsi") or k in ("pk", "sk") for k in doc["profile"])


# --- erasure ----------------------------------------------------------------------------------


def _customers_items(found: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return next(items for table, items in found.items() if "Customers" in table)


def _tombstones(found: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [_plain(i) for i in _customers_items(found) if i["pk"]["S"].startswith("ERASED#")]


def _carts_of(found: dict[str, list[dict[str, Any]]], sub: str) -> list[dict[str, Any]]:
    items = next(items for table, items in found.items() if "Carts" in table)
    return [i for i in items if sub in json.dumps(i)]


def test_erasure_with_no_open_order_is_done_at_once(
    api: Api, shop: Shop, pool: tuple[Any, str], session: Callable[[], bool], scan_all: Any
) -> None:
    """204, and nothing of the customer's waits: a cart still holding stock gives it back."""
    api.me()
    delivered = _delivered(shop)
    shop.cart_with({SKU: 3}, who="customer")
    assert shop.stock(SKU)["reserved"] == 3
    assert session()

    reply = api.erase()
    assert reply.status == 204, reply.body
    assert reply.body is None

    assert shop.stock(SKU)["reserved"] == 0
    found = scan_all()
    assert _carts_of(found, SUBS["customer"]) == []
    assert privacy.is_anonymised(_plain(shop.order_item(delivered)))
    # The sign-in is disabled and every session ended: the refresh token no longer works.
    cognito, pool_id = pool
    assert cognito.admin_get_user(UserPoolId=pool_id, Username="customer")["Enabled"] is False
    assert not session()
    # The tombstone remembers the subject by a digest alone.
    (tombstone,) = _tombstones(found)
    assert tombstone["status"] == "erased"
    assert SUBS["customer"] not in json.dumps(tombstone, default=str)


def _calls_of_the_erased(api: Api, shop: Shop, tickets: ModuleType, order_id: str) -> list[Reply]:
    """What the erased customer's token (its claims as fresh as ever) asks of every room."""
    return [
        api.me(),
        api.patch({"marketing_consent": True}),
        api.export(),
        api.erase(),
        api.points(),
        api.add_address(ADDRESS),
        api.add_device({"platform": "ios", "token": DEVICE_TOKEN}),
        invoke(shop.cart, event("cart_create.json", who="customer")),
        shop.get(order_id, who="customer"),
        shop.list("customer"),
        shop.cancel(order_id, who="customer"),
        invoke(
            tickets,
            event("tickets_open.json", who="customer", body={"subject": "Hi", "message": "Me"}),
        ),
        invoke(tickets, event("tickets_list.json", who="customer")),
    ]


def _found_by_email(shop: Shop, email: str) -> list[str]:
    reply = invoke(shop.orders, event("orders_search.json", who="support", query={"email": email}))
    assert reply.status == 200, reply.body
    return [item["order_id"] for item in reply.body["items"]]


def _sweep_later(sweeper: ModuleType, monkeypatch: pytest.MonkeyPatch, seconds: int) -> None:
    """One run of the sweeper's handler, ``seconds`` from now."""
    later = clock.now() + seconds
    monkeypatch.setattr(clock, "now", lambda: later)
    sweeper.lambda_handler(
        json.loads((EVENTS / "sweeper_schedule.json").read_text()), Context(60_000)
    )


def test_erasure_with_an_open_order_is_scheduled_and_its_delivery_completes_it(
    api: Api,
    shop: Shop,
    sandbox: SandboxProvider,
    pool: tuple[Any, str],
    session: Callable[[], bool],
    scan_all: Any,
    tickets_module: ModuleType,
    sweeper_module: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api.patch({"marketing_consent": True, "phone": PHONE, "notification_channels": ["sms"]})
    api.add_address(OTHER_ADDRESS)
    closed = _delivered(shop)
    still_open = _order(shop)
    pay(still_open)
    values = _personal_values(api, shop)

    reply = api.erase()
    assert reply.status == 202, reply.body
    assert reply.body == {"status": "scheduled", "order_ids": [still_open]}

    # Sign-in and marketing stop at once; everything but the open order is erased now.
    cognito, pool_id = pool
    assert cognito.admin_get_user(UserPoolId=pool_id, Username="customer")["Enabled"] is False
    assert not session()
    from commerce.customers.profiles import preferences_for

    assert preferences_for(SUBS["customer"]) is None
    assert privacy.is_anonymised(_plain(shop.order_item(closed)))
    waiting = _plain(shop.order_item(still_open))
    assert waiting["owner_sub"] == SUBS["customer"]  # delivery still needs its address
    assert waiting["erase_on_close"] is True
    assert _found_by_email(shop, "customer@example.com") == [still_open]
    (tombstone,) = _tombstones(scan_all())
    assert (tombstone["status"], tombstone["pending_order_ids"]) == ("scheduled", {still_open})

    # Every token of theirs is refused, and re-creates nothing.
    before = scan_all()
    for refused in _calls_of_the_erased(api, shop, tickets_module, still_open):
        problem(refused, 401, "unauthorized")
    assert scan_all() == before

    # The sweeper leaves a scheduled erasure alone while its order is open.
    _sweep_later(sweeper_module, monkeypatch, privacy_service.RESUME_AFTER_SECONDS + 1)
    assert _tombstones(scan_all())[0]["status"] == "scheduled"

    # The delivery anonymises the order in the move that delivers it.
    assert shop.ship(still_open).status == 200
    fulfilment.mark_delivered(still_open, clock.now(), f"evt-{still_open}")
    delivered = _plain(shop.order_item(still_open))
    assert delivered["status"] == "DELIVERED"
    assert privacy.is_anonymised(delivered)
    assert not {"gsi1pk", "erase_on_close", "payment_token", "tracking_number"} & set(delivered)
    assert _found_by_email(shop, "customer@example.com") == []
    assert points_store.balance_of(SUBS["customer"]) == 0  # nothing earned by nobody

    # The sweeper's next pass finishes it: the tombstone forgets the subject.
    _sweep_later(sweeper_module, monkeypatch, 60)
    end = scan_all()
    (tombstone,) = _tombstones(end)
    assert tombstone["status"] == "erased"
    assert "sub" not in tombstone
    assert "pending_order_ids" not in tombstone
    assert privacy.find_values(end, values) == []
    problem(api.me(), 401, "unauthorized")


def test_the_sweeper_anonymises_an_open_order_whose_close_missed_it(
    api: Api,
    shop: Shop,
    sandbox: SandboxProvider,
    pool: tuple[Any, str],
    scan_all: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The backstop: an order closed by a write that did not anonymise it (an older version of
    the code, a repair by hand) is anonymised by the sweeper, which then finishes."""
    still_open = _order(shop)
    assert api.erase().status == 202
    # Closed behind the order book's back: status CANCELLED, the mark still on it.
    shop.dynamodb.update_item(
        TableName=next(t for t in scan_all() if "Orders" in t),
        Key={"pk": {"S": f"ORDER#{still_open}"}, "sk": {"S": "ORDER"}},
        UpdateExpression="SET #s = :s, history = list_append(history, :h)",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":s": {"S": "CANCELLED"},
            ":h": {"L": [{"M": {"status": {"S": "CANCELLED"}, "at": {"N": str(clock.now())}}}]},
        },
    )
    later = clock.now() + privacy_service.RESUME_AFTER_SECONDS + 1
    assert privacy_service.resume_erasures(later) == 1
    assert privacy.is_anonymised(_plain(shop.order_item(still_open)))
    assert _tombstones(scan_all())[0]["status"] == "erased"


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """A raw DynamoDB item as plain values, as the privacy rules read a stored order."""
    deserializer = TypeDeserializer()
    return {name: deserializer.deserialize(value) for name, value in item.items()}


def _personal_values(api: Api, shop: Shop) -> set[str]:
    values: set[str] = set()
    doc = api.export().body
    values |= privacy.personal_values(privacy.RecordKind.PROFILE, doc["profile"])
    for device in doc["devices"]:
        values |= privacy.personal_values(privacy.RecordKind.DEVICE, device)
    for address in doc["addresses"]:
        values |= privacy.personal_values(privacy.RecordKind.ADDRESS, address)
    for ticket in doc["tickets"]:
        values |= privacy.personal_values(privacy.RecordKind.TICKET, ticket)
        for message in ticket["messages"]:
            values |= privacy.personal_values(privacy.RecordKind.TICKET_MESSAGE, message)
    for item in shop.order_items():
        plain = _plain(item)
        if plain.get("owner_sub") == SUBS["customer"]:
            values |= privacy.personal_values(privacy.RecordKind.ORDER, plain)
    values.discard(privacy.ERASED_TEXT)
    # The sandbox's payment token is the same for everyone: not the customer's to find.
    values.discard("tok_ok")
    return values


COUPON_CODE = "ONCE-EACH"


def _message_sent(sub: str, ref: str) -> None:
    """A message to the customer, recorded as the notifications consumer records it."""
    summary = sent_records.MessageSummary(sub, "email", "en/order.paid.email", "order.paid", ref)
    key = f"dedupe-{sub}-{ref}"
    now = clock.now()
    assert sent_records.claim(key, now=now, stale_after=60, summary=summary)
    assert sent_records.mark_sent(key, claimed_at=now, now=now)


def _use_coupon(sub: str) -> None:
    """One use of a once-per-customer coupon by ``sub``, as checkout consumes it."""
    coupon = Coupon(COUPON_CODE, CouponKind.AMOUNT, amount=Money(500), per_customer_limit=1)
    if coupon_store.load(COUPON_CODE) is None:
        assert coupon_store.create(coupon, at="2025-06-01T00:00:00Z") is not None
    tx = LabelledTransaction()
    coupon_store.consume(tx, coupon, sub, clock.now())
    assert not tx.commit()
    assert coupon_store.uses_by(COUPON_CODE, sub) == 1


def _totals(shop: Shop) -> dict[str, Any]:
    return {
        item["order_id"]["S"]: (item["totals"], item["lines"], item["status"])
        for item in shop.order_items()
    }


def test_erasure_leaves_no_personal_value_anywhere(
    api: Api, shop: Shop, sandbox: SandboxProvider, pool: tuple[Any, str], scan_all: Any
) -> None:
    api.patch({"marketing_consent": True, "phone": PHONE, "notification_channels": ["sms"]})
    api.add_device({"platform": "ios", "token": DEVICE_TOKEN})
    delivered = _delivered(shop)
    cancelled = _order(shop)
    assert shop.cancel(cancelled, who="customer").status == 200
    others = _order(shop, who="other")
    _use_coupon(SUBS["customer"])
    _use_coupon(SUBS["other"])
    _message_sent(SUBS["customer"], "ord-erased")
    _message_sent(SUBS["other"], "ord-kept")
    mum = {
        "name": "Zhang Lan",
        "line1": "5 Lotus Lane",
        "city": "Suzhou",
        "postal_code": "215000",
        "country": "CN",
        "phone": "+8613522223333",
        "label": "Mum",
    }
    book = api.add_address(mum)
    assert book.status == 201, book.body
    ticket_id = _ticket(message="Please call me on the number I gave.")
    kept_ticket = _ticket(who="other", message="Where is my parcel?", subject="Late parcel")
    values = _personal_values(api, shop)
    assert {SUBS["customer"], "customer@example.com", PHONE, DEVICE_TOKEN} <= values
    assert {"5 Lotus Lane", "Chipped teapot lid", "Please call me on the number I gave."} <= values
    assert ADDRESS["line1"] in values
    assert ADDRESS["postal_code"] in values
    totals = _totals(shop)

    reply = api.erase()
    assert reply.status == 204, reply.body
    assert reply.body is None

    hits = privacy.find_values(scan_all(), values)
    assert hits == [], hits
    assert _totals(shop).keys() == totals.keys()
    for order_id, (before_totals, before_lines, before_status) in totals.items():
        after = _totals(shop)[order_id]
        assert after == (before_totals, before_lines, before_status)
    for order_id in (delivered, cancelled):
        item = _plain(shop.order_item(order_id))
        assert privacy.is_anonymised(item)
        assert item["shipping_address"]["city"] == "Shanghai"
        assert "gsi1pk" not in item
    assert shop.order_item(others)["owner_sub"]["S"] == SUBS["other"]
    # The coupon keeps its count; only the customer's own counter went.
    stored_coupon = coupon_store.load(COUPON_CODE)
    assert stored_coupon is not None
    assert stored_coupon.uses_total == 2
    assert coupon_store.uses_by(COUPON_CODE, SUBS["customer"]) == 0
    assert coupon_store.uses_by(COUPON_CODE, SUBS["other"]) == 1
    assert sent_records.customer_messages(SUBS["customer"]) == []
    from commerce.store import tickets as ticket_store

    assert ticket_store.load_ticket(ticket_id) is None
    assert ticket_store.load_ticket(kept_ticket) is not None
    assert ticket_store.messages_of(ticket_id) == []
    assert [m["ref"] for m in sent_records.customer_messages(SUBS["other"])] == ["ord-kept"]
    cognito, pool_id = pool
    assert cognito.admin_get_user(UserPoolId=pool_id, Username="customer")["Enabled"] is False
    assert cognito.admin_get_user(UserPoolId=pool_id, Username="other")["Enabled"] is True
    # Staff still read the orders; they still add up.
    staff = shop.get(delivered, who="support")
    assert staff.status == 200
    assert staff.body["email"] == privacy.ERASED_EMAIL


def test_an_erasure_that_failed_midway_is_finished_by_the_sweeper(
    api: Api,
    shop: Shop,
    sandbox: SandboxProvider,
    pool: tuple[Any, str],
    scan_all: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tombstone is written first: from then on the account is erased as far as its tokens
    go (a retry is 401 like any other call), and the sweeper completes what the request left."""
    api.patch({"marketing_consent": True, "phone": PHONE})
    api.add_device({"platform": "ios", "token": DEVICE_TOKEN})
    _delivered(shop)
    _delivered(shop)
    values = _personal_values(api, shop)

    # The first attempt dies after anonymising one order.
    real = store.settle_for_erasure
    calls = {"n": 0}

    def flaky(order_id: str, sub: str, *, updated_at: str) -> store.Settled:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the function timed out")
        return real(order_id, sub, updated_at=updated_at)

    monkeypatch.setattr(store, "settle_for_erasure", flaky)
    failed = api.erase()
    assert failed.status == 500
    monkeypatch.setattr(store, "settle_for_erasure", real)
    half = scan_all()
    assert privacy.find_values(half, values)  # half-applied so far
    # Already refused, and nothing goes out to them while it is half-erased.
    problem(api.erase(), 401, "unauthorized")
    problem(api.patch({"locale": "zh-CN"}), 401, "unauthorized")
    from commerce.customers.profiles import preferences_for

    assert preferences_for(SUBS["customer"]) is None

    now = clock.now()
    assert privacy_service.resume_erasures(now) == 0  # the request may still be running
    assert privacy_service.resume_erasures(now + privacy_service.RESUME_AFTER_SECONDS + 1) == 1
    end = scan_all()
    assert privacy.find_values(end, values) == []
    assert privacy_service.resume_erasures(now + 3600) == 0  # and again: nothing left to do
    assert scan_all() == end
