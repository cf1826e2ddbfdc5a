"""A flash sale's per-customer limit through the handlers on moto (API.md "Flash sales (v1.1)").

The cart, orders, sweeper and customers functions are called as the gateway and the schedule
would call them, and the limit is read where it is kept: the customer's count
(``store.flash_sales.count_of``), beside the reserved stock and the cart lines. Held here:

- guests are 401 while a sale is live, and a refused request changes nothing;
- a customer holds at most the limit across their carts (409 ``purchase-limit`` with
  ``limit``, nothing written), and every way a hold ends gives its units back: a decrease, a
  removal, emptying the cart, the sweeper's expiry, erasure, a change after the sale ended;
- checkout keeps the count; a lapsed line is counted afresh at checkout (409 when over);
- the sale price is what the product and the cart show.

Time moves through the ``commerce.clock`` seam, never by sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
from catalog_world import Catalog, FlashSales, money, new_sku, operations_during
from commerce import clock
from commerce.settings import get_settings
from commerce.store import flash_sales
from http_problems import assert_problem
from orders_world import SUBS, Context, Reply, Shop, event, invoke

pytestmark = pytest.mark.integration

HOUR = 3600
LIMIT = 3
STOCK = 20

Scan = Callable[[], dict[str, list[dict[str, Any]]]]


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """The clock held still at the test's start; ``now(seconds)`` moves it that far on."""
    start = clock.now()
    current = {"at": start}
    monkeypatch.setattr(clock, "now", lambda: current["at"])

    def move(seconds: int) -> None:
        current["at"] = start + seconds

    return move


@pytest.fixture
def catalog(dynamodb: Any, catalog_module: ModuleType) -> Catalog:
    return Catalog(catalog_module)


@pytest.fixture
def sales(catalog: Catalog) -> FlashSales:
    return FlashSales(catalog)


@pytest.fixture
def sku(catalog: Catalog) -> str:
    code = new_sku("LIMIT")
    catalog.create(skus=[code], prices=(1000,), stock=STOCK)
    return code


@pytest.fixture
def sale(sales: FlashSales, sku: str, now: Callable[[int], None]) -> str:
    """A sale of ``sku`` at 600, live from now for an hour, limit 3 a customer; its id."""
    start = clock.now()
    return sales.schedule(sku, 600, start, start + HOUR, limit=LIMIT)


def _count(sale_id: str, who: str = "customer") -> int:
    return flash_sales.count_of(sale_id, SUBS[who])


def _held(shop: Shop, sku: str) -> int:
    return shop.stock(sku)["reserved"]


def _lines(shop: Shop, cart_id: str, who: str | None = "customer", token: str | None = None) -> Any:
    headers = {"X-Cart-Token": token} if token else None
    reply = invoke(
        shop.cart, event("cart_get.json", who=who, params={"cart_id": cart_id}, headers=headers)
    )
    assert reply.status == 200, reply.body
    return {line["sku"]: line["quantity"] for line in reply.body["lines"]}


def _put(shop: Shop, cart_id: str, sku: str, quantity: int, who: str = "customer") -> Reply:
    reply = shop.set_line(cart_id, sku, quantity, who=who)
    assert reply.status == 200, reply.body
    return reply


def _remove(shop: Shop, cart_id: str, sku: str, who: str = "customer") -> Reply:
    params = {"cart_id": cart_id, "sku": sku}
    return invoke(shop.cart, event("cart_remove_item.json", who=who, params=params))


def _clear(shop: Shop, cart_id: str, who: str = "customer") -> Reply:
    return invoke(shop.cart, event("cart_clear.json", who=who, params={"cart_id": cart_id}))


def _over_the_limit(reply: Reply) -> None:
    problem = assert_problem(reply, 409, "purchase-limit")
    assert problem["limit"] == LIMIT, problem


def _sweep(sweeper_module: ModuleType) -> dict[str, Any]:
    sample = {"detail-type": "Scheduled Event", "source": "aws.events", "time": "x"}
    report: dict[str, Any] = sweeper_module.lambda_handler(sample, Context(60_000))
    return report


def _past_the_hold(now: Callable[[int], None], seconds: int = 0) -> None:
    """The clock past every hold made at the start (plus ``seconds``)."""
    now(get_settings().reservation_ttl_seconds + 1 + seconds)


# --- guests --------------------------------------------------------------------------------


def test_a_guest_cannot_hold_a_live_sales_sku_and_nothing_changes(
    shop: Shop, sku: str, sale: str, scan_all: Scan
) -> None:
    cart_id, token = shop.new_cart(None)
    before = scan_all()
    assert_problem(shop.set_line(cart_id, sku, 1, token=token), 401, "unauthorized")
    # A signed-in customer holding a guest cart's token cannot fill it with sale units either.
    assert_problem(shop.set_line(cart_id, sku, 1, who="customer", token=token), 401, "unauthorized")
    assert scan_all() == before
    assert _held(shop, sku) == 0


