"""The cart as a value: lines and limits, hold deltas, addresses, guest tokens, access, claims."""

from __future__ import annotations

import hashlib
import secrets

import pytest
from commerce.domain.access import Reach
from commerce.domain.cart import (
    MAX_LINES,
    MAX_QUANTITY_PER_LINE,
    Cart,
    CartError,
    CartLine,
    ClaimOutcome,
    InvalidQuantity,
    TooManyLines,
    cart_access,
    claim,
    new_cart,
)
from commerce.domain.guest_tokens import (
    GUEST_TOKEN_BYTES,
    guest_token_matches,
    hash_guest_token,
    issue_guest_token,
    order_token_for,
)
from commerce.domain.money import Money
from commerce.domain.pricing import price
from commerce.domain.shipping_address import (
    COUNTRIES,
    InvalidAddress,
    ShippingAddress,
    address_errors,
    normalise_phone,
    parse_shipping_address,
)
from commerce.errors import FieldError
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

NOW = 1_700_000_000
TOKEN = "t" * 43
TOKEN_HASH = hashlib.sha256(TOKEN.encode()).hexdigest()
PRICE = Money(1999)


def guest_cart() -> Cart:
    return new_cart("c1", owner=None, guest_token_hash=TOKEN_HASH)


def owned_cart(sub: str = "alice") -> Cart:
    return new_cart("c2", owner=sub, guest_token_hash=None)


# --- Lines and hold deltas --------------------------------------------------------------------


def test_a_new_cart_is_empty() -> None:
    cart = guest_cart()
    assert cart.is_empty
    assert cart.is_guest
    assert cart.lines == ()
    assert price(cart.price_lines()).totals.total == Money(0)


def test_set_quantity_adds_changes_and_removes_with_the_hold_delta() -> None:
    cart, delta = guest_cart().set_quantity("SKU-1", 2, PRICE, NOW + 900)
    assert delta == 2
    assert cart.line("SKU-1") == CartLine("SKU-1", 2, PRICE, NOW + 900)
    cart, delta = cart.set_quantity("SKU-1", 5, Money(1899), NOW + 1000)
    assert delta == 3
    assert cart.line("SKU-1") == CartLine("SKU-1", 5, Money(1899), NOW + 1000)
    cart, delta = cart.set_quantity("SKU-1", 1, PRICE, NOW + 1100)
    assert delta == -4
    cart, delta = cart.set_quantity("SKU-1", 0, PRICE, None)
    assert delta == -1
    assert cart.is_empty


def test_setting_an_absent_line_to_zero_changes_nothing() -> None:
    cart = guest_cart()
    change = cart.set_quantity("SKU-1", 0, PRICE, None)
    assert change.cart == cart
    assert change.hold_delta == 0


def test_lines_keep_their_place() -> None:
    cart = guest_cart()
    for sku in ("A", "B", "C"):
        cart = cart.set_quantity(sku, 1, PRICE, NOW + 1).cart
    cart = cart.set_quantity("B", 4, PRICE, NOW + 2).cart
    assert [line.sku for line in cart.lines] == ["A", "B", "C"]


def test_the_original_cart_is_untouched() -> None:
    cart = guest_cart()
    cart.set_quantity("SKU-1", 2, PRICE, NOW)
    assert cart.is_empty


@pytest.mark.parametrize("quantity", [-1, MAX_QUANTITY_PER_LINE + 1, True, 1.0, "2"])
def test_rejects_bad_quantities(quantity: object) -> None:
    with pytest.raises(InvalidQuantity) as raised:
        guest_cart().set_quantity("SKU-1", quantity, PRICE, NOW)  # type: ignore[arg-type]
    assert raised.value.field == "quantity"


def test_accepts_the_maximum_quantity() -> None:
    change = guest_cart().set_quantity("SKU-1", MAX_QUANTITY_PER_LINE, PRICE, NOW)
    assert change.hold_delta == MAX_QUANTITY_PER_LINE == 99


@pytest.mark.parametrize("sku", ["", "-x", "has space", "x" * 65])
def test_rejects_bad_skus(sku: str) -> None:
    with pytest.raises(CartError) as raised:
        guest_cart().set_quantity(sku, 1, PRICE, NOW)
    assert raised.value.field == "sku"


def test_rejects_bad_prices() -> None:
    with pytest.raises(CartError):
        guest_cart().set_quantity("SKU-1", 1, Money(-1), NOW)


