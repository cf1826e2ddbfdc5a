"""Shipping zones: the table ops configure, and the shipping rule a cart or an order pays."""
