"""The cart as a value: its lines and limits, its shipping address, who owns it and who may see it.

Every change returns a new cart; a change of quantity also returns the hold delta (units the
store must take, positive, or give back, negative) so the line and its stock hold move together.

Guests are identified by a cart token: a random secret the client keeps and sends back as
``X-Cart-Token``. The cart stores only its SHA-256 hash and compares in constant time. The
random source is the caller's (``issue_guest_token(secrets.token_urlsafe)``), keeping this
module free of I/O and deterministic under test. The order token a guest's checkout answers
with is derived from the cart token (``order_token_for``), so a retried checkout can answer with
the same one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Final, NamedTuple

from commerce.domain.access import Reach
from commerce.domain.money import Money
from commerce.domain.pricing import PriceLine
from commerce.domain.product import is_valid_sku
from commerce.errors import FieldError

#: Units of one SKU a cart may hold.
MAX_QUANTITY_PER_LINE: Final = 99
#: Distinct SKUs a cart may hold (also bounds the size of a checkout transaction).
MAX_LINES: Final = 50
#: Bytes of randomness in a guest token (``secrets.token_urlsafe(32)``: 43 characters).
GUEST_TOKEN_BYTES: Final = 32
#: Longest ``X-Cart-Token`` worth hashing; anything longer cannot be one we issued.
MAX_GUEST_TOKEN_CHARS: Final = 128
_TOKEN_RE: Final = re.compile(r"^[A-Za-z0-9_-]{43,128}$")
_HASH_RE: Final = re.compile(r"^[0-9a-f]{64}$")


class CartError(ValueError):
    """A change the cart rules forbid; ``field`` names the offending input as the client sent it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidQuantity(CartError):
    """Quantity outside 0..MAX_QUANTITY_PER_LINE or not a whole number."""


class TooManyLines(CartError):
    """Adding a SKU would give the cart more than MAX_LINES lines."""


# --- Guest tokens ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GuestToken:
    """A freshly issued token (shown to the client once) and the hash the cart keeps."""

    token: str
    token_hash: str


def hash_guest_token(token: str) -> str:
    """The stored form of a guest token: SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_guest_token(token_urlsafe: Callable[[int], str]) -> GuestToken:
    """A new guest token from the caller's random source (pass ``secrets.token_urlsafe``)."""
    token = token_urlsafe(GUEST_TOKEN_BYTES)
    if not _TOKEN_RE.fullmatch(token):
        raise ValueError("the random source did not produce a url-safe token of 32 bytes")
    return GuestToken(token, hash_guest_token(token))


def order_token_for(cart_token: str, order_id: str) -> GuestToken:
    """The order token of the guest order ``order_id`` placed from the cart of ``cart_token``:
    an HMAC of the order id keyed by the cart token, as long as an issued token. Only the cart
    token's holder can compute it, and that holder may read the order anyway; being derived, it
    is the same on every retry of the checkout, which never stores it in the clear."""
    digest = hmac.new(cart_token.encode(), f"order:{order_id}".encode(), hashlib.sha256).digest()
    token = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return GuestToken(token, hash_guest_token(token))


def guest_token_matches(token_hash: str | None, presented: str | None) -> bool:
    """True when ``presented`` is the token whose hash is ``token_hash`` (constant-time compare)."""
    if token_hash is None or not presented or len(presented) > MAX_GUEST_TOKEN_CHARS:
        return False
    return hmac.compare_digest(hash_guest_token(presented), token_hash)


# --- Shipping address --------------------------------------------------------------------------

_COUNTRY_CODES: Final = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
    GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
    KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
    MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
    TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
    ZW
