"""Every consent and channel combination, through the real notifications consumer over moto.

The unit tests check ``channels_for`` alone; here each combination goes the whole way: a profile
written by ``update_me``, devices registered with their SNS endpoints, orders in the Orders
table, the event handed to NotificationsFunction's handler as an SQS record, and what moto's SES
and SNS received read back through the local outbox.

The expected messages come from ``expected``, a plain restatement of docs/notifications.md
("Consent and channels"), never from the code under test:

- an order event for a signed-in customer: the channels they chose (email if they never chose,
  nothing for an empty choice), each where they have an address: the order's email address,
  their phone, one push per registered device;
- ``cart.abandoned`` for a signed-in customer: the same, at their profile's email address, but
  only while their latest word on marketing is "given";
- a guest's order event: one email to the order's address, whatever else is known;
- ``inventory.low_stock``: one email to the ops mailbox, nothing to customers.

Per combination: the channel choice (never chose, none, each of the 7 non-empty subsets of
email, SMS and push), marketing consent (given, withdrawn, never expressed), and reachability
(a phone or not, no device or two, a profile email or not). The choice and consent are test
parameters (27 cases, each one moto); the 8 reachability combinations run inside each case,
each with its own customer, addresses and orders: 216 customers, each sent their three events.
The ops alert, which no customer's choices touch, is sent once per case: 675 events.
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from dataclasses import dataclass
from enum import Enum
from typing import Any

import pytest
from commerce.catalog.low_stock import low_stock_event
from commerce.customers import devices
from commerce.customers.profiles import Identity, Patch, ensure_profile, update_me
from commerce.events import DomainEvent, stable_event_id
from commerce.store import customers as customer_store
from notifications_world import CREATED_AT, OPS, Notifier, order_body, write_order

from infra.local.outbox import Outbox

pytestmark = pytest.mark.integration

#: The customer's order event and the guest's: both transactional, told apart in the outbox.
CUSTOMER_ORDER_EVENT = "order.shipped"
GUEST_ORDER_EVENT = "order.paid"

CHANNELS = ("email", "sms", "push")
#: None: never chose; (): turned everything off; then every non-empty subset.
CHOICES: list[tuple[str, ...] | None] = [
    None,
    (),
    *(c for size in (1, 2, 3) for c in itertools.combinations(CHANNELS, size)),
]
CONSENTS = ("given", "withdrawn", "never")
PHONES = (False, True)
#: No device, or two (one per push service): push is owed once per device.
DEVICE_COUNTS = (0, 2)
PROFILE_EMAILS = (True, False)


class Kind(Enum):
    """The four audiences and purposes of the matrix."""

    CUSTOMER_ORDER = "customer order (transactional)"
    CART_ABANDONED = "cart.abandoned (marketing)"
    GUEST_ORDER = "guest order (transactional)"
    LOW_STOCK = "inventory.low_stock (operational)"


@dataclass(frozen=True)
class Case:
    """One customer of the matrix: their choices and where they can be reached."""

    choice: tuple[str, ...] | None
    consent: str
    phone: str | None
    endpoints: tuple[str, ...]
    profile_email: str | None
    #: The address given at the customer's checkout (their order's email).
    order_email: str
    #: A guest order placed with the customer's own address (or a fresh one), no account.
    guest_email: str


def expected(kind: Kind, case: Case) -> Counter[tuple[str, str]]:
    """The (channel, to) of every message the documented rules owe, counted."""
    if kind is Kind.LOW_STOCK:
        return Counter({("email", OPS): 1})
    if kind is Kind.GUEST_ORDER:
        return Counter({("email", case.guest_email): 1})
    if kind is Kind.CART_ABANDONED and case.consent != "given":
        return Counter()
    chosen = {"email"} if case.choice is None else set(case.choice)
    email_to = case.order_email if kind is Kind.CUSTOMER_ORDER else case.profile_email
    owed: Counter[tuple[str, str]] = Counter()
    if "email" in chosen and email_to:
        owed["email", email_to] += 1
    if "sms" in chosen and case.phone:
        owed["sms", case.phone] += 1
    if "push" in chosen:
        for endpoint in case.endpoints:
            owed["push", endpoint] += 1
    return owed


def template_event(kind: Kind) -> str:
    return {
        Kind.CUSTOMER_ORDER: CUSTOMER_ORDER_EVENT,
        Kind.CART_ABANDONED: "cart.abandoned",
        Kind.GUEST_ORDER: GUEST_ORDER_EVENT,
        Kind.LOW_STOCK: "inventory.low_stock",
    }[kind]


# --- fixtures -------------------------------------------------------------------------------------


@dataclass
class Consumer:
    """The consumer as deployed, and what moto's SES and SNS received since the last look."""

    notifier: Notifier
    outbox: Outbox
    seen: Counter[tuple[Any, ...]]

    def deliver(self, body: str) -> None:
        """One SQS record to the handler; it must neither fail nor dead-letter it."""
        assert self.notifier.deliver(body) == {"batchItemFailures": []}

    def new_items(self) -> list[dict[str, Any]]:
        """Outbox items sent since the last call (a message sent again counts again)."""
        now = Counter(_identity(item) for item in self.outbox.items())
        fresh = now - self.seen
        self.seen = now
        return [dict(zip(_ITEM_KEYS, key, strict=True)) for key in fresh.elements()]

    def dead_letters(self) -> list[Any]:
        return self.notifier.dead_letters()