# --- the limit across carts ------------------------------------------------------------------


def test_a_customer_holds_up_to_the_limit_across_carts_and_no_more(
    shop: Shop, sku: str, sale: str, scan_all: Scan
) -> None:
    first, _ = shop.cart_with({sku: 2}, who="customer")
    second, _ = shop.cart_with({sku: 1}, who="customer")
    assert _count(sale) == LIMIT
    assert _held(shop, sku) == LIMIT
    before = scan_all()

    _over_the_limit(shop.set_line(second, sku, 2, who="customer"))
    assert scan_all() == before
    third, _ = shop.new_cart("customer")
    with_third = scan_all()
    _over_the_limit(shop.set_line(third, sku, 1, who="customer"))
    assert scan_all() == with_third

    assert _lines(shop, first) == {sku: 2}
    assert _lines(shop, second) == {sku: 1}
    assert _lines(shop, third) == {}
    assert _count(sale) == LIMIT
    assert _held(shop, sku) == LIMIT
    # Another customer's limit is their own.
    shop.cart_with({sku: LIMIT}, who="other")
    assert _count(sale, "other") == LIMIT
    assert _held(shop, sku) == 2 * LIMIT


def test_more_than_the_limit_in_one_put_is_refused_before_any_write(
    shop: Shop, sku: str, sale: str, scan_all: Scan
) -> None:
    cart_id, _ = shop.new_cart("customer")
    before = scan_all()
    replies: list[Reply] = []
    operations = operations_during(
        lambda: replies.append(shop.set_line(cart_id, sku, LIMIT + 1, who="customer"))
    )
    _over_the_limit(replies[0])
    assert "TransactWriteItems" not in operations, operations
    assert not [op for op in operations if op.startswith(("Put", "Update", "Delete"))]
    assert scan_all() == before
    assert _count(sale) == 0


# --- every way a hold ends gives its units back -------------------------------------------------


def test_a_decrease_a_removal_and_an_emptied_cart_give_units_back(
    shop: Shop, sku: str, sale: str
) -> None:
    first, _ = shop.cart_with({sku: LIMIT}, who="customer")
    second, _ = shop.new_cart("customer")
    _over_the_limit(shop.set_line(second, sku, 1, who="customer"))

    _put(shop, first, sku, 1)
    assert _count(sale) == 1
    _put(shop, second, sku, 2)
    assert _count(sale) == LIMIT
    assert _held(shop, sku) == LIMIT

    assert _remove(shop, second, sku).status == 200
    assert _count(sale) == 1
    assert _held(shop, sku) == 1
    _put(shop, second, sku, 2)
    assert _count(sale) == LIMIT

    assert _clear(shop, second).status == 200
    assert _count(sale) == 1
    _put(shop, first, sku, LIMIT)
    assert _count(sale) == LIMIT
    assert _held(shop, sku) == LIMIT


def test_an_expired_hold_released_by_the_sweeper_gives_its_units_back(
    shop: Shop, sku: str, sale: str, sweeper_module: ModuleType, now: Callable[[int], None]
) -> None:
    shop.cart_with({sku: 2}, who="customer")
    _past_the_hold(now)
    # Expired but not swept: the hold still counts, as it still keeps its stock.
    second, _ = shop.new_cart("customer")
    _over_the_limit(shop.set_line(second, sku, 2, who="customer"))
    assert _count(sale) == 2

    assert _sweep(sweeper_module)["released"] == 1
    assert _count(sale) == 0
    assert _held(shop, sku) == 0
    _put(shop, second, sku, LIMIT)
    assert _count(sale) == LIMIT
    assert _held(shop, sku) == LIMIT


