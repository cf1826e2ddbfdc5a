"""Category storage: a category item each, a guard per sibling name, the tree on one index key.

Categories are few (``MAX_CATEGORIES``) and read far more often than written, so the whole tree
is one Query of gsi1 ``CATEGORIES``. A category and the guard that makes its name unique among
its siblings are written in one transaction; the parent is conditioned on still being a
top-level category, so two levels hold even against a racing request.
"""

from __future__ import annotations

from typing import Final

from commerce.domain.categories import MAX_CATEGORIES, Category, name_key
from commerce.store import keys
from commerce.store.kit import CONDITION_FAILED
from commerce.store.tables.catalog import CategoryModel, CategoryNameModel
from commerce.store.transactions import LabelledTransaction

NAME_TAKEN: Final = "name"
PARENT_CHANGED: Final = "parent"


def _from_model(model: CategoryModel) -> Category:
    return Category(model.category_id, model.name, model.parent_id)


def get(category_id: str) -> Category | None:
    try:
        return _from_model(CategoryModel.get(keys.category_pk(category_id), keys.CATEGORY_SK))
    except CategoryModel.DoesNotExist:
        return None


def create(category: Category, *, actor: str, at: str) -> str | None:
    """Write the category and its name guard; None when written, else what refused it:
    ``NAME_TAKEN`` (a sibling has the name) or ``PARENT_CHANGED`` (the parent is gone or not
    top-level any more)."""
    tx = LabelledTransaction()
    guard = CategoryNameModel(
        keys.category_name_pk(category.parent_id, name_key(category.name)),
        keys.CATEGORY_NAME_SK,
        category_id=category.category_id,
    )
    tx.put(NAME_TAKEN, guard, CategoryNameModel.pk.does_not_exist())
    item = CategoryModel(
        keys.category_pk(category.category_id),
        keys.CATEGORY_SK,
        category_id=category.category_id,
        name=category.name,
        parent_id=category.parent_id,
        created_at=at,
        created_by=actor,
        gsi1pk=keys.CATEGORIES_GSI1PK,
        gsi1sk=keys.category_gsi1sk(category.parent_id, category.category_id),
    )
    tx.put("category", item, CategoryModel.pk.does_not_exist())
    if category.parent_id is not None:
        tx.check(
            PARENT_CHANGED,
            CategoryModel,
            keys.category_pk(category.parent_id),
            keys.CATEGORY_SK,
            CategoryModel.pk.exists() & CategoryModel.parent_id.does_not_exist(),
        )
    failures = tx.commit()
    refused = [f.label for f in failures if f.code == CONDITION_FAILED]
    if not failures:
        return None
    if NAME_TAKEN in refused:
        return NAME_TAKEN
    if PARENT_CHANGED in refused:
        return PARENT_CHANGED
    raise RuntimeError(f"category refused: {[(f.label, f.code) for f in failures]}")


def all_categories() -> list[Category]:
    """Every category (one Query of the tree's index key, bounded by ``MAX_CATEGORIES``)."""
    rows = CategoryModel.gsi1.query(keys.CATEGORIES_GSI1PK, limit=MAX_CATEGORIES)
    return [_from_model(row) for row in rows]


def count() -> int:
    """How many categories exist (a COUNT Query of the tree's index key)."""
    return int(CategoryModel.gsi1.count(keys.CATEGORIES_GSI1PK))
