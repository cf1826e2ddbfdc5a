"""``GET /admin/analytics/sales`` and ``/admin/analytics/products``: the aggregates read back.

A bad range (not a date, ``from`` after ``to``, more than 366 days) is a 400 before anything is
read. The day totals are one Query per shard over the range; buyers and SKUs are read per whole
month where the range covers one and per day elsewhere (``domain.figures.plan_range``).
"""

from __future__ import annotations

from commerce.analytics.book import InsightBook, insight_book
from commerce.analytics.schemas import (
    ProductFiguresOut,
    ProductsOut,
    SalesDayOut,
    SalesOut,
    SalesTotalsOut,
)
from commerce.domain.figures import (
    DEFAULT_PRODUCTS,
    DateRange,
    parse_range,
    plan_range,
    sales_report,
    top_products,
)
from commerce.errors import ValidationFailed
from commerce.http.schemas import money_out


def _range(first: str, last: str) -> DateRange:
    parsed = parse_range(first, last)
    if isinstance(parsed, list):
        raise ValidationFailed(parsed)
    return parsed


def sales(first: str, last: str, book: InsightBook | None = None) -> SalesOut:
    span = _range(first, last)
    source = book if book is not None else insight_book()
    days = source.day_counts(span.first.isoformat(), span.last.isoformat())
    report = sales_report(span, days, source.buyer_orders(plan_range(span)))
    t = report.totals
    return SalesOut(
        from_=report.first,
        to=report.last,
        days=[
            SalesDayOut(
                date=d.date,
                orders=d.orders,
                gmv=money_out(d.gmv),
                refunds=money_out(d.refunds),
                net=money_out(d.net),
                aov=money_out(d.aov),
                units=d.units,
                customers=d.customers,
            )
            for d in report.days
        ],
        totals=SalesTotalsOut(
            orders=t.orders,
            gmv=money_out(t.gmv),
            refunds=money_out(t.refunds),
            net=money_out(t.net),
            aov=money_out(t.aov),
            units=t.units,
            customers=t.customers,
            repeat_customers=t.repeat_customers,
            repurchase_rate=t.repurchase_rate,
            carts=t.carts,
            conversion_rate=t.conversion_rate,
        ),
    )


def products(
    first: str, last: str, limit: int | None = None, book: InsightBook | None = None
) -> ProductsOut:
    span = _range(first, last)
    source = book if book is not None else insight_book()
    ranked = top_products(source.sku_counts(plan_range(span)), limit or DEFAULT_PRODUCTS)
    owners = source.product_ids([p.sku for p in ranked])
    return ProductsOut(
        from_=span.first.isoformat(),
        to=span.last.isoformat(),
        items=[
            ProductFiguresOut(
                sku=p.sku,
                product_id=owners.get(p.sku),
                units=p.units,
                revenue=money_out(p.revenue),
            )
            for p in ranked
        ],
    )
