"""Cart storage: the cart header, its lines, and the write right stated as a condition.

A cart is one partition of the Carts table: the header (pk=CART#{id}, sk=CART) and one item per
line (sk=LINE#{sku}). Every write to a cart is conditioned on the cart still having the owner or
guest token that granted the caller write access when it was read, so a cart claimed meanwhile
can no longer be changed with the old guest token.

The header is in the idle index (gsi1, ``IDLE#{bucket}`` / ``{updated_at}#{cart_id}``) exactly
while it is a candidate for the abandoned-cart reminder: signed in, not checked out, not reminded.
Every write that sets ``updated_at`` states the header's membership in the same request (sets
the keys to the new ``updated_at``, or removes them), so the index never holds a stale change
time; checkout and the reminder's mark remove them, and the reminder removes them from a cart it
has considered and let go (:func:`drop_idle`), until the cart's next change.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from commerce.domain.cart import Cart, CartLine
from commerce.domain.flash_sales import Counted, FlashSale
from commerce.domain.money import Money
from commerce.domain.reservations import Hold
from commerce.domain.shipping_address import ShippingAddress
from commerce.store import batch_reads, keys, kit, products
from commerce.store.products import SkuOffer
from commerce.store.tables.carts import CartLineModel, CartModel
from commerce.store.transactions import LabelledTransaction

#: An untouched cart is tidied away by TTL after this long (its holds were released long before).
CART_TTL_SECONDS: Final = 30 * 24 * 3600


@dataclass(frozen=True)
class StoredLine:
    """A line as stored; ``takes`` (shard -> units) and ``expires_at`` are set while it holds."""

    sku: str
    quantity: int
    unit_price: Money
    version: int
    takes: Mapping[int, int] = field(default_factory=dict)
    expires_at: int | None = None
    #: False once the SKU's product is archived (``with_current_prices``): checkout refuses it.
    sellable: bool = True
    #: What the line counts against its owner's flash-sale limit, as stored.
    counted: Counted | None = None
    #: The flash sale live on the SKU now (``with_current_prices``), whose price the line shows.
    sale_now: FlashSale | None = None

    @property
    def holds_stock(self) -> bool:
        """True while the line's units are still counted in the shards' ``reserved``."""
        return self.expires_at is not None and any(self.takes.values())

    def hold(self, shard_count: int) -> Hold | None:
        """The hold as the reservation rules see it, widened to ``shard_count`` shards."""
        if not self.holds_stock or self.expires_at is None:
            return None
        width = max(shard_count, max(self.takes, default=-1) + 1)
        return Hold(tuple(self.takes.get(i, 0) for i in range(width)), self.expires_at)

    def reserved_until(self, now: int) -> int | None:
        """Expiry of a live hold; None once the hold has lapsed (released or not)."""
        if self.holds_stock and self.expires_at is not None and self.expires_at > now:
            return self.expires_at
        return None


@dataclass(frozen=True)
class StoredCart:
    """A cart header and its lines, read together."""

    cart_id: str
    owner_sub: str | None
    token_hash: str | None
    shipping_address: Mapping[str, str] | None
    coupons: tuple[str, ...]
    lines: tuple[StoredLine, ...]
    version: int = 0
    #: The order this cart became at checkout; a checked-out cart refuses every change (409).
    order_id: str | None = None
    #: The abandoned-cart reminder was sent for it: it never enters the idle index again.
    reminded: bool = False

    @property
    def checked_out(self) -> bool:
        return self.order_id is not None

    def line(self, sku: str) -> StoredLine | None:
        return next((line for line in self.lines if line.sku == sku), None)

    def to_domain(self, now: int) -> Cart:
        """The cart as the domain rules see it at ``now`` (lapsed holds have no expiry)."""
        address = ShippingAddress(**self.shipping_address) if self.shipping_address else None
        return Cart(
            self.cart_id,
            owner=self.owner_sub,
            guest_token_hash=None if self.owner_sub else self.token_hash,
            lines=tuple(
                CartLine(line.sku, line.quantity, line.unit_price, line.reserved_until(now))
                for line in self.lines
            ),
            shipping_address=address,
            coupons=self.coupons,
        )


def _plain(value: Any) -> dict[str, Any]:
    """A raw map attribute's content as a dict (PynamoDB hands back a MapAttribute)."""
    if value is None:
        return {}
    values = getattr(value, "attribute_values", value)
    return dict(values)


def line_key(cart_id: str, sku: str) -> batch_reads.Key[CartLineModel]:
    """The key of the cart's line for ``sku``, for a caller that reads it in its own batch."""
    return batch_reads.Key(CartLineModel, keys.cart_pk(cart_id), keys.line_sk(sku))


