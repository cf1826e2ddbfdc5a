"""Items of the Orders and Carts tables as their streams show them, read as the store reads them.

A stream record carries the item's key and its images in DynamoDB's JSON (``{"S": ...}``); the
same models that read the tables read the images, so the stream consumer sees an order exactly
as the order book does, and knows nothing of key layouts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from commerce import clock
from commerce.store import keys
from commerce.store.orders import StoredOrder, from_model
from commerce.store.tables.carts import CartModel
from commerce.store.tables.orders import OrderModel


class ImageError(ValueError):
    """An image no reader of the table could make sense of: no retry can help it."""


def _sort_key(key: Mapping[str, Any]) -> str | None:
    value = key.get("sk")
    return str(value.get("S")) if isinstance(value, Mapping) and "S" in value else None


def is_order(key: Mapping[str, Any]) -> bool:
    """The record is of an order item (not a return, perk or webhook guard)."""
    return _sort_key(key) == keys.ORDER_SK


def is_cart_header(key: Mapping[str, Any]) -> bool:
    """The record is of a cart header (not one of its lines)."""
    return _sort_key(key) == keys.CART_SK


@dataclass(frozen=True)
class OrderImage:
    """An order as one image shows it, and when that write was made (epoch s)."""

    stored: StoredOrder
    written_at: int


def order_image(image: Mapping[str, Any]) -> OrderImage:
    """The order an image holds; ``ImageError`` when it is not one."""
    try:
        model = OrderModel.from_raw_data(dict(image))
        stored = from_model(model)
        return OrderImage(stored, clock.epoch(model.updated_at))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ImageError(f"not an order image: {error!r}") from error


@dataclass(frozen=True)
class CartImage:
    cart_id: str
    created_at: int


def cart_image(image: Mapping[str, Any]) -> CartImage:
    """The cart header an image holds; ``ImageError`` when it is not one."""
    try:
        model = CartModel.from_raw_data(dict(image))
        return CartImage(model.cart_id, clock.epoch(model.created_at))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ImageError(f"not a cart image: {error!r}") from error
