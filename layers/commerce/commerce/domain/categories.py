"""Categories: two levels at most, a product in one of them, a top level that includes its own.

A category is top-level (no parent) or the child of a top-level one; a parent that itself has a
parent would make a third level and is refused. A product sits in one category, and a listing
of a top-level category includes the products of its children, so a product is filed under
its category's *path*: the top level, then the child if there is one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

NAME_MAX: Final = 100
#: Top-level categories and children together; the whole tree is read in one bounded Query.
MAX_CATEGORIES: Final = 500
#: Category ids are 32 lowercase hex characters (a uuid4 without dashes).
_CATEGORY_ID_RE: Final = re.compile(r"^[0-9a-f]{32}$")


def is_valid_category_id(value: str) -> bool:
    """True for an id this catalog could have issued; anything else cannot exist."""
    return bool(_CATEGORY_ID_RE.fullmatch(value))


def name_key(name: str) -> str:
    """What makes two sibling names the same: NFKC, trimmed, spaces collapsed, case-folded."""
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()


@dataclass(frozen=True)
class Category:
    category_id: str
    name: str
    parent_id: str | None = None

    @property
    def is_top_level(self) -> bool:
        return self.parent_id is None


def parent_refusal(parent: Category) -> str | None:
    """Why ``parent`` cannot take a child (None when it can): only top-level categories do."""
    if not parent.is_top_level:
        return "Categories have two levels at most: this parent is itself a child"
    return None


def category_path(category: Category) -> tuple[str, ...]:
    """The ids a product in ``category`` is listed under: the top level first, then the child."""
    if category.parent_id is None:
        return (category.category_id,)
    return (category.parent_id, category.category_id)


@dataclass(frozen=True)
class CategoryNode:
    """A top-level category with its children, as ``GET /categories`` shows the tree."""

    category: Category
    children: tuple[Category, ...]


def tree(categories: Iterable[Category]) -> tuple[CategoryNode, ...]:
    """The two-level tree, each level by name (then id); a child whose parent is missing is left
    out rather than shown at the wrong level."""
    ordered = sorted(categories, key=lambda c: (name_key(c.name), c.category_id))
    tops = [c for c in ordered if c.is_top_level]
    return tuple(
        CategoryNode(top, tuple(c for c in ordered if c.parent_id == top.category_id))
        for top in tops
    )
