"""Who may call each route: the API's one access table.

Every operation the template routes is declared here, by method and path template, and the
declaration is read three ways:

- at the edge of every function, before the request is parsed (``commerce.http.gate``): a route
  that needs a token answers 401 without a valid one, a staff route answers 403 to a caller
  without its roles, whatever the body;
- by the handler's caller (``gate.authorized``): how far the caller's staff role reaches into a
  resource that is someone else's (``commerce.domain.access.Reach``), which the use cases apply
  once they know whose the cart, order or ticket is;
- by the authorization matrix (``tests/e2e/test_access_matrix.py``), which calls every operation
  of the served OpenAPI document as each :class:`Principal` and expects exactly
  :meth:`Access.expected`; an operation missing here fails it.

Admin is named wherever admin may act: it is a role like the others, not an exception to them
(a return, say, is requested by the customer alone).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Final

from commerce.domain.access import Reach

STAFF: Final = frozenset({"support", "ops", "admin"})


class Token(Enum):
    """What a route makes of the caller's credentials."""

    NONE = "none"  # public: a bearer token is not read at all
    OPTIONAL = "optional"  # guests and customers alike: a token sent must be valid (else 401)
    REQUIRED = "required"  # signed in: 401 without a valid token
    SIGNATURE = "signature"  # a sender's signature over the raw body, never a token (webhooks)


class Principal(Enum):
    """The callers the matrix plays, relative to one resource."""

    ANONYMOUS = "anonymous"  # no token, no guest token
    GUEST = "guest"  # no token, but the guest's X-Cart-Token / X-Order-Token of the resource
    OWNER = "owner"  # the signed-in customer whose resource it is
    OTHER_CUSTOMER = "other-customer"  # a signed-in customer whose it is not
    SUPPORT = "support"
    OPS = "ops"
    ADMIN = "admin"

    @property
    def role(self) -> str | None:
        """The staff role this principal holds, if any."""
        return self.value if self.value in STAFF else None


class Outcome(Enum):
    """The class of answer a principal gets: allowed (whatever the request's own merits make
    of it), or refused with 401, 403 or 404."""

    ALLOWED = 0
    UNAUTHORIZED = 401
    FORBIDDEN = 403
    NOT_FOUND = 404


@dataclass(frozen=True)
class Access:
    """Who may call one operation.

    ``roles`` makes a staff route: only those roles may call it. ``owned`` makes a route on one
    resource that belongs to a customer (or, with ``guests``, to whoever holds its guest token):
    its owner acts on it; a staff role in ``act`` acts on anyone's, one in ``see`` is refused
    with 403, and everyone else gets ``others`` (404 by default, so a stranger never learns the
    resource exists; 403 where the route is refused for a reason of the caller's own, such as a
    review without a delivered order).
    """

    token: Token
    roles: frozenset[str] | None = None
    owned: bool = False
    guests: bool = False
    act: frozenset[str] = field(default_factory=frozenset)
    see: frozenset[str] = field(default_factory=frozenset)
    others: Outcome = Outcome.NOT_FOUND
    #: The route reads the erasure tombstone itself, in the one batch its hot path reads
    #: anyway (``carts.holding.look``), so the entrypoint does not read it first.
    reads_tombstone: bool = False

    def admits(self, *, signed_in: bool, groups: Collection[str]) -> Outcome:
        """What the edge answers before any resource is read: 401 where a token is required
        and none was valid, 403 on a staff route without its roles, else ALLOWED (the owner
        checks come later, in the use case)."""
        if self.token is Token.REQUIRED and not signed_in:
            return Outcome.UNAUTHORIZED
        if self.roles is not None and not (signed_in and self.roles.intersection(groups)):
            return Outcome.FORBIDDEN
        return Outcome.ALLOWED

    def reach(self, groups: Collection[str]) -> Reach:
        """How far a caller with these groups reaches into a resource that is not theirs."""
        if self.roles is not None:
            return Reach.ACT if self.roles.intersection(groups) else Reach.NONE
        if self.act.intersection(groups):
            return Reach.ACT
        if self.see.intersection(groups):
            return Reach.SEE
        return Reach.NONE

    def expected(self, principal: Principal) -> Outcome:
        """The answer ``principal`` gets: the declaration read as the matrix test reads it."""
        if self.token is Token.NONE:
            return Outcome.ALLOWED
        if self.token is Token.SIGNATURE:
            return Outcome.UNAUTHORIZED  # the matrix never signs: no signature, no entry
        signed_in = principal not in (Principal.ANONYMOUS, Principal.GUEST)
        role = principal.role
        groups = {role} if role else {"customer"}
        admitted = self.admits(signed_in=signed_in, groups=groups)
        if admitted is not Outcome.ALLOWED:
            return admitted
        if not self.owned or self.roles is not None:
            return Outcome.ALLOWED
        if principal is Principal.OWNER or (principal is Principal.GUEST and self.guests):
            return Outcome.ALLOWED
        if principal in (Principal.ANONYMOUS, Principal.GUEST):
            return Outcome.NOT_FOUND  # no token of the resource: a stranger
        return {
            Reach.ACT: Outcome.ALLOWED,
            Reach.SEE: Outcome.FORBIDDEN,
            Reach.NONE: self.others,
        }[self.reach(groups)]


