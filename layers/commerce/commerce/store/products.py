"""Product storage: the product item, its globally unique SKU records, its listing entries and
its SKUs' price history.

A product, its SKU records, their opening stock and its listing entries are written in one
transaction, so a SKU that already belongs to another product cancels the whole creation and
nothing is left behind. Every later change ops make is one transaction too (``save``): the
product item conditioned on the version and the ``sold`` count it was read at, its listing
entries rewritten from the new state, the SKU records that carts read, and the price changes'
ledger entries. Counters (``sold``, the rating) change by their own conditional updates and are
never rewritten here, only conditioned on.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from commerce import clock
from commerce.domain.flash_sales import FlashSale, live_at, price_now
from commerce.domain.listing import Listed, newest_key, partitions, price_key
from commerce.domain.money import Money
from commerce.domain.product import NewProduct, ProductStatus
from commerce.domain.ratings import Rating
from commerce.errors import Conflict
from commerce.store import batch_reads, inventory, keys, kit
from commerce.store.flash_sales import schedule_of
from commerce.store.kit import CONDITION_FAILED
from commerce.store.tables.attributes import money_map, money_of
from commerce.store.tables.catalog import (
    ImageEntry,
    ListingEntryModel,
    PriceChangeModel,
    ProductModel,
    SkuEntry,
    SkuRecordModel,
)
from commerce.store.transactions import LabelledTransaction

PRODUCT_LABEL: Final = "product"
#: BatchGetItem's ceiling on the keys of one request.
_BATCH: Final = 100


@dataclass(frozen=True)
class StoredSku:
    sku: str
    price: Money
    attributes: Mapping[str, str]


@dataclass(frozen=True)
class StoredImage:
    """An image of a product: where its object is, and what it shows."""

    image_id: str
    key: str
    content_type: str
    alt: str = ""


@dataclass(frozen=True)
class StoredProduct:
    """A product as stored, without stock (stock lives in the inventory table)."""

    product_id: str
    name: str
    description: str
    skus: tuple[StoredSku, ...]
    created_at: str
    updated_at: str
    category_id: str | None = None
    #: The category's path (top level, then the child): the category lists it appears in.
    category_path: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    status: ProductStatus = ProductStatus.ACTIVE
    images: tuple[StoredImage, ...] = ()
    rating: Rating = field(default_factory=Rating)
    sold: int = 0
    version: int = 1
    #: Tokens the search index may hold postings of (``store/postings.py``).
    search_tokens: tuple[str, ...] = ()

    @property
    def is_active(self) -> bool:
        return self.status is ProductStatus.ACTIVE

    @property
    def partitions(self) -> tuple[str, ...]:
        """The lists the product appears in (none while archived)."""
        return partitions(self.status, self.category_path, self.tags)

    @property
    def listed(self) -> Listed:
        """What its listing entries say about it."""
        return Listed(
            product_id=self.product_id,
            created_at=self.created_at,
            prices=tuple(s.price.amount for s in self.skus),
            categories=self.category_path,
            tags=self.tags,
            sold=self.sold,
            skus=tuple(s.sku for s in self.skus),
        )

    def sku(self, code: str) -> StoredSku | None:
        return next((s for s in self.skus if s.sku == code), None)


@dataclass(frozen=True)
class PriceChange:
    """One SKU's price moving from ``old`` to ``new``, for the ledger."""

    sku: str
    old: Money
    new: Money


@dataclass(frozen=True)
class SkuOffer:
    """What a cart needs of a SKU: its product, its current price, whether it is sold now.

    ``price`` is what a unit costs now: the live flash sale's price while one is live (never
    above ``regular_price``), so carts and checkout charge it without knowing about sales;
    ``flash_sale`` is that sale's terms (id, price, per-customer limit, end), which the hold
    path counts units against.
    """

    sku: str
    product_id: str
    price: Money
    sellable: bool
    #: The lists the product is in (its partitions), as of the record's last write.
    lists: tuple[str, ...] = ()
    #: The flash sale live at the offer's time, if any.
    flash_sale: FlashSale | None = None
    #: The SKU's own price, sale or not (None: the same as ``price``).
    regular_price: Money | None = None