"""
#: ISO 3166-1 alpha-2 codes in current use.
COUNTRIES: Final = frozenset(_COUNTRY_CODES.split())
ADDRESS_FIELD_MAX: Final = {
    "name": 100,
    "line1": 200,
    "line2": 200,
    "city": 100,
    "region": 100,
    "postal_code": 16,
}
_REQUIRED: Final = ("name", "line1", "city", "postal_code", "country", "phone")
_OPTIONAL: Final = ("line2", "region")
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f]")
_POSTAL_RE: Final = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9 -]*[A-Za-z0-9])?$")
_CN_POSTAL_RE: Final = re.compile(r"^[0-9]{6}$")
#: E.164: a plus, a country code not starting with 0, at most 15 digits in all.
_E164_RE: Final = re.compile(r"^\+[1-9][0-9]{6,14}$")
_CN_MOBILE_RE: Final = re.compile(r"^1[3-9][0-9]{9}$")
_PHONE_SEPARATORS: Final = re.compile(r"[ ()./-]")


def normalise_phone(raw: str, country: str) -> str | None:
    """``raw`` as E.164 (``+8613812345678``), or None when it cannot be one.

    Spaces, dots, dashes and brackets are dropped; a Chinese mobile number written without the
    country code is accepted for a CN address.
    """
    digits = _PHONE_SEPARATORS.sub("", raw)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if country == "CN" and _CN_MOBILE_RE.fullmatch(digits):
        digits = "+86" + digits
    return digits if _E164_RE.fullmatch(digits) else None


@dataclass(frozen=True)
class ShippingAddress:
    """Where an order goes; build it with ``parse_shipping_address`` to get field errors."""

    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    phone: str
    line2: str | None = None
    region: str | None = None

    def __post_init__(self) -> None:
        errors = address_errors(self.to_dict())
        if errors:
            raise CartError(errors[0].field, errors[0].message)

    def to_dict(self) -> dict[str, str]:
        """The wire shape of API.md; absent optional fields are left out."""
        fields = {
            "name": self.name,
            "line1": self.line1,
            "line2": self.line2,
            "city": self.city,
            "region": self.region,
            "postal_code": self.postal_code,
            "country": self.country,
            "phone": self.phone,
        }
        return {k: v for k, v in fields.items() if v is not None}


def _text_error(name: str, value: str | None) -> str | None:
    if value is None or value == "":
        return "is required" if name in _REQUIRED else None
    if value != value.strip():
        return "must not start or end with whitespace"
    if _CONTROL_RE.search(value):
        return "must not contain control characters"
    limit = ADDRESS_FIELD_MAX[name]
    if len(value) > limit:
        return f"must be at most {limit} characters"
    return None


def address_errors(fields: Mapping[str, str | None]) -> list[FieldError]:
    """Every rule an address's (already normalised) fields break, one error per field."""
    errors: list[FieldError] = []
    for name in ADDRESS_FIELD_MAX:
        message = _text_error(name, fields.get(name))
        if message:
            errors.append(FieldError(name, message))
    country = fields.get("country") or ""
    if country not in COUNTRIES:
        errors.append(FieldError("country", "must be an ISO 3166-1 alpha-2 code, e.g. CN"))
    postal = fields.get("postal_code")
    if postal and not any(e.field == "postal_code" for e in errors):
        if country == "CN" and not _CN_POSTAL_RE.fullmatch(postal):
            errors.append(FieldError("postal_code", "must be 6 digits for CN"))
        elif not _POSTAL_RE.fullmatch(postal):
            errors.append(FieldError("postal_code", "must be letters, digits, spaces or dashes"))
    if not _E164_RE.fullmatch(fields.get("phone") or ""):
        errors.append(FieldError("phone", "must be an international number, e.g. +8613812345678"))
    return errors


