"""``sold`` follows payments, cancellations and returns, once per event (on moto).

Settlement, cancel and the return receipt report to the catalog after every attempt; each event
moves a product's counter (and its best-selling sort key) once, however often it is reported.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from catalog_world import Catalog, new_sku
from commerce import clock
from commerce.orders import settlement
from commerce.payments.provider import charge_key
from commerce.payments.sandbox import SandboxProvider
from commerce.store import keys
from commerce.store import orders as order_store
from commerce.store.tables.catalog import ListingEntryModel
from orders_world import Shop, deliver

pytestmark = pytest.mark.integration


@pytest.fixture
def catalog(dynamodb: Any, catalog_module: ModuleType) -> Catalog:
    return Catalog(catalog_module)


def _sold(catalog: Catalog, product_id: str) -> int:
    reply = catalog.get_any(product_id)
    assert reply.status == 200
    sold: int = reply.body["sold"]
    entries = ListingEntryModel.query(
        keys.product_pk(product_id),
        ListingEntryModel.sk.startswith(keys.LIST_SK_PREFIX),
        consistent_read=True,
    )
    assert {int(entry.lsold) for entry in entries} <= {sold}  # every list agrees
    return sold


def _placed(shop: Shop, lines: dict[str, int]) -> str:
    cart_id, token = shop.cart_with(lines)
    placed = shop.place(cart_id, token=token)
    assert placed.status == 202, placed.body
    order_id: str = placed.body["order_id"]
    return order_id


def _approve(order_id: str, sandbox: SandboxProvider) -> settlement.Outcome:
    stored = order_store.load_order(order_id)
    assert stored is not None
    total = stored.order.totals.total
    charged = sandbox.charge(order_id, total, "tok_ok", charge_key(order_id))
    return settlement.approve(stored, charged.charge_id, total, provider=sandbox, now=clock.now())


@pytest.fixture
def two(catalog: Catalog) -> tuple[dict[str, Any], dict[str, Any]]:
    first = catalog.create("Cup", skus=[new_sku(), new_sku()], prices=(500, 700), tags=["tea"])
    second = catalog.create("Pot", skus=[new_sku()], prices=(3000,))
    return first, second


def test_a_paid_order_counts_once_however_often_it_is_settled(
    catalog: Catalog, shop: Shop, sandbox: SandboxProvider, two: Any
) -> None:
    first, second = two
    a, b = (s["sku"] for s in first["skus"])
    c = second["skus"][0]["sku"]
    order_id = _placed(shop, {a: 2, b: 1, c: 4})
    assert _sold(catalog, first["product_id"]) == 0  # placed is not paid
    assert _approve(order_id, sandbox).result is settlement.Result.PAID
    assert _approve(order_id, sandbox).result is settlement.Result.ALREADY_SETTLED
    assert _sold(catalog, first["product_id"]) == 3  # both SKUs of the product
    assert _sold(catalog, second["product_id"]) == 4


def test_a_lost_count_is_caught_by_the_redelivery(
    catalog: Catalog,
    shop: Shop,
    sandbox: SandboxProvider,
    two: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from commerce.store import sales

    first, _ = two
    order_id = _placed(shop, {first["skus"][0]["sku"]: 2})
    real = sales.count

    def dies(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the function timed out")

    monkeypatch.setattr(sales, "count", dies)
    with pytest.raises(RuntimeError):
        _approve(order_id, sandbox)
    monkeypatch.setattr(sales, "count", real)
    assert _sold(catalog, first["product_id"]) == 0
    assert _approve(order_id, sandbox).result is settlement.Result.ALREADY_SETTLED
    assert _sold(catalog, first["product_id"]) == 2


def test_declined_orders_never_count(
    catalog: Catalog, shop: Shop, sandbox: SandboxProvider, two: Any
) -> None:
    first, _ = two
    order_id = _placed(shop, {first["skus"][0]["sku"]: 2})
    stored = order_store.load_order(order_id)
    assert stored is not None
    settlement.decline(stored, "card_declined", now=clock.now())
    assert _approve(order_id, sandbox).result is settlement.Result.REFUNDED_UNPAYABLE
    assert _sold(catalog, first["product_id"]) == 0


def test_cancelling_a_paid_order_takes_its_units_back(
    catalog: Catalog, shop: Shop, sandbox: SandboxProvider, two: Any
) -> None:
    first, _ = two
    sku = first["skus"][0]["sku"]
    cart_id, token = shop.cart_with({sku: 3})
    order_id = shop.place(cart_id, token=token).body["order_id"]
    _approve(order_id, sandbox)
    assert _sold(catalog, first["product_id"]) == 3
    assert shop.cancel(order_id, token=token).status == 200
    assert _sold(catalog, first["product_id"]) == 0
    assert shop.cancel(order_id, token=token).status == 409
    assert _sold(catalog, first["product_id"]) == 0


def test_a_received_return_takes_its_units_back_once(
    catalog: Catalog, shop: Shop, sandbox: SandboxProvider, two: Any
) -> None:
    first, _ = two
    sku = first["skus"][0]["sku"]
    cart_id, _ = shop.cart_with({sku: 3}, who="customer")
    order_id = shop.place(cart_id, who="customer", email=None).body["order_id"]
    deliver(shop, order_id)  # paid the way the test world pays: not through settlement
    _approve(order_id, sandbox)  # a late redelivery of the approval counts the payment
    assert _sold(catalog, first["product_id"]) == 3
    requested = shop.request_return(
        order_id, {"lines": [{"sku": sku, "quantity": 2}], "reason": "quality"}, who="customer"
    )
    assert requested.status == 201, requested.body
    return_id = requested.body["return_id"]
    assert shop.receive(order_id, return_id).status == 200
    assert _sold(catalog, first["product_id"]) == 1
    assert shop.receive(order_id, return_id).status == 200  # a retried receipt
    assert _sold(catalog, first["product_id"]) == 1


def test_an_archived_product_keeps_counting_and_its_lists_catch_up(
    catalog: Catalog, shop: Shop, sandbox: SandboxProvider, two: Any
) -> None:
    first, _ = two
    order_id = _placed(shop, {first["skus"][0]["sku"]: 5})
    catalog.archive(first["product_id"])
    _approve(order_id, sandbox)
    assert _sold(catalog, first["product_id"]) == 5
    catalog.patch(first["product_id"], {"status": "active"})
    assert _sold(catalog, first["product_id"]) == 5
    assert catalog.ids(sort="best_selling", tag="tea") == [first["product_id"]]


def test_a_product_without_its_lists_still_counts_and_an_archive_and_restore_rebuilds_them(
    catalog: Catalog, two: Any
) -> None:
    """A product whose listing entries are missing (made before the lists existed): a sale
    never fails the order for it, and archiving and restoring the product writes them again."""
    from commerce.catalog.sales import DynamoSalesLedger
    from commerce.store.tables.catalog import SkuRecordModel

    first, _ = two
    pid, sku = first["product_id"], first["skus"][0]["sku"]
    for entry in ListingEntryModel.query(
        keys.product_pk(pid), ListingEntryModel.sk.startswith(keys.LIST_SK_PREFIX)
    ):
        entry.delete()
    SkuRecordModel(keys.sku_pk(sku), keys.SKU_SK).update([SkuRecordModel.lists.remove()])
    DynamoSalesLedger().count("order-old", "paid", {sku: 4})
    assert catalog.get_any(pid).body["sold"] == 4
    assert pid not in catalog.ids()
    catalog.archive(pid)
    catalog.patch(pid, {"status": "active"})
    assert _sold(catalog, pid) == 4
    assert catalog.ids(sort="best_selling", tag="tea") == [pid]


def test_a_sale_on_lists_it_remembered_wrongly_still_reaches_every_list(
    catalog: Catalog, two: Any
) -> None:
    """The ledger remembers a SKU's product and lists for a while; when the product has joined a
    list since, the sale's condition fails and it reads the product again."""
    from commerce.catalog.sales import DynamoSalesLedger

    first, _ = two
    pid, sku = first["product_id"], first["skus"][0]["sku"]
    ledger = DynamoSalesLedger()
    ledger.count("order-a", "paid", {sku: 1})
    catalog.patch(pid, {"tags": ["tea", "new-list"]})
    ledger.count("order-b", "paid", {sku: 2})  # remembers the lists from before the edit
    assert _sold(catalog, pid) == 3
    assert catalog.ids(sort="best_selling", tag="new-list") == [pid]
