"""Insight: the order stream added up, RFM, segments, campaigns and the export for BI.

- ``stream``: one record of the Orders or Carts stream in, its facts (``domain.order_facts``)
  and their increments (``domain.aggregates``) applied once through the insight book.
- ``book``: the port the figures are written and read through (DynamoDB), ``memory`` its fake.
- ``figures``: ``GET /admin/analytics/sales`` and ``/products``.
- ``segments``: rule-based customer groups and their members, read from the values index.
- ``campaigns``: a campaign's request, its state and results; ``campaign_queue``: its work on
  the campaigns queue (expanding the segment, one message per member and channel).
- ``export``: the day's order facts to S3 as Parquet, for Athena.
- ``schemas``: the request and response bodies of the insight routes.

docs/analytics.md has the design and the figures' exact meaning.
"""