def with_line(cart: StoredCart, sku: str, line: StoredLine | None) -> StoredCart:
    """``cart`` with its line for ``sku`` now ``line`` (None: gone), lines in key order."""
    others = [kept for kept in cart.lines if kept.sku != sku]
    lines = sorted([*others, *([line] if line is not None else [])], key=lambda kept: kept.sku)
    return replace(cart, lines=tuple(lines))


def line_from_model(model: CartLineModel) -> StoredLine:
    """A line as read from the table or from the holds index."""
    takes = {int(k): int(v) for k, v in _plain(model.takes).items() if int(v)}
    counted = None
    if model.sale_id is not None and model.sale_customer is not None and model.sale_units:
        counted = Counted(model.sale_id, model.sale_customer, int(model.sale_units))
    return StoredLine(
        sku=model.sku,
        quantity=int(model.quantity),
        unit_price=Money(int(model.unit_price.amount), model.unit_price.currency),
        version=int(model.version),
        takes=takes,
        expires_at=int(model.expires_at) if model.expires_at is not None else None,
        counted=counted,
    )


def create(
    cart_id: str, *, owner_sub: str | None, token_hash: str | None, at: str, now: int
) -> None:
    """Write a new, empty cart (an id collision fails loudly rather than overwrite a cart)."""
    header = CartModel(
        keys.cart_pk(cart_id),
        keys.CART_SK,
        cart_id=cart_id,
        owner_sub=owner_sub,
        token_hash=None if owner_sub else token_hash,
        coupons=[],
        version=1,
        created_at=at,
        updated_at=at,
        ttl=now + CART_TTL_SECONDS,
        gsi2pk=keys.owner_gsi2pk(owner_sub) if owner_sub else None,
        gsi2sk=at if owner_sub else None,
        gsi1pk=keys.idle_gsi1pk(keys.idle_bucket(cart_id)) if owner_sub else None,
        gsi1sk=keys.idle_gsi1sk(at, cart_id) if owner_sub else None,
    )
    header.save(condition=CartModel.pk.does_not_exist())


def _partition(cart_id: str) -> tuple[CartModel | None, list[CartLineModel]]:
    """The cart's header and lines: one consistent Query of its partition (they share it)."""
    connection = CartModel._get_connection()
    header: CartModel | None = None
    lines: list[CartLineModel] = []
    start: Any = None
    while True:
        page = connection.query(
            keys.cart_pk(cart_id), consistent_read=True, exclusive_start_key=start
        )
        for item in page.get("Items", []):
            if item.get("sk", {}).get("S") == keys.CART_SK:
                header = CartModel.from_raw_data(item)
            else:
                lines.append(CartLineModel.from_raw_data(item))
        start = page.get("LastEvaluatedKey")
        if not start:
            return header, lines


def load(cart_id: str) -> StoredCart | None:
    """The cart and its lines, read consistently in one request."""
    header, lines = _partition(cart_id)
    if header is None:
        return None
    address = _plain(header.shipping_address)
    return StoredCart(
        cart_id=cart_id,
        owner_sub=header.owner_sub,
        token_hash=header.token_hash,
        shipping_address={str(k): str(v) for k, v in address.items()} or None,
        coupons=tuple(str(code) for code in header.coupons or []),
        lines=tuple(line_from_model(line) for line in lines),
        version=int(header.version or 0),
        order_id=header.order_id,
        reminded=header.reminded_at is not None,
    )


def unit_price(sku: str) -> SkuOffer | None:
    """The SKU's current catalog price and whether it is sold now, or None for a SKU the
    catalog does not have (``products.offers``: the one reader of a SKU's current price)."""
    return products.offers([sku]).get(sku)


def with_current_prices(
    cart: StoredCart, known: Mapping[str, SkuOffer] | None = None
) -> StoredCart:
    """``cart`` with each line at its SKU's current price, and lines of archived products
    marked unsellable: what the cart costs now, and what checkout charges (one batched read of
    the SKUs whose offer is not ``known`` already)."""
    if not cart.lines:
        return cart
    offers = dict(known or {})
    missing = [line.sku for line in cart.lines if line.sku not in offers]
    if missing:
        offers.update(products.offers(missing))
    lines = tuple(
        replace(
            line,
            unit_price=offers[line.sku].price,
            sellable=offers[line.sku].sellable,
            sale_now=offers[line.sku].flash_sale,
        )
        if line.sku in offers
        else line
        for line in cart.lines
    )
    return replace(cart, lines=lines)


def write_guard(cart: StoredCart) -> Condition:
    """The cart still has the owner (or guest token) it had when ``cart`` was read, and has not
    been checked out (a checked-out cart is the order's record and never changes again)."""
    guard: Condition
    if cart.owner_sub is not None:
        guard = CartModel.owner_sub == cart.owner_sub
    else:
        guard = (CartModel.token_hash == (cart.token_hash or "")) & (
            CartModel.owner_sub.does_not_exist()
        )
    guard &= CartModel.checked_out_at.does_not_exist()
    return guard


