"""The cart as a value: its lines and limits, its shipping address, who owns it and who may see it.

Every change returns a new cart; a change of quantity also returns the hold delta (units the
store must take, positive, or give back, negative) so the line and its stock hold move together.

Guests are identified by a cart token (``guest_tokens``): the cart stores only its hash. The
address the cart ships to is a ``shipping_address.ShippingAddress``; both live apart from the
cart so that what reads orders (which keep both) loads no cart rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import Enum
from typing import Final, NamedTuple

from commerce.domain.access import Reach
from commerce.domain.guest_tokens import guest_token_matches
from commerce.domain.money import Money
from commerce.domain.pricing import PriceLine
from commerce.domain.product import is_valid_sku
from commerce.domain.shipping_address import ShippingAddress

#: Units of one SKU a cart may hold.
MAX_QUANTITY_PER_LINE: Final = 99
#: Distinct SKUs a cart may hold (also bounds the size of a checkout transaction).
MAX_LINES: Final = 50
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
