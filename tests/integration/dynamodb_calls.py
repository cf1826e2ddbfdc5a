"""The DynamoDB calls a test made, as the ``sent`` fixture records them, and what they asked.

A request's cost is counted the way DynamoDB bills it: one per call, whichever client made it.
"""

from __future__ import annotations

import os
from typing import Any

#: (operation, params) of each DynamoDB call, in the order they were made.
Sent = list[tuple[str, dict[str, Any]]]


def operations(sent: Sent) -> list[str]:
    """The operations called, in order."""
    return [operation for operation, _ in sent]


def inventory_keys(params: dict[str, Any]) -> list[str]:
    """The inventory partition keys a BatchGetItem asked for (``STOCK#…`` shards, ``SKU#…``
    metas), sorted."""
    asked = params["RequestItems"].get(os.environ["INVENTORY_TABLE"], {"Keys": []})
    return sorted(key["pk"]["S"] for key in asked["Keys"])