def parse_shipping_address(data: Mapping[str, object]) -> ShippingAddress | list[FieldError]:
    """A valid, normalised address from client fields, or every field error found.

    Text is stripped of surrounding whitespace, the country upper-cased, the phone put in E.164
    form; empty optional fields become absent. Unknown fields are ignored (the schema rejects
    them before this runs).
    """
    typed: list[FieldError] = []
    clean: dict[str, str | None] = {}
    for name in (*_REQUIRED, *_OPTIONAL):
        raw = data.get(name)
        if raw is not None and not isinstance(raw, str):
            typed.append(FieldError(name, "must be a string"))
            raw = None
        clean[name] = (raw.strip() or None) if raw is not None else None
    country = (clean["country"] or "").upper()
    clean["country"] = country or None
    phone = clean["phone"]
    if phone is not None:
        clean["phone"] = normalise_phone(phone, country) or phone
    bad_types = {e.field for e in typed}
    errors = typed + [e for e in address_errors(clean) if e.field not in bad_types]
    if errors:
        return errors
    return ShippingAddress(
        name=clean["name"] or "",
        line1=clean["line1"] or "",
        city=clean["city"] or "",
        postal_code=clean["postal_code"] or "",
        country=country,
        phone=clean["phone"] or "",
        line2=clean["line2"],
        region=clean["region"],
    )


# --- The cart ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CartLine:
    """``quantity`` units of ``sku`` at ``unit_price`` each, held until ``reserved_until``.

    ``reserved_until`` is epoch seconds; None (or a past time) means the hold has lapsed and
    must be taken again before checkout.
    """

    sku: str
    quantity: int
    unit_price: Money
    reserved_until: int | None = None

    def __post_init__(self) -> None:
        _check_quantity(self.quantity, allow_zero=False)
        if not self.unit_price.is_valid_price:
            raise CartError("unit_price", "must be a valid price")

    def is_held(self, now: int) -> bool:
        return self.reserved_until is not None and self.reserved_until > now


class CartChange(NamedTuple):
    """A new cart and the change of its hold on one SKU (new quantity minus old)."""

    cart: Cart
    hold_delta: int


def _check_quantity(quantity: object, allow_zero: bool) -> int:
    lowest = 0 if allow_zero else 1
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidQuantity("quantity", "must be a whole number")
    if not lowest <= quantity <= MAX_QUANTITY_PER_LINE:
        raise InvalidQuantity("quantity", f"must be {lowest}..{MAX_QUANTITY_PER_LINE}")
    return quantity


