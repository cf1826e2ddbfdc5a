"""The roles a Cognito token's ``cognito:groups`` claim may grant, read the way every
integration serialises it.

Its own module, free of the token verifier and the resolver, because services that are not
behind the API (the customer profile a queue consumer ensures) read groups from claims too.
"""

from __future__ import annotations

from typing import Any

ROLES = frozenset({"customer", "support", "ops", "admin"})


def parse_groups(raw: Any) -> frozenset[str]:
    """Read ``cognito:groups`` whichever way the authorizer serialised it.

    REST API authorizers pass a comma-separated string; other integrations pass a list or a
    bracketed, space-separated string. Unknown group names are ignored.
    """
    if raw is None:
        return frozenset()
    if isinstance(raw, list | tuple | set | frozenset):
        names = [str(item) for item in raw]
    else:
        names = str(raw).strip().strip("[]").replace(",", " ").split()
    return frozenset(name for name in names if name in ROLES)