def _roles(names: Collection[str]) -> frozenset[str]:
    unknown = set(names) - STAFF
    if unknown:
        raise ValueError(f"not staff roles: {sorted(unknown)}")
    return frozenset(names)


#: Anyone, no token read (the catalog).
PUBLIC: Final = Access(Token.NONE)
#: Anyone: a guest, or a signed-in customer whose token is verified (a new cart).
GUESTS_TOO: Final = Access(Token.OPTIONAL)
#: Any signed-in caller, about themselves (their profile, their orders, their tickets).
SIGNED_IN: Final = Access(Token.REQUIRED)
#: Senders who sign the raw body (carriers, payment providers): no token is read.
SIGNED_BY_SENDER: Final = Access(Token.SIGNATURE)


def staff(*roles: str) -> Access:
    """A staff route: these roles and admin; a customer is 403, a caller without a token 401."""
    allowed = _roles({*roles, "admin"})
    return Access(Token.REQUIRED, roles=allowed)


def owned(
    *,
    guests: bool,
    act: Collection[str] = (),
    see: Collection[str] = (),
    sign_in: bool = False,
    others: Outcome = Outcome.NOT_FOUND,
) -> Access:
    """A route on one customer's resource (see :class:`Access`); ``sign_in`` makes it need a
    token even from its owner."""
    return Access(
        Token.REQUIRED if sign_in else Token.OPTIONAL,
        owned=True,
        guests=guests,
        act=_roles(act),
        see=_roles(see),
        others=others,
    )


#: What a signed-in customer has earned by their own history (a review of a product they
#: received): anyone else, staff included, is refused with 403, for they may see the route.
EARNED: Final = owned(guests=False, sign_in=True, others=Outcome.FORBIDDEN)

#: A cart: read by its owner, its guest token's holder and any staff; changed by the first two.
_CART_READ: Final = owned(guests=True, act=STAFF)
_CART_WRITE: Final = owned(guests=True, see=STAFF)

