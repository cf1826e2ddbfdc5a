"""The insight book in memory, for service tests without an emulator.

It keeps the DynamoDB book's rules: a plan is applied once per key, a distinct member adds its
count only when it is new (``domain.aggregates.Tally``), the last order only moves forward.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from commerce.domain.aggregates import (
    BuyerDay,
    BuyerMonth,
    Customer,
    Day,
    Plan,
    SkuDay,
    SkuMonth,
    Tally,
)
from commerce.domain.campaigns import Touch
from commerce.domain.figures import DayCounts, RangeReads, summed
from commerce.domain.money import Money
from commerce.domain.rfm import CustomerValue
from commerce.store.analytics import FactRow


@dataclass
class MemoryInsightBook:
    tally: Tally = field(default_factory=Tally)
    last_orders: dict[str, int] = field(default_factory=dict)
    sent: dict[str, list[Touch]] = field(default_factory=dict)
    facts: list[FactRow] = field(default_factory=list)
    products: dict[str, str] = field(default_factory=dict)

    def apply(self, key: str, plan: Plan, fact: FactRow | None, *, now: int) -> bool:
        del now
        if not self.tally.apply(key, plan):
            return False
        if fact is not None:
            self.facts.append(fact)
        return True

    def note_last_order(self, customer_id: str, at: int) -> None:
        if self.last_orders.get(customer_id, -1) < at:
            self.last_orders[customer_id] = at

    def touches(self, customer_id: str, since: int, until: int) -> list[Touch]:
        return [t for t in self.sent.get(customer_id, []) if since <= t.sent_at <= until]

    def day_counts(self, first: str, last: str) -> dict[str, DayCounts]:
        return {
            target.date: DayCounts.of(counts)
            for target, counts in self.tally.counts.items()
            if isinstance(target, Day) and first <= target.date <= last
        }

    def buyer_orders(self, reads: RangeReads) -> dict[str, int]:
        found: dict[str, int] = {}
        for target, counts in self.tally.counts.items():
            if (isinstance(target, BuyerMonth) and target.month in reads.months) or (
                isinstance(target, BuyerDay) and target.date in reads.days
            ):
                found[target.buyer] = found.get(target.buyer, 0) + counts.get("orders", 0)
        return found

    def sku_counts(self, reads: RangeReads) -> dict[str, dict[str, int]]:
        rows: dict[str, list[dict[str, int]]] = {}
        for target, counts in self.tally.counts.items():
            if (isinstance(target, SkuMonth) and target.month in reads.months) or (
                isinstance(target, SkuDay) and target.date in reads.days
            ):
                rows.setdefault(target.sku, []).append(counts)
        return {sku: summed(parts) for sku, parts in rows.items()}

    def customer_value(self, customer_id: str) -> CustomerValue | None:
        counts = self.tally.counts.get(Customer(customer_id))
        last = self.last_orders.get(customer_id)
        if counts is None and last is None:
            return None
        counts = counts or {}
        return CustomerValue(counts.get("orders", 0), Money(counts.get("spend", 0)), last)

    def product_ids(self, skus: list[str]) -> dict[str, str]:
        return {sku: self.products[sku] for sku in skus if sku in self.products}
