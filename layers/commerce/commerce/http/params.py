"""Request parameters that several functions declare alike, said once.

Each is a typing alias for a handler's signature: Powertools' resolver reads it to validate the
request and to describe the parameter in the OpenAPI document, so the same parameter is
validated and documented the same way on every route that takes it.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Header, Query

from commerce.http.auth import Caller
from commerce.http.gate import authorized
from commerce.http.pagination import MAX_PAGE_TOKEN_CHARS

#: The caller, as the route's declared access admits them (``commerce.http.access``): a guest
#: or a signed-in caller where guests may call, a signed-in one where a token is required, a
#: holder of the route's roles on a staff route, with the reach the route gives their role.
Authorized = Annotated[Caller, Depends(authorized)]

#: ``?limit=``: a page's size (API.md: at most 100).
PageLimit = Annotated[int | None, Query(ge=1, le=100, description="Page size, default 20")]
#: ``?next_token=``: the opaque cursor a previous page returned.
PageToken = Annotated[
    str | None,
    Query(
        max_length=MAX_PAGE_TOKEN_CHARS,
        pattern=r"^[A-Za-z0-9_-]*$",
        description="Cursor from the previous page (URL-safe base64)",
    ),
]

#: ``X-Cart-Token``: a guest's proof of holding the cart (and of the order placed from it).
CartToken = Annotated[
    str | None,
    Header(
        alias="X-Cart-Token",
        max_length=1024,
        description="The guest's cart_token from POST /carts",
    ),
]