#: Every route of the API, by "METHOD /path/{template}" as the template's Api events name it.
ROUTES: Final[Mapping[str, Access]] = {
    # catalog and inventory
    "GET /products": PUBLIC,
    "GET /products/{product_id}": PUBLIC,
    "GET /categories": PUBLIC,
    "GET /products/{product_id}/reviews": PUBLIC,
    "POST /products/{product_id}/reviews": EARNED,
    "POST /admin/products": staff("ops"),
    "GET /admin/products/{product_id}": staff("ops", "support"),
    "PATCH /admin/products/{product_id}": staff("ops"),
    "PATCH /admin/products/{product_id}/skus/{sku}": staff("ops"),
    "GET /admin/products/{product_id}/skus/{sku}/prices": staff("ops"),
    "POST /admin/products/{product_id}/images": staff("ops"),
    "DELETE /admin/products/{product_id}/images/{image_id}": staff("ops"),
    "POST /admin/categories": staff("ops"),
    "PATCH /admin/reviews/{review_id}": staff("ops"),
    "GET /admin/inventory/{sku}": staff("ops", "support"),
    "PATCH /admin/inventory/{sku}": staff("ops"),
    "POST /admin/inventory/{sku}/adjustments": staff("ops"),
    "PUT /admin/inventory/{sku}/shards": staff("ops"),
    # flash sales
    "POST /admin/flash-sales": staff("ops"),
    "GET /admin/flash-sales": staff("ops"),
    "GET /flash-sales/{flash_sale_id}": PUBLIC,
    # carts
    "POST /carts": GUESTS_TOO,
    "GET /carts/{cart_id}": _CART_READ,
    # A flash sale's every buyer calls it: the tombstone rides in the hold's one batch read.
    "PUT /carts/{cart_id}/items/{sku}": replace(_CART_WRITE, reads_tombstone=True),
    "DELETE /carts/{cart_id}/items/{sku}": _CART_WRITE,
    "DELETE /carts/{cart_id}/items": _CART_WRITE,
    "PUT /carts/{cart_id}/shipping-address": _CART_WRITE,
    "POST /carts/{cart_id}/coupons": _CART_WRITE,
    "DELETE /carts/{cart_id}/coupons/{code}": _CART_WRITE,
    # A signed-in customer holding the guest cart's token; the owner is the one who claims.
    "POST /carts/{cart_id}/claim": owned(guests=False, sign_in=True),
    # checkout and orders
    "POST /orders": _CART_WRITE,  # the cart named in the body
    "GET /orders": SIGNED_IN,
    "GET /orders/{order_id}": owned(guests=True, act=STAFF),
    "POST /orders/{order_id}/cancel": owned(guests=True, act={"ops", "admin"}, see={"support"}),
    "POST /orders/{order_id}/returns": owned(guests=True, see=STAFF),
    "GET /admin/orders": staff("support", "ops"),
    "POST /admin/orders/{order_id}/shipments": staff("ops"),
    "POST /admin/orders/{order_id}/returns/{return_id}/receive": staff("ops"),
    "POST /admin/orders/{order_id}/refunds": staff("ops"),
    # coupons and shipping zones
    "GET /admin/coupons": staff("ops", "support"),
    "POST /admin/coupons": staff("ops"),
    "GET /admin/coupons/{code}": staff("ops", "support"),
    "PATCH /admin/coupons/{code}": staff("ops"),
    "GET /admin/shipping-zones": staff("ops", "support"),
    "PUT /admin/shipping-zones": staff("ops"),
    # customers: the caller's own data; an address or device of anyone else is not in their book
    "GET /me": SIGNED_IN,
    "PATCH /me": SIGNED_IN,
    "DELETE /me": SIGNED_IN,
    "GET /me/export": SIGNED_IN,
    "GET /me/points": SIGNED_IN,
    "GET /me/addresses": SIGNED_IN,
    "POST /me/addresses": SIGNED_IN,
    "PATCH /me/addresses/{address_id}": owned(guests=False, sign_in=True),
    "DELETE /me/addresses/{address_id}": owned(guests=False, sign_in=True),
    "GET /me/devices": SIGNED_IN,
    "POST /me/devices": SIGNED_IN,
    "DELETE /me/devices/{device_id}": owned(guests=False, sign_in=True),
    "GET /admin/customers/{customer_id}": staff("support", "ops"),
    # tickets
    "POST /tickets": SIGNED_IN,
    "GET /tickets": SIGNED_IN,
    "GET /tickets/{ticket_id}": owned(guests=False, sign_in=True, act=STAFF),
    "POST /tickets/{ticket_id}/messages": owned(
        guests=False, sign_in=True, act={"support", "admin"}, see={"ops"}
    ),
    "GET /admin/tickets": staff("support", "ops"),
    "PATCH /admin/tickets/{ticket_id}": staff("support"),
    # insight
    "GET /admin/analytics/sales": staff("ops"),
    "GET /admin/analytics/products": staff("ops"),
    "GET /admin/segments": staff("ops"),
    "POST /admin/segments": staff("ops"),
    "GET /admin/segments/{segment_id}": staff("ops"),
    "GET /admin/segments/{segment_id}/members": staff("ops"),
    "GET /admin/campaigns": staff("ops"),
    "POST /admin/campaigns": staff("ops"),
    "GET /admin/campaigns/{campaign_id}": staff("ops"),
    # webhooks
    "POST /webhooks/carriers/{carrier}": SIGNED_BY_SENDER,
    "POST /webhooks/payments/{provider}": SIGNED_BY_SENDER,
}


def declared(method: str, path: str) -> Access | None:
    """The access declared for ``method`` on the path template ``path``; None if undeclared."""
    return ROUTES.get(f"{method.upper()} {path}")
