"""Coupons, points and member tiers: admin use cases, carts, checkout consumption."""
