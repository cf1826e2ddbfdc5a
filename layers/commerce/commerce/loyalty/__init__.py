"""Loyalty: the points a customer earns and redeems, and the member tier their spend gives.

The rules are pure and live in ``commerce.domain.points`` and ``commerce.domain.tiers``; here are
the use cases over the store: ``tiers`` (the tier in force and its discount) and ``points``
(redeeming at checkout, giving back, earning on delivery, taking back on refund). Coupons call
into loyalty for the member discount and the points of a checkout; loyalty never calls coupons.
"""
