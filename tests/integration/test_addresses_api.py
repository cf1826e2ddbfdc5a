"""The address book through CustomersFunction and carts through CartFunction, on moto; the race
for the 20th address on DynamoDB Local (run directly, this file is that race's child)."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from local_engine import run_child

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration

SKU = "TEA-ADDR-1"
HOME = {
    "name": "Li Wei",
    "line1": "88 Nanjing East Road",
    "city": "Shanghai",
    "postal_code": "200001",
    "country": "cn",
    "phone": "13812345678",
    "label": "Home",
}
OFFICE = {
    "name": "Li Wei",
    "line1": "1 Zhongguancun Street",
    "line2": "Floor 12",
    "city": "Beijing",
    "postal_code": "100080",
    "country": "CN",
    "phone": "+8613812345678",
}


if __name__ != "__main__":
    from collections.abc import Callable

    from orders_world import Reply, Shop, event, invoke, problem

    class Book:
        """The address routes of one caller, and the cart route that takes an address id."""

        def __init__(self, customers: ModuleType, shop: Shop) -> None:
            self.customers = customers
            self.shop = shop

        def add(self, body: Any, who: str = "customer") -> Reply:
            return invoke(self.customers, event("customers_add_address.json", who=who, body=body))

        def list(self, who: str = "customer") -> Reply:
            return invoke(self.customers, event("customers_list_addresses.json", who=who))

        def change(self, address_id: str, body: Any, who: str = "customer") -> Reply:
            params = {"address_id": address_id}
            sample = "customers_change_address.json"
            return invoke(self.customers, event(sample, who=who, body=body, params=params))

        def remove(self, address_id: str, who: str = "customer") -> Reply:
            params = {"address_id": address_id}
            return invoke(
                self.customers, event("customers_remove_address.json", who=who, params=params)
            )

        def ship_to(self, cart_id: str, body: Any, who: str | None, token: str | None) -> Reply:
            headers = {"X-Cart-Token": token} if token else None
            built = event(
                "cart_set_saved_address.json",
                who=who,
                body=body,
                params={"cart_id": cart_id},
                headers=headers,
            )
            return invoke(self.shop.cart, built)

    @pytest.fixture
    def shop(shop: Shop, create_product: Callable[..., Any]) -> Shop:
        create_product((SKU, 20), price=2000)
        return shop

    @pytest.fixture
    def book(shop: Shop, customers_module: ModuleType) -> Book:
        return Book(customers_module, shop)

    def test_the_first_address_is_the_default_and_is_normalised(book: Book) -> None:
        added = book.add(HOME)
        assert added.status == 201, added.body
        home = added.body
        assert home["default"] is True
        assert (home["country"], home["phone"], home["label"]) == ("CN", "+8613812345678", "Home")
        assert len(home["address_id"]) == 32
        office = book.add(OFFICE).body
        assert office["default"] is False
        listed = book.list().body["items"]
        assert [(a["address_id"], a["default"]) for a in listed] == [
            (home["address_id"], True),
            (office["address_id"], False),
        ]
        assert "label" not in listed[1]

    def test_the_default_moves_and_follows_a_deletion(book: Book) -> None:
        first = book.add(HOME).body["address_id"]
        second = book.add(OFFICE).body["address_id"]
        third = book.add({**OFFICE, "label": "Parents", "default": True}).body["address_id"]
        assert [a["default"] for a in book.list().body["items"]] == [False, False, True]
        moved = book.change(first, {"default": True})
        assert moved.status == 200, moved.body
        assert moved.body["default"] is True
        assert book.remove(first).status == 204
        # The newest of the others takes the default.
        assert {a["address_id"]: a["default"] for a in book.list().body["items"]} == {
            second: False,
            third: True,
        }
        assert book.remove(third).status == 204
        assert book.remove(second).status == 204
        assert book.list().body == {"items": []}

    def test_a_change_is_checked_as_a_new_address(book: Book) -> None:
        home = book.add(HOME).body["address_id"]
        changed = book.change(home, {"line2": "Room 1203", "label": None, "city": "Shanghai"})
        assert changed.status == 200, changed.body
        assert changed.body["line2"] == "Room 1203"
        assert "label" not in changed.body
        before = book.list().body
        problem(book.change(home, {"postal_code": "12"}), 400, "validation-error")
        problem(book.change(home, {"name": None}), 400, "validation-error")
        problem(book.change(home, {"default": False}), 400, "validation-error")
        problem(book.change(home, {"colour": "red"}), 400, "validation-error")
        assert book.list().body == before

    def test_a_bad_address_names_every_field_and_adds_nothing(book: Book) -> None:
        reply = book.add({**HOME, "postal_code": "12", "phone": "call me"})
        problem(reply, 400, "validation-error")
        assert {e["field"] for e in reply.body["errors"]} == {"postal_code", "phone"}
        problem(book.add({**HOME, "label": " Home"}), 400, "validation-error")
        problem(book.add({**HOME, "label": ""}), 400, "validation-error")
        problem(book.add({k: v for k, v in HOME.items() if k != "city"}), 400, "validation-error")
        assert book.list().body == {"items": []}

    def test_a_21st_address_is_409_and_changes_nothing(book: Book, scan_all: Any) -> None:
        for n in range(20):
            assert book.add({**OFFICE, "line1": f"{n} Zhongguancun Street"}).status == 201
        before = scan_all()
        full = book.add(HOME)
        problem(full, 409, "conflict")
        assert full.body["limit"] == 20
        assert scan_all() == before

    def test_another_customers_address_is_404_to_everyone_else(book: Book, scan_all: Any) -> None:
        mine = book.add(HOME).body["address_id"]
        before = scan_all()
        problem(book.change(mine, {"label": "Theirs"}, who="other"), 404, "not-found")
        problem(book.remove(mine, who="other"), 404, "not-found")
        problem(book.remove("0" * 32), 404, "not-found")
        problem(book.remove("not-an-id"), 404, "not-found")
        assert scan_all() == before
        assert book.list(who="other").body == {"items": []}

    def test_a_cart_takes_an_address_of_its_owner_by_id(book: Book, shop: Shop) -> None:
        office = book.add(OFFICE).body["address_id"]
        cart_id, _ = shop.cart_with({SKU: 1}, who="customer")
        reply = book.ship_to(cart_id, {"address_id": office}, "customer", None)
        assert reply.status == 200, reply.body
        assert reply.body["shipping_address"]["city"] == "Beijing"
        assert reply.body["shipping_address"]["line2"] == "Floor 12"
        placed = shop.place(cart_id, who="customer", email=None)
        assert placed.status == 202, placed.body
        order = shop.get(placed.body["order_id"], who="customer").body
        assert order["shipping_address"]["line1"] == OFFICE["line1"]

    def test_anything_but_the_owners_address_is_404_on_a_cart(
        book: Book, shop: Shop, scan_all: Any
    ) -> None:
        theirs = book.add(HOME, who="other").body["address_id"]
        cart_id, _ = shop.cart_with({SKU: 1}, who="customer")
        guest_cart, token = shop.cart_with({SKU: 1})
        before = scan_all()
        problem(book.ship_to(cart_id, {"address_id": theirs}, "customer", None), 404, "not-found")
        problem(book.ship_to(cart_id, {"address_id": "0" * 32}, "customer", None), 404, "not-found")
        problem(book.ship_to(guest_cart, {"address_id": theirs}, None, token), 404, "not-found")
        both = {"address_id": theirs, **OFFICE}
        problem(book.ship_to(cart_id, both, "customer", None), 400, "validation-error")
        assert scan_all() == before

    def test_concurrent_adds_never_make_a_21st_address(dynamodb_local: str) -> None:
        result = run_child(__file__, dynamodb_local, "fill")
        assert result["errors"] == [], result
        assert result["added"] == result["stored"] == result["entries"] == 20
        assert result["full"] == result["attempts"] - 20
        assert result["defaults"] == 1


# --- the race, run in a child interpreter against DynamoDB Local ------------------------------


def _fill() -> dict[str, Any]:
    """30 adds at once into a book holding 5, each retried while told to: exactly 15 land, the
    rest are 409 full, and one address is the default."""
    from commerce.customers import addresses
    from commerce.customers.profiles import Identity
    from commerce.domain.addresses import AddressBookFull
    from commerce.errors import Conflict
    from commerce.store import addresses as store

    me = Identity(sub="c0000000-0000-4000-8000-0000000000aa", email="race@example.com")
    for n in range(5):
        addresses.add(me, {**OFFICE, "line1": f"{n} Early Road"})
    attempts = 30
    outcomes: list[str] = []

    def one(n: int) -> str:
        for _ in range(50):  # a 409 "kept changing" is asked to retry: it does
            try:
                addresses.add(me, {**OFFICE, "line1": f"{n} Race Road"}, default=n % 7 == 0)
            except AddressBookFull:
                return "full"
            except Conflict:
                continue
            except Exception as error:  # reported, never swallowed
                return f"error: {error!r}"
            return "added"
        return "error: kept losing"

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(one, range(attempts)))
    book = store.load_book(me.sub)
    header = store.AddressBookModel.get(f"CUSTOMER#{me.sub}", "ADDRESSBOOK", consistent_read=True)
    return {
        "attempts": attempts + 5,
        "added": 5 + outcomes.count("added"),
        "full": outcomes.count("full"),
        "errors": [o for o in outcomes if o.startswith("error")],
        "stored": len(book.entries),
        "defaults": sum(1 for e in book.entries if e.address_id == book.default_id),
        "entries": int(header.entries),
    }


if __name__ == "__main__":
    print(json.dumps({"fill": _fill}[sys.argv[1]]()))