def test_at_most_max_lines() -> None:
    cart = guest_cart()
    for i in range(MAX_LINES):
        cart = cart.set_quantity(f"SKU-{i}", 1, PRICE, NOW).cart
    assert len(cart.lines) == MAX_LINES == 50
    with pytest.raises(TooManyLines):
        cart.set_quantity("ONE-MORE", 1, PRICE, NOW)
    # changing an existing line is still fine when full
    assert cart.set_quantity("SKU-0", 3, PRICE, NOW).hold_delta == 2


def test_remove_and_clear_give_back_everything() -> None:
    cart = guest_cart()
    cart = cart.set_quantity("A", 2, PRICE, NOW).cart
    cart = cart.set_quantity("B", 3, PRICE, NOW).cart
    removed = cart.remove("A")
    assert removed.hold_delta == -2
    assert [line.sku for line in removed.cart.lines] == ["B"]
    assert cart.remove("Z") == (cart, 0)
    cleared, released = cart.clear()
    assert cleared.is_empty
    assert released == {"A": -2, "B": -3}
    assert cleared.cart_id == cart.cart_id
    assert cleared.guest_token_hash == cart.guest_token_hash


def test_lapsed_holds() -> None:
    cart = guest_cart()
    cart = cart.set_quantity("A", 1, PRICE, NOW + 10).cart
    cart = cart.set_quantity("B", 1, PRICE, NOW + 20).cart
    assert cart.lapsed_lines(NOW) == ()
    assert [line.sku for line in cart.lapsed_lines(NOW + 10)] == ["A"]
    lapsed = cart.with_hold_lapsed("B")
    assert lapsed.line("B") == CartLine("B", 1, PRICE, None)
    assert [line.sku for line in lapsed.lapsed_lines(NOW)] == ["B"]


def test_cart_invariants() -> None:
    with pytest.raises(CartError):
        Cart("c", owner=None, guest_token_hash=None)
    with pytest.raises(CartError):
        Cart("c", owner="alice", guest_token_hash=TOKEN_HASH)
    with pytest.raises(CartError):
        Cart("c", owner="")
    with pytest.raises(CartError):
        Cart("c", guest_token_hash=TOKEN)  # the token itself is never stored
    line = CartLine("A", 1, PRICE)
    with pytest.raises(CartError):
        Cart("c", owner="alice", lines=(line, line))
    with pytest.raises(InvalidQuantity):
        CartLine("A", 0, PRICE)


def test_prices_the_lines() -> None:
    cart = owned_cart().set_quantity("A", 3, Money(3300), NOW).cart
    totals = price(cart.price_lines()).totals
    assert totals.subtotal == Money(9900)
    assert totals.shipping == Money(0)


operations = st.lists(
    st.tuples(st.sampled_from(["A", "B", "C", "D"]), st.integers(0, MAX_QUANTITY_PER_LINE)),
    max_size=30,
)


@settings(max_examples=200)
@given(operations)
def test_hold_deltas_track_the_lines_exactly(ops: list[tuple[str, int]]) -> None:
    cart = guest_cart()
    held: dict[str, int] = {}
    for sku, quantity in ops:
        cart, delta = cart.set_quantity(sku, quantity, PRICE, NOW)
        held[sku] = held.get(sku, 0) + delta
        assert type(delta) is int
    assert {sku: q for sku, q in held.items() if q} == {
        line.sku: line.quantity for line in cart.lines
    }
    assert all(1 <= line.quantity <= MAX_QUANTITY_PER_LINE for line in cart.lines)
    _, released = cart.clear()
    assert sum(released.values()) == -sum(held.values())


# --- Guest tokens -----------------------------------------------------------------------------


def test_issues_a_token_from_the_callers_randomness_and_keeps_only_its_hash() -> None:
    issued = issue_guest_token(lambda n: "A" * 43 if n == GUEST_TOKEN_BYTES else "")
    assert issued.token == "A" * 43
    assert issued.token_hash == hashlib.sha256(b"A" * 43).hexdigest()
    real = issue_guest_token(secrets.token_urlsafe)
    assert len(real.token) == 43
    assert real.token_hash == hash_guest_token(real.token)
    assert real.token not in real.token_hash


@pytest.mark.parametrize("bad", ["", "short", "a" * 42, "x" * 43 + "=", "é" * 43])
def test_refuses_a_random_source_that_is_not_url_safe_32_bytes(bad: str) -> None:
    with pytest.raises(ValueError, match="random source"):
        issue_guest_token(lambda _: bad)