@dataclass(frozen=True)
class Cart:
    """A cart: owned by a customer (``owner`` is their sub) or a guest (by token hash)."""

    cart_id: str
    owner: str | None = None
    guest_token_hash: str | None = None
    lines: tuple[CartLine, ...] = ()
    shipping_address: ShippingAddress | None = None
    coupons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.owner is None) == (self.guest_token_hash is None):
            raise CartError("cart", "a cart has exactly one of an owner or a guest token")
        if self.owner is not None and not self.owner:
            raise CartError("owner", "an owner is a non-empty customer id")
        if self.guest_token_hash is not None and not _HASH_RE.fullmatch(self.guest_token_hash):
            raise CartError("guest_token_hash", "must be a hex SHA-256 digest")
        skus = [line.sku for line in self.lines]
        if len(set(skus)) != len(skus):
            raise CartError("lines", "a SKU appears on more than one line")
        if len(skus) > MAX_LINES:
            raise TooManyLines("lines", f"a cart holds at most {MAX_LINES} lines")

    @property
    def is_guest(self) -> bool:
        return self.owner is None

    @property
    def is_empty(self) -> bool:
        return not self.lines

    def line(self, sku: str) -> CartLine | None:
        return next((line for line in self.lines if line.sku == sku), None)

    def price_lines(self) -> tuple[PriceLine, ...]:
        """The lines as the pricing module takes them."""
        return tuple(PriceLine(line.sku, line.quantity, line.unit_price) for line in self.lines)

    def set_quantity(
        self, sku: str, quantity: int, unit_price: Money, reserved_until: int | None
    ) -> CartChange:
        """Set ``sku`` to ``quantity`` (0 removes it); the line keeps its place in the cart."""
        if not is_valid_sku(sku):
            raise CartError("sku", "is not a valid SKU")
        quantity = _check_quantity(quantity, allow_zero=True)
        old = self.line(sku)
        delta = quantity - (old.quantity if old else 0)
        if quantity == 0:
            return CartChange(self._without(sku), delta)
        new = CartLine(sku, quantity, unit_price, reserved_until)
        if old is None:
            if len(self.lines) >= MAX_LINES:
                raise TooManyLines("sku", f"a cart holds at most {MAX_LINES} lines")
            return CartChange(replace(self, lines=(*self.lines, new)), delta)
        lines = tuple(new if line.sku == sku else line for line in self.lines)
        return CartChange(replace(self, lines=lines), delta)

    def remove(self, sku: str) -> CartChange:
        """Drop ``sku``'s line (if any); the delta gives back everything it held."""
        old = self.line(sku)
        return CartChange(self._without(sku), -(old.quantity if old else 0))

    def clear(self) -> tuple[Cart, dict[str, int]]:
        """An empty cart, and the hold delta per SKU that emptying it gives back."""
        return replace(self, lines=()), {line.sku: -line.quantity for line in self.lines}

    def with_hold_lapsed(self, sku: str) -> Cart:
        """The cart once ``sku``'s hold has been released by expiry (the line stays)."""
        lines = tuple(replace(x, reserved_until=None) if x.sku == sku else x for x in self.lines)
        return replace(self, lines=lines)

    def lapsed_lines(self, now: int) -> tuple[CartLine, ...]:
        """Lines whose hold no longer guarantees their stock at ``now``."""
        return tuple(line for line in self.lines if not line.is_held(now))

    def with_shipping_address(self, address: ShippingAddress) -> Cart:
        return replace(self, shipping_address=address)

    def _without(self, sku: str) -> Cart:
        return replace(self, lines=tuple(line for line in self.lines if line.sku != sku))


def new_cart(cart_id: str, *, owner: str | None, guest_token_hash: str | None) -> Cart:
    """An empty cart for a signed-in customer (``owner``) or a guest (``guest_token_hash``)."""
    return Cart(cart_id, owner=owner, guest_token_hash=guest_token_hash)


# --- Who may see and change a cart --------------------------------------------------------------


def cart_access(
    cart: Cart, *, caller_sub: str | None, staff: Reach, cart_token: str | None
) -> Reach:
    """The owner and the guest token's holder act on a cart; anyone else reaches it as far as
    their staff role does on this route (``staff``): to read it, say, but not to change it."""
    if caller_sub is not None and cart.owner == caller_sub:
        return Reach.ACT
    if cart.is_guest and guest_token_matches(cart.guest_token_hash, cart_token):
        return Reach.ACT
    return staff


class ClaimOutcome(Enum):
    """What a claim did: CLAIMED and ALREADY_YOURS succeed; the others are refusals."""

    CLAIMED = "claimed"
    ALREADY_YOURS = "already-yours"  # a retried claim changes nothing and still succeeds
    SIGN_IN_REQUIRED = "sign-in-required"  # 401
    NOT_FOUND = "not-found"  # someone else's cart, or the wrong token: 404, never 403


def claim(
    cart: Cart, *, caller_sub: str | None, cart_token: str | None
) -> tuple[ClaimOutcome, Cart]:
    """A signed-in customer takes over a guest cart whose token they hold.

    The claimed cart belongs to the customer alone: its guest token stops working, so a token
    left on a shared device cannot reach a signed-in customer's cart and address.
    """
    if caller_sub is None:
        return ClaimOutcome.SIGN_IN_REQUIRED, cart
    if cart.owner == caller_sub:
        return ClaimOutcome.ALREADY_YOURS, cart
    if cart.owner is not None or not guest_token_matches(cart.guest_token_hash, cart_token):
        return ClaimOutcome.NOT_FOUND, cart
    return ClaimOutcome.CLAIMED, replace(cart, owner=caller_sub, guest_token_hash=None)