def check_out(
    tx: LabelledTransaction, cart: StoredCart, order_id: str, *, at: str, now: int
) -> None:
    """Add to ``tx``: the cart becomes order ``order_id`` (label ``cart``), if it is exactly the
    version read, still the caller's, and not checked out yet; it never changes again."""
    header = CartModel(keys.cart_pk(cart.cart_id), keys.CART_SK)
    actions = [
        CartModel.checked_out_at.set(at),
        CartModel.order_id.set(order_id),
        *touch_actions(cart, at, now, idle=False),
    ]
    tx.update("cart", header, actions, write_guard(cart) & (CartModel.version == cart.version))


def _idle_keys(cart_id: str, updated_at: str) -> list[Action]:
    return [
        CartModel.gsi1pk.set(keys.idle_gsi1pk(keys.idle_bucket(cart_id))),
        CartModel.gsi1sk.set(keys.idle_gsi1sk(updated_at, cart_id)),
    ]


def _no_idle_keys() -> list[Action]:
    return [CartModel.gsi1pk.remove(), CartModel.gsi1sk.remove()]


def touch_actions(cart: StoredCart, at: str, now: int, *, idle: bool = True) -> list[Action]:
    """The header's part of any change made at ``at``: change time, TTL, version, and the
    owner and idle indexes' keys (``idle=False``: the change ends the cart's candidacy)."""
    actions: list[Action] = [
        CartModel.updated_at.set(at),
        CartModel.ttl.set(now + CART_TTL_SECONDS),
        CartModel.version.set(CartModel.version + 1),
    ]
    if cart.owner_sub is not None:
        actions.append(CartModel.gsi2sk.set(at))
    candidate = cart.owner_sub is not None and not cart.checked_out and not cart.reminded
    actions += _idle_keys(cart.cart_id, at) if idle and candidate else _no_idle_keys()
    return actions


def touch(tx: LabelledTransaction, cart: StoredCart, *, at: str, now: int) -> None:
    """Add to ``tx``: the header records the change, if the caller's write right still holds.

    Labelled ``cart``: its condition failing means the cart changed hands meanwhile.
    """
    header = CartModel(keys.cart_pk(cart.cart_id), keys.CART_SK)
    tx.update("cart", header, touch_actions(cart, at, now), write_guard(cart))


def _update_header(cart_id: str, actions: list[Action], condition: Condition) -> bool:
    header = CartModel(keys.cart_pk(cart_id), keys.CART_SK)
    return kit.applied(lambda: header.update(actions, condition=condition))


def set_shipping_address(
    cart: StoredCart, address: Mapping[str, str], *, at: str, now: int
) -> bool:
    """Store the address; False when the cart changed hands since it was read."""
    actions = [CartModel.shipping_address.set(dict(address)), *touch_actions(cart, at, now)]
    return _update_header(cart.cart_id, actions, write_guard(cart))


def claim(cart: StoredCart, sub: str, *, at: str, now: int) -> bool:
    """Make the guest cart ``sub``'s; its token stops working. False if it was no longer a
    guest cart with that token, or was checked out meanwhile (it is the order's record then)."""
    actions: list[Action] = [
        CartModel.owner_sub.set(sub),
        CartModel.token_hash.remove(),
        CartModel.gsi2pk.set(keys.owner_gsi2pk(sub)),
        CartModel.updated_at.set(at),
        CartModel.gsi2sk.set(at),
        CartModel.ttl.set(now + CART_TTL_SECONDS),
        CartModel.version.set(CartModel.version + 1),
        *_idle_keys(cart.cart_id, at),
    ]
    condition = (
        (CartModel.token_hash == (cart.token_hash or ""))
        & CartModel.owner_sub.does_not_exist()
        & CartModel.checked_out_at.does_not_exist()
    )
    return _update_header(cart.cart_id, actions, condition)


# --- The abandoned-cart reminder (commerce/carts/reminders.py) ---------------------------------


@dataclass(frozen=True)
class IdleCart:
    """A header as the idle index holds it: a candidate last changed at ``updated_at``."""

    cart_id: str
    owner_sub: str | None
    updated_at: str
    ttl: int


