"""The insight book: the port the stream consumer writes aggregates through and the figures
read them back from.

``insight_book()`` is the process's adapter: DynamoDB (``store/analytics.py``) unless a test
installed the in-memory book (``analytics.memory``) with ``insight_book.use``. Both keep the
same rule: a plan is applied once per key (``domain.aggregates.Tally`` says it for the fake,
a guarded transaction for DynamoDB).
"""

from __future__ import annotations

from typing import Protocol

from commerce.domain.aggregates import Plan
from commerce.domain.campaigns import Touch
from commerce.domain.figures import DayCounts, RangeReads
from commerce.domain.rfm import CustomerValue
from commerce.ports import Adapter
from commerce.store import analytics as store
from commerce.store.analytics import FactRow


class InsightBook(Protocol):
    def apply(self, key: str, plan: Plan, fact: FactRow | None, *, now: int) -> bool:
        """Apply ``plan`` (and keep ``fact``) once per ``key``: False when applied before."""
        ...

    def note_last_order(self, customer_id: str, at: int) -> None:
        """The customer's last paid order is at ``at`` unless a later one is known."""
        ...

    def touches(self, customer_id: str, since: int, until: int) -> list[Touch]: ...

    def day_counts(self, first: str, last: str) -> dict[str, DayCounts]: ...

    def buyer_orders(self, reads: RangeReads) -> dict[str, int]: ...

    def sku_counts(self, reads: RangeReads) -> dict[str, dict[str, int]]: ...

    def customer_value(self, customer_id: str) -> CustomerValue | None: ...

    def product_ids(self, skus: list[str]) -> dict[str, str]:
        """The product of each SKU (SKUs no longer in the catalog left out)."""
        ...


class DynamoInsightBook:
    """The insight book on the Analytics table."""

    def apply(self, key: str, plan: Plan, fact: FactRow | None, *, now: int) -> bool:
        return store.apply_plan(key, plan, fact, now=now)

    def note_last_order(self, customer_id: str, at: int) -> None:
        store.note_last_order(customer_id, at)

    def touches(self, customer_id: str, since: int, until: int) -> list[Touch]:
        return store.touches(customer_id, since, until)

    def day_counts(self, first: str, last: str) -> dict[str, DayCounts]:
        return store.day_counts(first, last)

    def buyer_orders(self, reads: RangeReads) -> dict[str, int]:
        return store.buyer_orders(reads)

    def sku_counts(self, reads: RangeReads) -> dict[str, dict[str, int]]:
        return store.sku_counts(reads)

    def customer_value(self, customer_id: str) -> CustomerValue | None:
        return store.customer_value(customer_id)

    def product_ids(self, skus: list[str]) -> dict[str, str]:
        return store.product_ids(skus)


insight_book: Adapter[InsightBook] = Adapter(DynamoInsightBook)
