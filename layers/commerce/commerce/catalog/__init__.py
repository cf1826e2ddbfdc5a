"""Catalog and inventory use cases: what the catalog and inventory functions do per request."""