@settings(max_examples=50)
@given(cart_token=st.text(alphabet="ABCDEFabcdef0123456789_-", min_size=43, max_size=64))
def test_an_order_token_is_derived_from_the_cart_token_and_the_order(cart_token: str) -> None:
    """The same on every retry of one checkout, another for another order or cart, shaped like
    an issued token (so it passes the same checks), and never the cart token itself."""
    token = order_token_for(cart_token, "order-1")
    assert token == order_token_for(cart_token, "order-1")
    assert token.token != order_token_for(cart_token, "order-2").token
    assert token.token != order_token_for(cart_token + "x", "order-1").token
    assert len(token.token) == 43
    assert token.token != cart_token
    assert guest_token_matches(token.token_hash, token.token)
    assert not guest_token_matches(token.token_hash, cart_token)


@pytest.mark.parametrize(
    ("stored", "presented", "matches"),
    [
        (TOKEN_HASH, TOKEN, True),
        (TOKEN_HASH, TOKEN + "x", False),
        (TOKEN_HASH, "", False),
        (TOKEN_HASH, None, False),
        (None, TOKEN, False),
        (TOKEN_HASH, "t" * 200, False),
        (TOKEN_HASH, TOKEN_HASH, False),
    ],
)
def test_token_matching(stored: str | None, presented: str | None, matches: bool) -> None:
    assert guest_token_matches(stored, presented) is matches


# --- Access -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sub", "staff", "token", "expected"),
    [
        ("alice", Reach.NONE, None, Reach.ACT),  # owner
        ("alice", Reach.SEE, None, Reach.ACT),  # owner who is also staff
        ("bob", Reach.NONE, None, Reach.NONE),  # stranger
        ("bob", Reach.NONE, TOKEN, Reach.NONE),  # an owned cart's token no longer opens it
        ("bob", Reach.SEE, None, Reach.SEE),  # staff who may only read here
        (None, Reach.NONE, None, Reach.NONE),  # anonymous
        (None, Reach.ACT, None, Reach.ACT),  # staff whose role the route lets act
    ],
)
def test_access_to_a_customers_cart(
    sub: str | None, staff: Reach, token: str | None, expected: Reach
) -> None:
    cart = Cart("c", owner="alice")
    assert cart_access(cart, caller_sub=sub, staff=staff, cart_token=token) is expected


@pytest.mark.parametrize(
    ("sub", "staff", "token", "expected"),
    [
        (None, Reach.NONE, TOKEN, Reach.ACT),  # the guest
        ("bob", Reach.NONE, TOKEN, Reach.ACT),  # a signed-in holder of the token
        (None, Reach.NONE, None, Reach.NONE),
        (None, Reach.NONE, "wrong" * 10, Reach.NONE),
        ("bob", Reach.NONE, None, Reach.NONE),  # owner None never matches a sub
        (None, Reach.SEE, None, Reach.SEE),
        ("ops", Reach.SEE, TOKEN, Reach.ACT),
    ],
)
def test_access_to_a_guest_cart(
    sub: str | None, staff: Reach, token: str | None, expected: Reach
) -> None:
    cart = guest_cart()
    assert cart_access(cart, caller_sub=sub, staff=staff, cart_token=token) is expected


# --- Claims -----------------------------------------------------------------------------------


def test_a_signed_in_token_holder_claims_a_guest_cart() -> None:
    cart = guest_cart().set_quantity("A", 2, PRICE, NOW).cart
    outcome, claimed = claim(cart, caller_sub="alice", cart_token=TOKEN)
    assert outcome is ClaimOutcome.CLAIMED
    assert claimed.owner == "alice"
    assert claimed.guest_token_hash is None
    assert claimed.lines == cart.lines
    assert cart_access(claimed, caller_sub="alice", staff=Reach.NONE, cart_token=None) is Reach.ACT
    assert cart_access(claimed, caller_sub=None, staff=Reach.NONE, cart_token=TOKEN) is Reach.NONE
    again, same = claim(claimed, caller_sub="alice", cart_token=TOKEN)
    assert again is ClaimOutcome.ALREADY_YOURS
    assert same == claimed


