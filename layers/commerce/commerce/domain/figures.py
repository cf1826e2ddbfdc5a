"""The figures a shop steers by, from the aggregates: sales per day and in total, top products.

API.md, "Insight": an order counts once, on the UTC day it was paid; ``gmv`` sums the totals of
orders paid, ``refunds`` the money refunded that day, ``net = gmv - refunds``, ``aov = gmv /
orders`` (rounded half up to a whole minor unit; 0 without orders); ``customers`` are distinct
buyers; ``repurchase_rate = repeat_customers / customers`` (buyers with 2+ paid orders in the
range); ``conversion_rate = orders / carts`` (carts created in the range). Rates are numbers in
[0, 1]: 0 when the denominator is 0, and a conversion above 1 (orders from carts opened before
the range) is shown as 1.

A range is read as whole months where it covers them and as days elsewhere (``plan_range``),
so a year costs about a dozen reads of monthly aggregates, not 366 of daily ones.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from commerce.domain.money import DEFAULT_CURRENCY, Money
from commerce.errors import FieldError

#: The longest range one request may ask for, in days (both ends included).
MAX_RANGE_DAYS: Final = 366
#: Products listed when the request names no limit, and at most.
DEFAULT_PRODUCTS: Final = 20
MAX_PRODUCTS: Final = 100


@dataclass(frozen=True)
class DateRange:
    """UTC calendar days ``first`` to ``last``, both included."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def dates(self) -> list[str]:
        return [(self.first + timedelta(days=n)).isoformat() for n in range(self.days)]


def parse_range(first: str, last: str) -> DateRange | list[FieldError]:
    """``from`` and ``to`` (``YYYY-MM-DD``) as a range, or the field errors that forbid it:
    not a date, ``from`` after ``to``, more than ``MAX_RANGE_DAYS`` days."""
    errors: list[FieldError] = []
    parsed: dict[str, date] = {}
    for name, text in (("from", first), ("to", last)):
        try:
            if len(text) != 10:
                raise ValueError(text)
            parsed[name] = date.fromisoformat(text)
        except ValueError:
            errors.append(FieldError(name, "must be a date as YYYY-MM-DD"))
    if errors:
        return errors
    span = DateRange(parsed["from"], parsed["to"])
    if span.first > span.last:
        return [FieldError("from", "must not be after to")]
    if span.days > MAX_RANGE_DAYS:
        return [FieldError("to", f"a range covers at most {MAX_RANGE_DAYS} days")]
    return span


@dataclass(frozen=True)
class RangeReads:
    """How a range is read: whole months (``YYYY-MM``) and the days outside them."""

    months: tuple[str, ...]
    days: tuple[str, ...]


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def plan_range(span: DateRange) -> RangeReads:
    """The months the range covers whole, and every other day of it."""
    months: list[str] = []
    days: list[str] = []
    cursor = span.first
    while True:
        stop = min(_month_end(cursor), span.last)
        if cursor.day == 1 and stop == _month_end(cursor):
            months.append(cursor.strftime("%Y-%m"))
        else:
            days += [
                date.fromordinal(n).isoformat()
                for n in range(cursor.toordinal(), stop.toordinal() + 1)
            ]
        if stop >= span.last:
            return RangeReads(tuple(months), tuple(days))
        cursor = stop + timedelta(days=1)


# --- Sales ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayCounts:
    """A day's stored counts (summed over the store's shards)."""

    orders: int = 0
    gmv: int = 0
    refunds: int = 0
    units: int = 0
    customers: int = 0
    carts: int = 0

    @classmethod
    def of(cls, counts: Mapping[str, int]) -> DayCounts:
        names = ("orders", "gmv", "refunds", "units", "customers", "carts")
        return cls(**{name: int(counts.get(name, 0)) for name in names})

    def __add__(self, other: DayCounts) -> DayCounts:
        return DayCounts(
            self.orders + other.orders,
            self.gmv + other.gmv,
            self.refunds + other.refunds,
            self.units + other.units,
            self.customers + other.customers,
            self.carts + other.carts,
        )


def average(total: int, count: int) -> int:
    """``total / count`` rounded half up to a whole minor unit; 0 when ``count`` is 0."""
    if count <= 0:
        return 0
    quotient, remainder = divmod(total, count)
    return quotient + (1 if 2 * remainder >= count else 0)


def rate(numerator: int, denominator: int) -> float:
    """A rate in [0, 1]: 0 without a denominator, never above 1."""
    if denominator <= 0:
        return 0.0
    return min(1.0, max(0.0, numerator / denominator))


@dataclass(frozen=True)
class DayFigures:
    date: str
    orders: int
    gmv: Money
    refunds: Money
    net: Money
    aov: Money
    units: int
    customers: int


@dataclass(frozen=True)
class Totals:
    orders: int
    gmv: Money
    refunds: Money
    net: Money
    aov: Money
    units: int
    customers: int
    repeat_customers: int
    repurchase_rate: float
    carts: int
    conversion_rate: float


@dataclass(frozen=True)
class SalesReport:
    first: str
    last: str
    days: tuple[DayFigures, ...]
    totals: Totals


def _money(amount: int) -> Money:
    return Money(amount, DEFAULT_CURRENCY)


def day_figures(on: str, counts: DayCounts) -> DayFigures:
    return DayFigures(
        date=on,
        orders=counts.orders,
        gmv=_money(counts.gmv),
        refunds=_money(counts.refunds),
        net=_money(counts.gmv - counts.refunds),
        aov=_money(average(counts.gmv, counts.orders)),
        units=counts.units,
        customers=counts.customers,
    )


def sales_report(
    span: DateRange, days: Mapping[str, DayCounts], buyers: Mapping[str, int]
) -> SalesReport:
    """Every day of ``span`` (days without sales at zero) and the range's totals.

    ``days`` are the stored counts by date; ``buyers`` every buyer with a paid order in the
    range, and how many (from ``plan_range``'s months and days).
    """
    listed = tuple(day_figures(d, days.get(d, DayCounts())) for d in span.dates())
    total = sum((days.get(d, DayCounts()) for d in span.dates()), DayCounts())
    customers = sum(1 for orders in buyers.values() if orders > 0)
    repeat = sum(1 for orders in buyers.values() if orders >= 2)
    totals = Totals(
        orders=total.orders,
        gmv=_money(total.gmv),
        refunds=_money(total.refunds),
        net=_money(total.gmv - total.refunds),
        aov=_money(average(total.gmv, total.orders)),
        units=total.units,
        customers=customers,
        repeat_customers=repeat,
        repurchase_rate=rate(repeat, customers),
        carts=total.carts,
        conversion_rate=rate(total.orders, total.carts),
    )
    return SalesReport(span.first.isoformat(), span.last.isoformat(), listed, totals)


def summed(rows: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Counts of several rows of one aggregate (shards, or months and days) added up."""
    total: dict[str, int] = {}
    for row in rows:
        for name, value in row.items():
            total[name] = total.get(name, 0) + int(value)
    return total


# --- Products ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductFigures:
    sku: str
    units: int
    revenue: Money


def top_products(per_sku: Mapping[str, Mapping[str, int]], limit: int) -> list[ProductFigures]:
    """The ``limit`` SKUs with the most revenue (then units, then SKU, for a stable order)."""
    ranked = sorted(
        (
            ProductFigures(sku, int(c.get("units", 0)), _money(int(c.get("revenue", 0))))
            for sku, c in per_sku.items()
        ),
        key=lambda p: (-p.revenue.amount, -p.units, p.sku),
    )
    return ranked[: max(0, limit)]
