"""How far a caller reaches into a resource: a cart, an order, a ticket.

The owner of a resource (or the holder of its guest token) acts on it. Anyone else reaches only
as far as the route's declared access lets their staff role (``commerce.http.access``): not at
all (answered 404, so a stranger never learns the resource exists), to see it but not do this
(403), or to act on it as the owner would. Rules about one kind of resource (``cart_access``,
``owns`` for orders) combine ownership with this reach; they never name roles themselves.
"""

from __future__ import annotations

from enum import Enum


class Reach(Enum):
    """What a caller may do with a resource on one route."""

    NONE = "none"  # 404: not theirs, and no staff role reaches it here
    SEE = "see"  # 403: a staff role that may see it, but not do this to it
    ACT = "act"  # the owner, or a staff role that acts on anyone's

    @property
    def sees(self) -> bool:
        return self is not Reach.NONE


def owner_or(owned: bool, staff: Reach) -> Reach:
    """The reach of a caller who owns the resource (``owned``), or else of their staff role."""
    return Reach.ACT if owned else staff