def idle_signed_in_carts(idle_before: str, *, page_size: int = 100) -> Iterator[IdleCart]:
    """Candidates last changed before ``idle_before``, bucket by bucket, oldest first.

    One Query per bucket of the idle index, which holds only candidate headers (signed in, not
    checked out, not reminded, not let go since their last change): a run reads what it may
    act on, not the table. The index is eventually consistent; the reminder's conditional
    writes, not this read, decide.
    """
    for bucket in range(keys.IDLE_BUCKETS):
        rows = CartModel.gsi1.query(
            keys.idle_gsi1pk(bucket), CartModel.gsi1sk < idle_before, page_size=page_size
        )
        for header in rows:
            yield IdleCart(header.cart_id, header.owner_sub, header.updated_at, int(header.ttl))


def _as_found(cart: IdleCart) -> Condition:
    """The header is still the one found: unchanged since, still signed in to the same owner."""
    condition: Condition = (CartModel.updated_at == cart.updated_at) & (
        CartModel.owner_sub == (cart.owner_sub or "")
    )
    return condition


def drop_idle(cart: IdleCart) -> bool:
    """Take a considered cart out of the idle index until its next change; False if it changed
    (or left the index) since it was found, in which case its own write decided its keys."""
    condition = (CartModel.updated_at == cart.updated_at) & CartModel.gsi1pk.exists()
    return _update_header(cart.cart_id, _no_idle_keys(), condition)


def mark_reminded(cart: IdleCart, *, at: str) -> bool:
    """Record the reminder once, leaving the idle index: False if the cart was reminded, changed
    or checked out since."""
    condition = (
        CartModel.reminded_at.does_not_exist()
        & _as_found(cart)
        & CartModel.checked_out_at.does_not_exist()
    )
    return _update_header(
        cart.cart_id, [CartModel.reminded_at.set(at), *_no_idle_keys()], condition
    )


#: Reads of the header :func:`unmark_reminded` may take while the cart keeps changing under it.
_UNMARK_ATTEMPTS: Final = 3


def unmark_reminded(cart: IdleCart, *, at: str) -> bool:
    """Undo ``mark_reminded`` of ``at`` (its event could not be published): the cart is back in
    the idle index under its current ``updated_at``, so a later run retries it.

    The keys are written from the header as read now and conditioned on it, since a change made
    after the mark (which saw the cart reminded) left the keys out. False once the mark is not
    ``at``'s any more.
    """

    def attempt(_: int) -> bool | kit.Retry:
        try:
            header = CartModel.get(keys.cart_pk(cart.cart_id), keys.CART_SK, consistent_read=True)
        except CartModel.DoesNotExist:
            return False
        if header.reminded_at != at:
            return False
        indexed = header.owner_sub is not None and header.checked_out_at is None
        actions = [
            CartModel.reminded_at.remove(),
            *(_idle_keys(cart.cart_id, header.updated_at) if indexed else _no_idle_keys()),
        ]
        condition = (CartModel.reminded_at == at) & (CartModel.updated_at == header.updated_at)
        return True if _update_header(cart.cart_id, actions, condition) else kit.RETRY

    return kit.retry_or(attempt, default=False, attempts=_UNMARK_ATTEMPTS)


# --- Erasure (commerce/customers/privacy.py) -------------------------------------------------


def _customer_carts(sub: str) -> Iterator[tuple[CartModel, list[CartLineModel]]]:
    """Each of the customer's carts (found by the owner index) with its lines, read
    consistently: what erasure releases and then deletes."""
    for header in CartModel.gsi2.query(keys.owner_gsi2pk(sub), attributes_to_get=["pk"]):
        lines = CartLineModel.query(
            header.pk,
            CartLineModel.sk.startswith(keys.LINE_SK_PREFIX),
            consistent_read=True,
        )
        yield header, list(lines)


def customer_holds(sub: str) -> Iterator[tuple[str, StoredLine]]:
    """Each line of the customer's carts that holds stock (it is in the holds index), with its
    cart's id: erasure gives the units back before it deletes the carts."""
    # Only a line's gsi1 keys are a hold's; a header's are its place in the idle index.
    for _, lines in _customer_carts(sub):
        for line in lines:
            if line.gsi1pk is not None:
                yield line.cart_id, line_from_model(line)


def delete_customer_carts(sub: str) -> bool:
    """Delete the customer's carts (header and lines), once their holds are given back. A line
    that holds stock again (a hold landed since) is left, with its cart: deleting it would lose
    the units. True when nothing of the customer's carts is left."""
    everything = True
    for header, lines in list(_customer_carts(sub)):
        kept = [line for line in lines if not _delete_unless_holding(line)]
        if kept:
            everything = False
            continue
        CartModel(header.pk, keys.CART_SK).delete()
    return everything


def _delete_unless_holding(line: CartLineModel) -> bool:
    """Delete a cart line that holds no stock; False (and kept) if it holds some."""
    row = CartLineModel(line.pk, line.sk)
    return kit.applied(lambda: row.delete(condition=CartLineModel.gsi1pk.does_not_exist()))