@dataclass(frozen=True)
class PriceHistoryEntry:
    sku: str
    old: Money
    new: Money
    actor: str
    at: str


def _sku_entries(skus: Iterable[StoredSku]) -> list[SkuEntry]:
    return [
        SkuEntry(  # type: ignore[no-untyped-call]
            sku=s.sku, price=money_map(s.price), attributes=dict(s.attributes)
        )
        for s in skus
    ]


def _image_entries(images: Iterable[StoredImage]) -> list[ImageEntry]:
    return [
        ImageEntry(  # type: ignore[no-untyped-call]
            image_id=i.image_id, key=i.key, content_type=i.content_type, alt=i.alt
        )
        for i in images
    ]


def _entries(product: StoredProduct) -> list[ListingEntryModel]:
    """The product's listing entries, one per list it appears in."""
    listed = product.listed
    return [
        ListingEntryModel(
            keys.product_pk(product.product_id),
            keys.list_sk(partition),
            lpk=keys.list_lpk(partition),
            lnew=newest_key(product.created_at, product.product_id),
            lprice=price_key(listed.from_price, product.created_at, product.product_id),
            lsold=product.sold,
            product_id=product.product_id,
            created_at=product.created_at,
            skus=[s.sku for s in product.skus],
            prices=list(listed.prices),
            cats=list(product.category_path),
            tags=list(product.tags),
        )
        for partition in product.partitions
    ]


def entry_keys(product_id: str, partitions: Iterable[str]) -> list[tuple[str, str]]:
    """The keys of a product's entries in ``partitions``."""
    return [(keys.product_pk(product_id), keys.list_sk(p)) for p in partitions]


def create(
    product_id: str,
    product: NewProduct,
    *,
    actor: str,
    at: str,
    category_path: tuple[str, ...] = (),
) -> None:
    """Write the product, its SKU records, their stock and its listing entries in one
    transaction. Raises Conflict naming the SKUs that already exist; nothing is written then."""
    skus = tuple(StoredSku(s.sku, s.price, dict(s.attributes)) for s in product.skus)
    stored = StoredProduct(
        product_id=product_id,
        name=product.name,
        description=product.description,
        skus=skus,
        created_at=at,
        updated_at=at,
        category_id=product.category_id,
        category_path=category_path,
        tags=product.tags,
    )
    tx = LabelledTransaction()
    item = ProductModel(
        keys.product_pk(product_id),
        keys.PRODUCT_SK,
        product_id=product_id,
        name=product.name,
        description=product.description,
        skus=_sku_entries(skus),
        category_id=product.category_id,
        category_path=list(category_path),
        tags=list(product.tags),
        status=ProductStatus.ACTIVE.value,
        images=[],
        rating_total=0,
        rating_count=0,
        sold=0,
        version=1,
        search_tokens=[],
        lists=list(stored.partitions),
        created_at=at,
        updated_at=at,
        created_by=actor,
    )
    tx.put(PRODUCT_LABEL, item, ProductModel.pk.does_not_exist())
    for entry in _entries(stored):
        tx.put(f"entry:{entry.sk}", entry)
    for spec in product.skus:
        record = SkuRecordModel(
            keys.sku_pk(spec.sku),
            keys.SKU_SK,
            sku=spec.sku,
            product_id=product_id,
            price=money_map(spec.price),
            attributes=dict(spec.attributes),
            status=ProductStatus.ACTIVE.value,
            lists=list(stored.partitions),
        )
        tx.put(f"sku:{spec.sku}", record, SkuRecordModel.pk.does_not_exist())
        inventory.add_new_sku(
            tx,
            sku=spec.sku,
            product_id=product_id,
            stock=spec.stock,
            safety_stock=spec.safety_stock,
            actor=actor,
            at=at,
        )
    failures = tx.commit()
    if not failures:
        return
    taken = sorted(
        {
            f.label.split(":", 1)[1]
            for f in failures
            if f.code == CONDITION_FAILED and f.label.startswith("sku:")
        }
    )
    if taken:
        raise Conflict(f"SKU already exists: {', '.join(taken)}", skus=taken)
    raise Conflict("The product could not be created; try again")