@pytest.mark.parametrize(
    ("cart", "sub", "token", "outcome"),
    [
        (guest_cart(), None, TOKEN, ClaimOutcome.SIGN_IN_REQUIRED),
        (guest_cart(), "alice", None, ClaimOutcome.NOT_FOUND),
        (guest_cart(), "alice", "x" * 43, ClaimOutcome.NOT_FOUND),
        (owned_cart("bob"), "alice", TOKEN, ClaimOutcome.NOT_FOUND),
        (owned_cart("alice"), "alice", None, ClaimOutcome.ALREADY_YOURS),
    ],
)
def test_claims_that_change_nothing(
    cart: Cart, sub: str | None, token: str | None, outcome: ClaimOutcome
) -> None:
    result, after = claim(cart, caller_sub=sub, cart_token=token)
    assert result is outcome
    assert after == cart


# --- Shipping address -------------------------------------------------------------------------

GOOD = {
    "name": "Li Lei",
    "line1": "1 Zhongguancun St",
    "city": "Beijing",
    "postal_code": "100080",
    "country": "CN",
    "phone": "+8613812345678",
}


def test_parses_a_good_address() -> None:
    address = parse_shipping_address(GOOD)
    assert isinstance(address, ShippingAddress)
    assert address.to_dict() == GOOD
    cart = owned_cart().with_shipping_address(address)
    assert cart.shipping_address == address


def test_normalises_whitespace_case_and_phone() -> None:
    address = parse_shipping_address(
        {
            **GOOD,
            "name": "  Li Lei ",
            "country": "cn",
            "phone": "138 1234 5678",
            "line2": "  ",
            "region": "Haidian",
        }
    )
    assert isinstance(address, ShippingAddress)
    assert address.name == "Li Lei"
    assert address.country == "CN"
    assert address.phone == "+8613812345678"
    assert address.line2 is None
    assert address.region == "Haidian"


def fields_of(result: ShippingAddress | list[FieldError]) -> dict[str, str]:
    assert isinstance(result, list)
    return {e.field: e.message for e in result}


def test_reports_every_bad_field() -> None:
    errors = fields_of(parse_shipping_address({}))
    assert set(errors) == {"name", "line1", "city", "postal_code", "country", "phone"}
    assert errors["name"] == "is required"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "x" * 101, "at most 100"),
        ("line1", "a\x00b", "control characters"),
        ("line2", "y" * 201, "at most 200"),
        ("country", "XX", "ISO 3166-1"),
        ("country", "CHN", "ISO 3166-1"),
        ("postal_code", "1000", "6 digits"),
        ("phone", "12345", "international"),
        ("phone", "+0123456789", "international"),
        ("phone", "+1234567890123456", "international"),
        ("name", 42, "must be a string"),
    ],
)
def test_field_rules(field: str, value: object, message: str) -> None:
    errors = fields_of(parse_shipping_address({**GOOD, field: value}))
    assert list(errors) == [field]
    assert message in errors[field]


def test_other_countries_take_their_own_postcodes_and_e164_phones() -> None:
    address = parse_shipping_address(
        {**GOOD, "country": "GB", "postal_code": "SW1A 1AA", "phone": "+44 20 7946 0958"}
    )
    assert isinstance(address, ShippingAddress)
    assert address.phone == "+442079460958"
    bad = fields_of(parse_shipping_address({**GOOD, "country": "GB", "postal_code": "SW1A_1AA"}))
    assert list(bad) == ["postal_code"]
    # a bare Chinese mobile number is only understood for a CN address
    local = {**GOOD, "country": "US", "postal_code": "94105", "phone": "13812345678"}
    assert list(fields_of(parse_shipping_address(local))) == ["phone"]


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+86 138-1234-5678", "CN", "+8613812345678"),
        ("0086 13812345678", "CN", "+8613812345678"),
        ("13812345678", "CN", "+8613812345678"),
        ("(555) 123.4567", "US", None),
        ("+1 (555) 123-4567", "US", "+15551234567"),
        ("+86abc", "CN", None),
    ],
)
def test_normalise_phone(raw: str, country: str, expected: str | None) -> None:
    assert normalise_phone(raw, country) == expected


def test_the_value_object_refuses_invalid_fields_too() -> None:
    with pytest.raises(InvalidAddress) as raised:
        ShippingAddress(**{**GOOD, "country": "ZZ"})
    assert raised.value.field == "country"
    assert address_errors(GOOD) == []


def test_country_list_is_iso_3166_1_alpha_2() -> None:
    assert len(COUNTRIES) == 249
    assert {"CN", "HK", "MO", "TW", "US", "GB", "DE"} <= COUNTRIES
    assert all(len(code) == 2 and code.isupper() for code in COUNTRIES)
