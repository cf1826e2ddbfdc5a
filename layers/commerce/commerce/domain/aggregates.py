"""Facts into counts: which aggregates one fact adds to, and by how much.

Every figure of the insight routes is a sum over aggregates kept per UTC day (and per month, so
a long range reads a dozen months rather than hundreds of days):

| aggregate                  | counts                                                   |
|----------------------------|----------------------------------------------------------|
| ``Day(date)``              | orders, gmv, units, refunds, customers (distinct), carts |
| ``SkuDay(date, sku)``      | units, revenue                                           |
| ``SkuMonth(month, sku)``   | units, revenue                                           |
| ``BuyerDay(date, buyer)``  | orders (a buyer's paid orders that day)                  |
| ``BuyerMonth(month, buyer)`` | orders                                                 |
| ``Customer(customer_id)``  | orders, spend (paid less refunded): the F and M of RFM  |
| ``Campaign(campaign_id)``  | orders, revenue (paid by a recipient within 7 days)      |

A ``Plan`` is the increments of one fact, at most one per aggregate (a DynamoDB transaction
may not touch an item twice). ``Day.customers`` is a distinct count: it grows only when the
fact's ``BuyerDay`` did not exist yet, which ``Plan.distinct`` says and the store decides with
the write's own condition (the same rule ``apply`` below follows for the in-memory book and
the tests). Every count is an integer; money is in minor units of the shop's currency.

Applying a plan is exactly-once per stream record (the store guards it by the record's event
id), and sums commute, so the aggregates equal a recomputation from the orders whatever the
order and number of deliveries (tests/unit/test_aggregates.py holds them to that).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from commerce.domain.campaigns import Touch, attributed
from commerce.domain.order_facts import CartOpened, Fact, Paid, Refunded, utc_date


@dataclass(frozen=True, order=True)
class Day:
    date: str


@dataclass(frozen=True, order=True)
class SkuDay:
    date: str
    sku: str


@dataclass(frozen=True, order=True)
class SkuMonth:
    month: str
    sku: str


@dataclass(frozen=True, order=True)
class BuyerDay:
    date: str
    buyer: str


@dataclass(frozen=True, order=True)
class BuyerMonth:
    month: str
    buyer: str


@dataclass(frozen=True, order=True)
class Customer:
    customer_id: str


@dataclass(frozen=True, order=True)
class Campaign:
    campaign_id: str


Aggregate = Day | SkuDay | SkuMonth | BuyerDay | BuyerMonth | Customer | Campaign

#: The count a new ``BuyerDay`` adds to its ``Day``.
DISTINCT_CUSTOMERS: Final = "customers"


def month_of(date: str) -> str:
    """``2026-11`` of ``2026-11-11``."""
    return date[:7]


@dataclass(frozen=True)
class Increment:
    """Counts to add to one aggregate (negative for money going back)."""

    target: Aggregate
    counts: Mapping[str, int]


@dataclass(frozen=True)
class Distinct:
    """``member`` counts a distinct member of ``within``: when ``member`` is created by this
    plan, ``within`` also gains ``extra``."""

    member: Aggregate
    within: Aggregate
    extra: Mapping[str, int]


@dataclass(frozen=True)
class Plan:
    """What one fact adds: one increment per aggregate, and the distinct counts among them."""

    increments: tuple[Increment, ...] = ()
    distinct: tuple[Distinct, ...] = ()

    def __post_init__(self) -> None:
        targets = [i.target for i in self.increments]
        if len(set(targets)) != len(targets):
            raise ValueError("a plan adds to each aggregate at most once")
        for rule in self.distinct:
            if rule.member not in targets or rule.within not in targets:
                raise ValueError("a distinct count names aggregates of the plan")

    @property
    def empty(self) -> bool:
        return not self.increments

    def counts_for(self, target: Aggregate, *, created: Iterable[Aggregate] = ()) -> dict[str, int]:
        """The counts ``target`` gains, with the distinct extras of the members in
        ``created`` (those this plan's write creates)."""
        made = set(created)
        counts: dict[str, int] = {}
        for increment in self.increments:
            if increment.target == target:
                counts.update(increment.counts)
        for rule in self.distinct:
            if rule.within == target and rule.member in made:
                for name, value in rule.extra.items():
                    counts[name] = counts.get(name, 0) + value
        return counts


def _merged(increments: Iterable[Increment]) -> tuple[Increment, ...]:
    """One increment per aggregate (counts of the same name summed), in a stable order."""
    by_target: dict[Aggregate, dict[str, int]] = {}
    for increment in increments:
        counts = by_target.setdefault(increment.target, {})
        for name, value in increment.counts.items():
            counts[name] = counts.get(name, 0) + value
    return tuple(Increment(target, counts) for target, counts in by_target.items())


def _paid(fact: Paid, touches: Sequence[Touch]) -> Plan:
    date = utc_date(fact.at)
    month = month_of(date)
    total = fact.total.amount
    increments: list[Increment] = [
        Increment(Day(date), {"orders": 1, "gmv": total, "units": fact.units}),
        Increment(BuyerDay(date, fact.buyer), {"orders": 1}),
        Increment(BuyerMonth(month, fact.buyer), {"orders": 1}),
    ]
    for line in fact.lines:
        counts = {"units": line.quantity, "revenue": line.amount.amount}
        increments += [Increment(SkuDay(date, line.sku), counts)]
        increments += [Increment(SkuMonth(month, line.sku), counts)]
    if fact.customer_id is not None:
        increments.append(Increment(Customer(fact.customer_id), {"orders": 1, "spend": total}))
        for touch in touches:
            if attributed(touch.sent_at, fact.at):
                target = Campaign(touch.campaign_id)
                increments.append(Increment(target, {"orders": 1, "revenue": total}))
    return Plan(
        _merged(increments),
        (Distinct(BuyerDay(date, fact.buyer), Day(date), {DISTINCT_CUSTOMERS: 1}),),
    )


def _refunded(fact: Refunded) -> Plan:
    increments = [Increment(Day(utc_date(fact.at)), {"refunds": fact.amount.amount})]
    if fact.customer_id is not None:
        increments.append(Increment(Customer(fact.customer_id), {"spend": -fact.amount.amount}))
    return Plan(tuple(increments))


def plan_for(fact: Fact, touches: Sequence[Touch] = ()) -> Plan:
    """The increments of one fact. ``touches`` are the campaign messages the paying customer
    received (those within the attribution window count)."""
    if isinstance(fact, Paid):
        return _paid(fact, touches)
    if isinstance(fact, Refunded):
        return _refunded(fact)
    return Plan((Increment(Day(utc_date(fact.at)), {"carts": 1}),))


# --- Applying plans: the rule every book follows ----------------------------------------------


@dataclass
class Tally:
    """Aggregates as plain counts, with the plans already applied by key: the reference the
    in-memory book keeps and the tests recompute against."""

    counts: dict[Aggregate, dict[str, int]] = field(default_factory=dict)
    applied: set[str] = field(default_factory=set)

    def apply(self, key: str, plan: Plan) -> bool:
        """Add ``plan`` once per ``key``; False (nothing changes) for a key seen before."""
        if key in self.applied:
            return False
        self.applied.add(key)
        created = [rule.member for rule in plan.distinct if rule.member not in self.counts]
        for increment in plan.increments:
            target = increment.target
            current = self.counts.setdefault(target, {})
            for name, value in plan.counts_for(target, created=created).items():
                current[name] = current.get(name, 0) + value
        return True

    def of(self, target: Aggregate) -> dict[str, int]:
        return dict(self.counts.get(target, {}))


def facts_kind(fact: Fact) -> str:
    """``paid``, ``refunded`` or ``cart_opened``: how exports and logs name a fact."""
    if isinstance(fact, Paid):
        return "paid"
    if isinstance(fact, Refunded):
        return "refunded"
    assert isinstance(fact, CartOpened)
    return "cart_opened"
