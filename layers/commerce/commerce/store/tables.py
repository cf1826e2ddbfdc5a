"""One base model per DynamoDB table: where its items live, said once for every model in it.

Several item shapes share each table (single-table design), so each model subclasses its
table's base here and inherits its ``Meta`` (PynamoDB looks ``Meta`` up on the class like any
attribute, and fills in its connection defaults once, where ``Meta`` is written). The bases have
no keys or attributes of their own and are never read or written themselves.

Table names and the region come from settings; the endpoint does not: botocore honours
``AWS_ENDPOINT_URL_DYNAMODB``, so the same code talks to AWS, DynamoDB Local or moto.
"""

from __future__ import annotations

from pynamodb.models import Model

from commerce.settings import get_settings

_settings = get_settings()


class CatalogTable(Model):
    """Items of the Catalog table: products, SKU records, coupons and their use counters."""

    class Meta:
        table_name = _settings.catalog_table
        region = _settings.region


class InventoryTable(Model):
    """Items of the Inventory table: stock shards, SKU meta, the ledger and adjustment marks."""

    class Meta:
        table_name = _settings.inventory_table
        region = _settings.region


class CartsTable(Model):
    """Items of the Carts table: cart headers and their lines."""

    class Meta:
        table_name = _settings.carts_table
        region = _settings.region


class OrdersTable(Model):
    """Items of the Orders table: orders, returns, perks and webhook replay guards."""

    class Meta:
        table_name = _settings.orders_table
        region = _settings.region


class CustomersTable(Model):
    """Items of the Customers table: profiles, consents, devices, points and sent-records."""

    class Meta:
        table_name = _settings.customers_table
        region = _settings.region