_ITEM_KEYS = ("channel", "to", "template", "subject", "body")


def _identity(item: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(item.get(key) for key in _ITEM_KEYS)


@pytest.fixture
def consumer(push_apps: dict[str, str], notifier: Notifier) -> Consumer:
    """The consumer with push applications beside its queues, sender and settings."""
    return Consumer(notifier, Outbox(), Counter())


# --- the world of one combination -----------------------------------------------------------------


def cart_body(owner_sub: str) -> str:
    """``cart.abandoned`` as the reminder publishes it (the consumer reads only the profile)."""
    cart_id = f"cart-{uuid.uuid4().hex[:20]}"
    price = {"amount": 1250, "currency": "CNY"}
    return DomainEvent(
        event_id=stable_event_id(cart_id, CREATED_AT),
        type="cart.abandoned",
        occurred_at=CREATED_AT,
        data={
            "cart_id": cart_id,
            "owner_sub": owner_sub,
            "lines": [{"sku": "MTX-A", "quantity": 2, "unit_price": price}],
            "subtotal": {"amount": 2500, "currency": "CNY"},
        },
    ).to_json()


def low_stock_body(crossing: int) -> str:
    return low_stock_event(
        "MTX-A", available=1, safety_stock=5, crossing=crossing, occurred_at=CREATED_AT
    ).to_json()


PLATFORMS = ("android", "ios")


def make_customer(
    n: int,
    *,
    choice: tuple[str, ...] | None,
    consent: str,
    has_phone: bool,
    device_count: int,
    has_email: bool,
    locale: str | None = None,
) -> tuple[Identity, Case]:
    """Customer number ``n`` with a profile set up through the customers' own use cases."""
    sub = f"c{n:07d}-0000-4000-8000-{uuid.uuid4().hex[:12]}"
    profile_email = f"c{n}@example.com" if has_email else None
    identity = Identity(sub=sub, email=profile_email)
    ensure_profile(identity)
    phone = f"+86138{n:08d}" if has_phone else None
    update_me(
        identity,
        Patch(
            notification_channels=choice,
            phone=phone,
            phone_set=has_phone,
            locale=locale,
            marketing_consent=True if consent in ("given", "withdrawn") else None,
        ),
    )
    if consent == "withdrawn":
        update_me(identity, Patch(marketing_consent=False))
    endpoints = []
    for i in range(device_count):
        device = devices.register(identity, PLATFORMS[i], f"token-{n}-{i}-{uuid.uuid4().hex}")
        assert device.endpoint_arn
        endpoints.append(device.endpoint_arn)
    case = Case(
        choice=choice,
        consent=consent,
        phone=phone,
        endpoints=tuple(endpoints),
        profile_email=profile_email,
        order_email=f"c{n}.checkout@example.com",
        guest_email=profile_email or f"c{n}.guest@example.com",
    )
    return identity, case


def bodies(identity: Identity, case: Case, crossing: int) -> dict[Kind, str]:
    """The event of each kind for this customer, as its producer would publish it."""
    customer_order = write_order(case.order_email, owner=identity.sub)
    guest_order = write_order(case.guest_email, owner=None)
    return {
        Kind.CUSTOMER_ORDER: order_body(customer_order, CUSTOMER_ORDER_EVENT),
        Kind.CART_ABANDONED: cart_body(identity.sub),
        Kind.GUEST_ORDER: order_body(guest_order, GUEST_ORDER_EVENT),
        Kind.LOW_STOCK: low_stock_body(crossing),
    }


def _choice_id(choice: tuple[str, ...] | None) -> str:
    if choice is None:
        return "never-chose"
    return "+".join(choice) or "none"


# --- the matrix -----------------------------------------------------------------------------------


def test_the_matrix_covers_every_choice() -> None:
    assert len(CHOICES) == 9
    assert len(set(CHOICES)) == 9
    assert {c for choice in CHOICES if choice for c in choice} == set(CHANNELS)


@pytest.mark.parametrize("consent", CONSENTS)
@pytest.mark.parametrize("choice", CHOICES, ids=_choice_id)
def test_each_combination_sends_exactly_what_the_rules_allow(
    consumer: Consumer, choice: tuple[str, ...] | None, consent: str
) -> None:
    disagreements: list[str] = []
    reachability = itertools.product(PHONES, DEVICE_COUNTS, PROFILE_EMAILS)
    for n, (has_phone, device_count, has_email) in enumerate(reachability, start=1):
        identity, case = make_customer(
            n,
            choice=choice,
            consent=consent,
            has_phone=has_phone,
            device_count=device_count,
            has_email=has_email,
        )
        for kind, body in bodies(identity, case, crossing=n).items():
            if kind is Kind.LOW_STOCK and n > 1:
                continue  # the ops alert owes nothing to the customer: once per case is enough
            consumer.deliver(body)
            items = consumer.new_items()
            got = Counter((item["channel"], item["to"]) for item in items)
            want = expected(kind, case)
            if got != want:
                disagreements.append(
                    f"{kind.value}, phone={has_phone}, devices={device_count}, "
                    f"profile email={has_email}: sent {dict(got)}, expected {dict(want)}"
                )
            # Each message is the event's own template on its channel, in the default locale
            # (SMS carry no template in the outbox).
            for item in items:
                if item["channel"] != "sms":
                    assert item["template"] == f"en/{template_event(kind)}.{item['channel']}"
    assert disagreements == []
    assert consumer.dead_letters() == []


# --- language -------------------------------------------------------------------------------------


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


@pytest.mark.parametrize(("profile_locale", "other"), [("zh-CN", "en"), ("en", "zh-CN")])
def test_each_event_type_is_in_its_recipients_language(
    consumer: Consumer, profile_locale: str, other: str
) -> None:
    """A customer's messages follow their profile, whatever their checkout said; a guest's
    follow the guest's checkout; ops alerts are in en (no locale stated)."""
    identity, case = make_customer(
        1,
        choice=CHANNELS,
        consent="given",
        has_phone=True,
        device_count=1,
        has_email=True,
        locale=profile_locale,
    )
    customer_order = write_order(case.order_email, owner=identity.sub, locale=other)
    guest_order = write_order(case.guest_email, owner=None, locale=other)
    events = {
        Kind.CUSTOMER_ORDER: (order_body(customer_order, CUSTOMER_ORDER_EVENT), profile_locale),
        Kind.CART_ABANDONED: (cart_body(identity.sub), profile_locale),
        Kind.GUEST_ORDER: (order_body(guest_order, GUEST_ORDER_EVENT), other),
        Kind.LOW_STOCK: (low_stock_body(1), "en"),
    }
    for kind, (body, locale) in events.items():
        consumer.deliver(body)
        items = consumer.new_items()

        assert Counter((i["channel"], i["to"]) for i in items) == expected(kind, case), kind
        for item in items:
            if item["channel"] == "sms":
                assert _has_chinese(item["body"]) is (locale == "zh-CN"), kind
            else:
                assert item["template"] == f"{locale}/{template_event(kind)}.{item['channel']}"
                assert _has_chinese(item["subject"]) is (locale == "zh-CN"), kind


# --- customers without a usable profile -----------------------------------------------------------


@pytest.mark.parametrize("profile", ["never-opened", "being-erased"])
def test_without_a_usable_profile_an_order_mails_its_address_and_a_cart_goes_nowhere(
    consumer: Consumer, profile: str
) -> None:
    identity, case = make_customer(
        1, choice=CHANNELS, consent="given", has_phone=True, device_count=1, has_email=True
    )
    if profile == "never-opened":
        identity = Identity(sub=f"c-unknown-{uuid.uuid4().hex}")
    else:
        customer_store.mark_erasing(identity.sub)
    order = write_order(case.order_email, owner=identity.sub)

    consumer.deliver(order_body(order, CUSTOMER_ORDER_EVENT))
    assert Counter((i["channel"], i["to"]) for i in consumer.new_items()) == Counter(
        {("email", case.order_email): 1}
    )

    consumer.deliver(cart_body(identity.sub))
    assert consumer.new_items() == []


def test_consent_given_again_after_a_withdrawal_allows_marketing_again(
    consumer: Consumer,
) -> None:
    identity, case = make_customer(
        1, choice=("email",), consent="withdrawn", has_phone=False, device_count=0, has_email=True
    )
    consumer.deliver(cart_body(identity.sub))
    assert consumer.new_items() == []

    update_me(identity, Patch(marketing_consent=True))
    consumer.deliver(cart_body(identity.sub))

    assert [(i["channel"], i["to"]) for i in consumer.new_items()] == [
        ("email", case.profile_email)
    ]