def _strings(values: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in values or [])


def from_model(model: ProductModel) -> StoredProduct:
    """A product item as read from the table."""
    return StoredProduct(
        product_id=model.product_id,
        name=model.name,
        description=model.description,
        skus=tuple(
            StoredSku(
                sku=entry.sku,
                price=money_of(entry.price),
                attributes={str(k): str(v) for k, v in entry.attributes.attribute_values.items()},
            )
            for entry in model.skus
        ),
        created_at=model.created_at,
        updated_at=model.updated_at,
        category_id=model.category_id,
        category_path=_strings(model.category_path),
        tags=_strings(model.tags),
        status=ProductStatus(model.status or ProductStatus.ACTIVE.value),
        images=tuple(
            StoredImage(i.image_id, i.key, i.content_type, i.alt or "") for i in model.images or []
        ),
        rating=Rating(int(model.rating_total or 0), int(model.rating_count or 0)),
        sold=int(model.sold or 0),
        version=int(model.version or 1),
        search_tokens=_strings(model.search_tokens),
    )


def get(product_id: str, *, consistent: bool = False) -> StoredProduct | None:
    """The product with this id, or None (``consistent`` to read one's own fresh write)."""
    try:
        item = ProductModel.get(
            keys.product_pk(product_id), keys.PRODUCT_SK, consistent_read=consistent
        )
        return from_model(item)
    except ProductModel.DoesNotExist:
        return None


def get_many(product_ids: Sequence[str]) -> dict[str, StoredProduct]:
    """The products with these ids that exist (BatchGetItem, 100 keys a request)."""
    wanted = list(dict.fromkeys(product_ids))
    found: dict[str, StoredProduct] = {}
    for start in range(0, len(wanted), _BATCH):
        batch = [(keys.product_pk(pid), keys.PRODUCT_SK) for pid in wanted[start : start + _BATCH]]
        for model in ProductModel.batch_get(batch):
            found[model.product_id] = from_model(model)
    return found


def offer_key(sku: str) -> batch_reads.Key[SkuRecordModel]:
    """The key of the SKU's record, for a caller that reads it in its own batch."""
    return batch_reads.Key(SkuRecordModel, keys.sku_pk(sku), keys.SKU_SK)


def offer_from(record: SkuRecordModel | None, at: int | None = None) -> SkuOffer | None:
    """The offer a SKU record makes at ``at`` (epoch seconds; now by default), priced by the
    flash sale live then if any; None when the catalog has no such SKU. For a reader that
    fetched the record itself, in a batch with other items, as ``offers`` does."""
    if record is None:
        return None
    regular = money_of(record.price)
    live = live_at(schedule_of(record), clock.now() if at is None else at)
    return SkuOffer(
        sku=record.sku,
        product_id=record.product_id,
        price=price_now(regular, live),
        sellable=(record.status or ProductStatus.ACTIVE.value) == ProductStatus.ACTIVE.value,
        lists=tuple(str(p) for p in record.lists or []),
        flash_sale=live,
        regular_price=regular,
    )


