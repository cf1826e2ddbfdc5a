"""Support tickets: customers open them (optionally about an order), both sides write, support
sets the status; a support reply notifies the customer; the unanswered are counted."""
