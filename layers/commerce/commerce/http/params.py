"""Request parameters that several functions declare alike, said once.

Each is a typing alias for a handler's signature: Powertools' resolver reads it to validate the
request and to describe the parameter in the OpenAPI document, so the same parameter is
validated and documented the same way on every route that takes it.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Header, Query

from commerce.http.auth import Caller, current_caller, optional_caller
from commerce.http.pagination import MAX_PAGE_TOKEN_CHARS

#: Anyone: a guest (no token) or a signed-in caller whose bearer token the function verified.
Anyone = Annotated[Caller, Depends(optional_caller)]
#: A signed-in caller (401 without a valid token).
SignedIn = Annotated[Caller, Depends(current_caller)]

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