def offers(
    skus: Collection[str], *, at: int | None = None, consistent: bool = False
) -> dict[str, SkuOffer]:
    """Each known SKU's product, price at ``at`` (epoch seconds; now by default) and whether
    its product is sold now (one BatchGetItem per 100 SKUs). The one reader of "the current
    price of a SKU": the SKU record carries its flash sale schedule, so a live sale's price and
    terms come with the same read."""
    when = clock.now() if at is None else at
    wanted = list(dict.fromkeys(skus))
    found: dict[str, SkuOffer] = {}
    for start in range(0, len(wanted), _BATCH):
        batch = [(keys.sku_pk(sku), keys.SKU_SK) for sku in wanted[start : start + _BATCH]]
        for record in SkuRecordModel.batch_get(batch, consistent_read=consistent):
            offer = offer_from(record, when)
            if offer is not None:
                found[record.sku] = offer
    return found


def _unchanged_since(before: StoredProduct, *, sold_too: bool) -> Condition:
    """The product item is still the one ``before`` was read from: same version and, with
    ``sold_too``, the same sold count (items written before these counters existed lack them
    and read as 1 and 0)."""
    unchanged: Condition = ProductModel.version == before.version
    if before.version == 1:
        unchanged = unchanged | ProductModel.version.does_not_exist()
    if sold_too:
        sold: Condition = ProductModel.sold == before.sold
        if before.sold == 0:
            sold = sold | ProductModel.sold.does_not_exist()
        unchanged &= sold
    condition: Condition = ProductModel.pk.exists() & unchanged
    return condition


def _entry_updates(
    tx: LabelledTransaction, after: StoredProduct, kept: Iterable[str], sold: int
) -> None:
    """Entries the product keeps get what they copy anew, all but ``lsold``: a sale may move
    that one meanwhile, and these updates leave it to the sale. An entry that is missing (a
    product from before the lists existed, or whose sale could not reach its lists) is written
    again, with the ``sold`` read."""
    for entry in _entries(after):
        if entry.sk.removeprefix(keys.LIST_SK_PREFIX) not in kept:
            continue
        actions: list[Action] = [
            ListingEntryModel.lpk.set(entry.lpk),
            ListingEntryModel.lnew.set(entry.lnew),
            ListingEntryModel.lprice.set(entry.lprice),
            ListingEntryModel.product_id.set(entry.product_id),
            ListingEntryModel.created_at.set(entry.created_at),
            ListingEntryModel.skus.set(list(entry.skus)),
            ListingEntryModel.prices.set(list(entry.prices)),
            ListingEntryModel.cats.set(list(entry.cats)),
            ListingEntryModel.tags.set(list(entry.tags)),
            ListingEntryModel.lsold.set(ListingEntryModel.lsold | sold),
        ]
        tx.update(f"entry:{entry.sk}", ListingEntryModel(entry.pk, entry.sk), actions)


def _product_actions(after: StoredProduct, before: StoredProduct, actor: str) -> list[Action]:
    actions: list[Action] = [
        ProductModel.name.set(after.name),
        ProductModel.description.set(after.description),
        ProductModel.skus.set(_sku_entries(after.skus)),
        ProductModel.category_path.set(list(after.category_path)),
        ProductModel.tags.set(list(after.tags)),
        ProductModel.status.set(after.status.value),
        ProductModel.images.set(_image_entries(after.images)),
        ProductModel.lists.set(list(after.partitions)),
        ProductModel.version.set(before.version + 1),
        ProductModel.updated_at.set(after.updated_at),
        ProductModel.updated_by.set(actor),
    ]
    if after.category_id is None:
        actions.append(ProductModel.category_id.remove())
    else:
        actions.append(ProductModel.category_id.set(after.category_id))
    return actions


def _sku_record_changes(
    tx: LabelledTransaction, before: StoredProduct, after: StoredProduct
) -> None:
    moved = before.status is not after.status or before.partitions != after.partitions
    for sku in after.skus:
        old = before.sku(sku.sku)
        if old == sku and not moved:
            continue
        record = SkuRecordModel(keys.sku_pk(sku.sku), keys.SKU_SK)
        actions: list[Action] = [
            SkuRecordModel.price.set(money_map(sku.price)),
            SkuRecordModel.attributes.set(dict(sku.attributes)),
            SkuRecordModel.status.set(after.status.value),
            SkuRecordModel.lists.set(list(after.partitions)),
        ]
        owned: Condition = SkuRecordModel.product_id == after.product_id
        if old is not None:
            owned &= SkuRecordModel.price.amount == old.price.amount
        tx.update(f"sku:{sku.sku}", record, actions, owned)


