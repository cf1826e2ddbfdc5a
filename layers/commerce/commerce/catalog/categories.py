"""Categories: ops create them (two levels at most), everyone reads the tree, and products are
filed under a category's path (``resolve``)."""

from __future__ import annotations

import uuid

from aws_lambda_powertools.metrics import MetricUnit

from commerce.catalog.schemas import (
    CategoryChildOut,
    CategoryIn,
    CategoryNodeOut,
    CategoryOut,
    CategoryTreeOut,
)
from commerce.clock import now_iso
from commerce.domain.categories import (
    MAX_CATEGORIES,
    Category,
    category_path,
    is_valid_category_id,
    parent_refusal,
    tree,
)
from commerce.errors import Conflict, FieldError, ValidationFailed
from commerce.http.auth import Caller
from commerce.observability import logger, metrics
from commerce.store import categories as store


def _unknown(field: str) -> ValidationFailed:
    return ValidationFailed([FieldError(field, "No such category")])


def find(category_id: str, field: str) -> Category:
    """The category ``category_id`` names; 400 (naming ``field``) when there is none."""
    found = store.get(category_id) if is_valid_category_id(category_id) else None
    if found is None:
        raise _unknown(field)
    return found


def resolve(category_id: str | None, field: str = "category_id") -> tuple[str, ...]:
    """The path a product in ``category_id`` is filed under (empty for none); 400 if unknown."""
    if category_id is None:
        return ()
    return category_path(find(category_id, field))


def create_category(body: CategoryIn, caller: Caller) -> CategoryOut:
    """A new category: top-level, or the child of a top-level one (a third level is 409)."""
    if body.parent_id is not None:
        problem = parent_refusal(find(body.parent_id, "parent_id"))
        if problem is not None:
            raise Conflict(problem)
    if store.count() >= MAX_CATEGORIES:
        raise Conflict(f"The catalog holds at most {MAX_CATEGORIES} categories")
    category = Category(uuid.uuid4().hex, body.name.strip(), body.parent_id)
    refused = store.create(category, actor=caller.actor(), at=now_iso())
    if refused == store.NAME_TAKEN:
        raise Conflict("A category with this name already exists at this place in the tree")
    if refused == store.PARENT_CHANGED:
        raise Conflict("The parent is no longer a top-level category")
    metrics.add_metric(name="CategoryCreated", unit=MetricUnit.Count, value=1)
    logger.info(
        "category created",
        extra={"category_id": category.category_id, "parent_id": category.parent_id},
    )
    return CategoryOut(
        category_id=category.category_id, name=category.name, parent_id=category.parent_id
    )


def category_tree() -> CategoryTreeOut:
    """Every category, two levels, each level by name."""
    return CategoryTreeOut(
        items=[
            CategoryNodeOut(
                category_id=node.category.category_id,
                name=node.category.name,
                children=[
                    CategoryChildOut(category_id=c.category_id, name=c.name) for c in node.children
                ],
            )
            for node in tree(store.all_categories())
        ]
    )
