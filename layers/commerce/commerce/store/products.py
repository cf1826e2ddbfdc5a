"""Product storage: the product item, its globally unique SKU records, and the product list.

A product, its SKU records and their opening stock are written in one transaction, so a SKU
that already belongs to another product cancels the whole creation and nothing is left behind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from commerce.domain.money import Money
from commerce.domain.product import NewProduct
from commerce.errors import Conflict
from commerce.store import inventory, keys
from commerce.store.kit import CONDITION_FAILED
from commerce.store.tables.attributes import MoneyMap
from commerce.store.tables.catalog import ProductModel, SkuEntry, SkuRecordModel
from commerce.store.transactions import LabelledTransaction

#: The attributes of gsi1's last evaluated key: the shape a product-list page token must have.
PAGE_KEY_NAMES: Final = ("pk", "sk", "gsi1pk", "gsi1sk")


@dataclass(frozen=True)
class StoredSku:
    sku: str
    price: Money
    attributes: Mapping[str, str]


@dataclass(frozen=True)
class StoredProduct:
    """A product as stored, without stock (stock lives in the inventory table)."""

    product_id: str
    name: str
    description: str
    skus: tuple[StoredSku, ...]
    created_at: str
    updated_at: str


def _money_map(price: Money) -> MoneyMap:
    return MoneyMap(amount=price.amount, currency=price.currency)  # type: ignore[no-untyped-call]


def create(product_id: str, product: NewProduct, *, actor: str, at: str) -> None:
    """Write the product, its SKU records and their stock in one transaction.

    Raises Conflict naming the SKUs that already exist; nothing is written then.
    """
    tx = LabelledTransaction()
    item = ProductModel(
        keys.product_pk(product_id),
        keys.PRODUCT_SK,
        gsi1pk=keys.PRODUCTS_GSI1PK,
        gsi1sk=keys.product_gsi1sk(at, product_id),
        product_id=product_id,
        name=product.name,
        description=product.description,
        skus=[
            SkuEntry(  # type: ignore[no-untyped-call]
                sku=spec.sku, price=_money_map(spec.price), attributes=dict(spec.attributes)
            )
            for spec in product.skus
        ],
        created_at=at,
        updated_at=at,
        created_by=actor,
    )
    tx.put("product", item, ProductModel.pk.does_not_exist())
    for spec in product.skus:
        record = SkuRecordModel(
            keys.sku_pk(spec.sku),
            keys.SKU_SK,
            sku=spec.sku,
            product_id=product_id,
            price=_money_map(spec.price),
            attributes=dict(spec.attributes),
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
            if f.code == CONDITION_FAILED and ":" in f.label
        }
    )
    if taken:
        raise Conflict(f"SKU already exists: {', '.join(taken)}", skus=taken)
    raise Conflict("The product could not be created; try again")


def _from_model(model: ProductModel) -> StoredProduct:
    return StoredProduct(
        product_id=model.product_id,
        name=model.name,
        description=model.description,
        skus=tuple(
            StoredSku(
                sku=entry.sku,
                price=Money(int(entry.price.amount), entry.price.currency),
                attributes={str(k): str(v) for k, v in entry.attributes.attribute_values.items()},
            )
            for entry in model.skus
        ),
        created_at=model.created_at,
        updated_at=model.updated_at,
    )


def get(product_id: str, *, consistent: bool = False) -> StoredProduct | None:
    """The product with this id, or None (``consistent`` to read one's own fresh write)."""
    try:
        item = ProductModel.get(
            keys.product_pk(product_id), keys.PRODUCT_SK, consistent_read=consistent
        )
        return _from_model(item)
    except ProductModel.DoesNotExist:
        return None


def _page_key(model: ProductModel) -> dict[str, dict[str, Any]]:
    return {
        "pk": {"S": model.pk},
        "sk": {"S": model.sk},
        "gsi1pk": {"S": model.gsi1pk},
        "gsi1sk": {"S": model.gsi1sk},
    }


def is_product_page_key(key: Mapping[str, Any]) -> bool:
    """True when a decoded page token points into the product list (not some other list)."""
    try:
        return (
            key["gsi1pk"]["S"] == keys.PRODUCTS_GSI1PK
            and key["sk"]["S"] == keys.PRODUCT_SK
            and str(key["pk"]["S"]).startswith(keys.product_pk(""))
        )
    except (KeyError, TypeError):
        return False


def list_page(
    limit: int, start_key: Mapping[str, Any] | None
) -> tuple[Sequence[StoredProduct], dict[str, dict[str, Any]] | None]:
    """Up to ``limit`` products newest first, and the key to continue from (None at the end).

    One extra item is read so the last page is known to be last: DynamoDB alone would hand
    back a key that leads to an empty page when the list ends exactly on a page boundary.
    """
    rows = list(
        ProductModel.gsi1.query(
            keys.PRODUCTS_GSI1PK,
            scan_index_forward=False,
            limit=limit + 1,
            page_size=limit + 1,
            last_evaluated_key=dict(start_key) if start_key else None,
        )
    )
    next_key = _page_key(rows[limit - 1]) if len(rows) > limit else None
    return [_from_model(row) for row in rows[:limit]], next_key