def save(
    before: StoredProduct,
    after: StoredProduct,
    *,
    actor: str,
    at: str,
    price_changes: Sequence[PriceChange] = (),
    change_id: str = "",
) -> StoredProduct | None:
    """Write ``after`` over ``before`` in one transaction: the product, its listing entries
    (when what they copy changed), its SKU records and the price changes' ledger entries.

    Entries of lists the product leaves are deleted, those of lists it stays in updated (their
    ``lsold`` left alone), and those of lists it joins put with the ``sold`` it was read with,
    which is then a condition too; so a sale never waits for an edit that adds no list, and
    never goes missing from a list an edit adds. The product as written, or None when the
    product changed since ``before`` was read: read it again and decide afresh.
    """
    old, new = set(before.partitions), set(after.partitions)
    joined = new - old
    tx = LabelledTransaction()
    product = ProductModel(keys.product_pk(before.product_id), keys.PRODUCT_SK)
    tx.update(
        PRODUCT_LABEL,
        product,
        _product_actions(after, before, actor),
        _unchanged_since(before, sold_too=bool(joined)),
    )
    for pk, sk in entry_keys(before.product_id, old - new):
        tx.delete(f"drop:{sk}", ListingEntryModel(pk, sk))
    for entry in _entries(after):
        if entry.sk.removeprefix(keys.LIST_SK_PREFIX) in joined:
            tx.put(f"entry:{entry.sk}", entry)
    if before.listed != after.listed:
        _entry_updates(tx, after, old & new, before.sold)
    _sku_record_changes(tx, before, after)
    for n, change in enumerate(price_changes):
        ledger = PriceChangeModel(
            keys.sku_pk(change.sku),
            keys.price_change_sk(at, f"{change_id}{n}"),
            sku=change.sku,
            product_id=before.product_id,
            old=money_map(change.old),
            new=money_map(change.new),
            actor=actor,
            at=at,
        )
        tx.put(f"price:{change.sku}", ledger, PriceChangeModel.pk.does_not_exist())
    failures = tx.commit()
    if not failures:
        return replace(after, version=before.version + 1)
    if any(f.code == CONDITION_FAILED for f in failures):
        return None
    raise RuntimeError(f"product save refused: {[(f.label, f.code) for f in failures]}")


def set_search_tokens(
    product_id: str, tokens: Sequence[str], *, expected: Sequence[str] | None = None
) -> bool:
    """Record which tokens the search index may hold postings of; with ``expected``, only if
    the recorded set is still that one. False when that condition failed."""
    item = ProductModel(keys.product_pk(product_id), keys.PRODUCT_SK)
    condition: Condition = ProductModel.pk.exists()
    if expected is not None:
        recorded: Condition = ProductModel.search_tokens == list(expected)
        if not expected:
            recorded = recorded | ProductModel.search_tokens.does_not_exist()
        condition &= recorded
    return kit.applied(
        lambda: item.update([ProductModel.search_tokens.set(list(tokens))], condition=condition)
    )


def price_history(sku: str, *, limit: int = 100) -> list[PriceHistoryEntry]:
    """The SKU's price changes, newest first (at most ``limit``)."""
    rows = PriceChangeModel.query(
        keys.sku_pk(sku),
        PriceChangeModel.sk.startswith(keys.PRICE_SK_PREFIX),
        scan_index_forward=False,
        limit=limit,
    )
    return [
        PriceHistoryEntry(row.sku, money_of(row.old), money_of(row.new), row.actor, row.at)
        for row in rows
    ]
