"""Product and SKU rules, and the request schema built from them."""

from __future__ import annotations

from typing import Any

import pytest
from commerce.catalog.schemas import AdjustmentIn, CreateProductIn
from commerce.domain.product import (
    MAX_SKUS,
    duplicate_skus,
    is_valid_product_id,
    is_valid_sku,
)
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("sku", ["A", "tea-1", "TEA_LJ.50G", "0" * 64, "a-b_c.d"])
def test_valid_skus(sku: str) -> None:
    assert is_valid_sku(sku)


@pytest.mark.parametrize(
    "sku", ["", "-a", ".a", "_a", "a" * 65, "a b", "a/b", "a#b", "茶", "a\n", "A\x00"]
)
def test_invalid_skus(sku: str) -> None:
    assert not is_valid_sku(sku)


@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", fullmatch=True))
def test_generated_skus_are_valid(sku: str) -> None:
    assert is_valid_sku(sku)


def test_product_ids() -> None:
    assert is_valid_product_id("0123456789abcdef0123456789abcdef")
    assert not is_valid_product_id("0123456789ABCDEF0123456789ABCDEF")
    assert not is_valid_product_id("../etc")


def test_duplicates_are_reported_once_in_order() -> None:
    assert duplicate_skus(["b", "a", "b", "c", "a", "b"]) == ["b", "a"]
    assert duplicate_skus(["a", "b"]) == []


def _sku(**overrides: Any) -> dict[str, Any]:
    return {"sku": "A-1", "price": {"amount": 100, "currency": "CNY"}, "stock": 1, **overrides}


def _product(**overrides: Any) -> dict[str, Any]:
    return {"name": "Tea", "skus": [_sku()], **overrides}


def test_minimal_product_gets_defaults() -> None:
    body = CreateProductIn.model_validate(_product())
    assert body.description == ""
    assert body.skus[0].safety_stock == 0
    assert body.skus[0].attributes == {}


@pytest.mark.parametrize(
    "body",
    [
        _product(name=""),
        _product(name="   "),
        _product(name="n" * 201),
        _product(description="d" * 5001),
        _product(skus=[]),
        _product(skus=[_sku(sku=f"S-{i}") for i in range(MAX_SKUS + 1)]),
        _product(skus=[_sku(), _sku()]),
        _product(skus=[_sku(sku="bad sku")]),
        _product(skus=[_sku(price={"amount": 1.5, "currency": "CNY"})]),
        _product(skus=[_sku(price={"amount": True, "currency": "CNY"})]),
        _product(skus=[_sku(price={"amount": "100", "currency": "CNY"})]),
        _product(skus=[_sku(price={"amount": -1, "currency": "CNY"})]),
        _product(skus=[_sku(price={"amount": 10**10 + 1, "currency": "CNY"})]),
        _product(skus=[_sku(price={"amount": 1, "currency": "USD"})]),
        _product(skus=[_sku(price={"amount": 1})]),
        _product(skus=[_sku(stock=-1)]),
        _product(skus=[_sku(stock=10**7 + 1)]),
        _product(skus=[_sku(stock=1.0)]),
        _product(skus=[_sku(safety_stock=-1)]),
        _product(skus=[_sku(attributes={f"k{i}": "v" for i in range(21)})]),
        _product(skus=[_sku(attributes={"k" * 65: "v"})]),
        _product(skus=[_sku(attributes={"k": "v" * 257})]),
        _product(skus=[_sku(attributes={"k": 1})]),
        _product(skus=[_sku(colour="red")]),
        _product(extra=True),
    ],
)
def test_bad_products_are_rejected(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CreateProductIn.model_validate(body)


def test_limits_are_inclusive() -> None:
    CreateProductIn.model_validate(
        _product(
            name="n" * 200,
            description="d" * 5000,
            skus=[
                _sku(
                    sku=f"S-{i}",
                    stock=10**7,
                    price={"amount": 10**10, "currency": "CNY"},
                    attributes={f"k{j}": "v" * 256 for j in range(20)},
                )
                for i in range(MAX_SKUS)
            ],
        )
    )


@pytest.mark.parametrize(
    "body",
    [
        {"delta": 0, "reason": "x"},
        {"delta": 1.0, "reason": "x"},
        {"delta": True, "reason": "x"},
        {"delta": "1", "reason": "x"},
        {"delta": 10**7 + 1, "reason": "x"},
        {"delta": -(10**7) - 1, "reason": "x"},
        {"delta": 1, "reason": ""},
        {"delta": 1, "reason": " "},
        {"delta": 1, "reason": "r" * 201},
        {"delta": 1},
        {"delta": 1, "reason": "x", "at": "now"},
    ],
)
def test_bad_adjustments_are_rejected(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        AdjustmentIn.model_validate(body)


@pytest.mark.parametrize("delta", [1, -1, 10**7, -(10**7)])
def test_good_adjustments(delta: int) -> None:
    assert AdjustmentIn.model_validate({"delta": delta, "reason": "count"}).delta == delta
