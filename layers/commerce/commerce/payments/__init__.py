"""Payments: the provider port, idempotency keys derived from the order, the sandbox provider."""
