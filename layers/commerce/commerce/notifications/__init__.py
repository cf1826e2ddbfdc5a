"""Notifications: each domain event turned into the messages it owes, each sent once.

The vocabulary (channels, purposes, event types) and the consent rules are the customer's and
live in ``commerce.domain.consent``; locale negotiation in ``commerce.domain.locale``. Here:

- ``formats``: money and date formats of each locale (pure).
- ``rendering``: the sandboxed Jinja2 environment over ``templates/{locale}/{event}.{channel}.*``.
- ``messages``: an event and a recipient in, the messages to send (with dedupe keys) out (pure).
- ``addressing``: who an event goes to, with what its templates need (profile, order, consent).
- ``delivery``: each message claimed, sent through its channel's adapter (``sender``), marked.
- ``queue``: one SQS record of the notifications queue, as the function's record handler.

docs/notifications.md has the tables.
"""