def test_erasure_gives_the_customers_sale_units_back(
    shop: Shop,
    sku: str,
    sale: str,
    customers_module: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from commerce.customers import privacy

    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    pool_id = cognito.create_user_pool(PoolName="sale-buyers")["UserPool"]["Id"]
    cognito.admin_create_user(UserPoolId=pool_id, Username="customer")
    monkeypatch.setattr(privacy, "user_pool_id", lambda: pool_id)
    shop.cart_with({sku: 2}, who="customer")
    shop.cart_with({sku: 1}, who="customer")
    shop.cart_with({sku: 2}, who="other")
    assert _count(sale) == LIMIT

    erased = invoke(customers_module, event("customers_erase.json", who="customer"))
    assert erased.status == 204, erased.body

    assert _count(sale) == 0
    assert _count(sale, "other") == 2
    assert _held(shop, sku) == 2


def test_lines_of_a_sale_that_ended_give_their_count_back_when_changed(
    shop: Shop, sales: FlashSales, now: Callable[[int], None]
) -> None:
    code = new_sku("LIMIT")
    start = clock.now()
    sale_id = _short_sale(sales, code, start, start + 120)
    first, _ = shop.cart_with({code: 2}, who="customer")
    second, _ = shop.cart_with({code: 1}, who="customer")
    assert _count(sale_id) == LIMIT

    now(121)  # the sale is over; the holds are still live
    changed = _put(shop, first, code, 2)
    assert changed.body["lines"][0]["unit_price"] == money(1000)
    assert _count(sale_id) == 1
    assert _remove(shop, second, code).status == 200
    assert _count(sale_id) == 0
    assert _held(shop, code) == 2
    # With no sale live, a line is as large as the stock allows.
    _put(shop, first, code, LIMIT + 2)
    assert _count(sale_id) == 0


def _short_sale(sales: FlashSales, code: str, start: int, end: int) -> str:
    sales.catalog.create(skus=[code], prices=(1000,), stock=STOCK)
    return sales.schedule(code, 600, start, end, limit=LIMIT)


# --- checkout --------------------------------------------------------------------------------


def test_checkout_keeps_the_count(shop: Shop, sku: str, sale: str) -> None:
    bought, _ = shop.cart_with({sku: 2}, who="customer")
    placed = shop.place(bought, who="customer")
    assert placed.status == 202, placed.body
    assert _count(sale) == 2
    assert _held(shop, sku) == 2  # the order's now, until it is paid

    later, _ = shop.new_cart("customer")
    _over_the_limit(shop.set_line(later, sku, 2, who="customer"))
    _put(shop, later, sku, 1)
    assert _count(sale) == LIMIT
    third, _ = shop.new_cart("customer")
    _over_the_limit(shop.set_line(third, sku, 1, who="customer"))


def test_a_lapsed_line_is_counted_afresh_at_checkout_and_refused_when_over(
    shop: Shop,
    sku: str,
    sale: str,
    sweeper_module: ModuleType,
    now: Callable[[int], None],
    scan_all: Scan,
) -> None:
    lapsed, _ = shop.cart_with({sku: 2}, who="customer")
    _past_the_hold(now)
    assert _sweep(sweeper_module)["released"] == 1
    assert _count(sale) == 0
    other_cart, _ = shop.cart_with({sku: 2}, who="customer")
    assert _count(sale) == 2

    before = scan_all()
    _over_the_limit(shop.place(lapsed, who="customer"))
    assert scan_all() == before
    assert shop.order_items() == []

    _put(shop, other_cart, sku, 1)
    placed = shop.place(lapsed, who="customer")
    assert placed.status == 202, placed.body
    assert _count(sale) == LIMIT
    assert _held(shop, sku) == LIMIT


def test_a_lapsed_line_not_yet_swept_is_not_counted_twice_at_checkout(
    shop: Shop, sku: str, sale: str, now: Callable[[int], None]
) -> None:
    lapsed, _ = shop.cart_with({sku: 2}, who="customer")
    _past_the_hold(now)
    placed = shop.place(lapsed, who="customer")
    assert placed.status == 202, placed.body
    assert _count(sale) == 2
    assert _held(shop, sku) == 2


def test_a_guests_line_from_before_the_sale_cannot_be_checked_out_during_it(
    shop: Shop, sales: FlashSales, sku: str, now: Callable[[int], None], scan_all: Scan
) -> None:
    start = clock.now()
    sales.schedule(sku, 600, start + 60, start + HOUR, limit=LIMIT)
    cart_id, token = shop.cart_with({sku: 1})
    now(61)  # the sale is live; the guest's hold too
    assert _lines(shop, cart_id, who=None, token=token) == {sku: 1}
    before = scan_all()
    assert_problem(shop.place(cart_id, token=token), 401, "unauthorized")
    assert_problem(shop.set_line(cart_id, sku, 2, token=token), 401, "unauthorized")
    assert scan_all() == before
    assert shop.order_items() == []
    # Taking the line out is always allowed, and gives its stock back.
    removed = invoke(
        shop.cart,
        event(
            "cart_remove_item.json",
            params={"cart_id": cart_id, "sku": sku},
            headers={"X-Cart-Token": token or ""},
        ),
    )
    assert removed.status == 200, removed.body
    assert _held(shop, sku) == 0


# --- the price -------------------------------------------------------------------------------


def test_the_product_and_the_cart_show_the_sale_price(
    shop: Shop, catalog: Catalog, sales: FlashSales
) -> None:
    code = new_sku("LIMIT")
    product = catalog.create(skus=[code], prices=(1000,), stock=STOCK)
    start = clock.now()
    sale_id = sales.schedule(code, 600, start, start + HOUR, limit=LIMIT)
    shown = catalog.get(product["product_id"]).body["skus"][0]
    assert shown["price"] == money(600)
    assert shown["flash_sale"]["flash_sale_id"] == sale_id
    cart_id, _ = shop.new_cart("customer")
    cart = _put(shop, cart_id, code, 2).body
    assert cart["lines"][0]["unit_price"] == money(600)
    assert cart["totals"]["subtotal"] == money(1200)
