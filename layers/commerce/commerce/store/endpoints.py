"""SNS platform endpoints: the address a push message is published to, one per app install.

A device token becomes a push target by ``CreatePlatformEndpoint`` under the platform
application of its push service (FCM for Android and web, APNs for iOS). The platform
applications hold the FCM and APNs credentials; CloudFormation has no resource type for them, so
ops create them once per account and the stack takes their ARNs as parameters
(docs/notifications.md, "Push").

SNS keeps one endpoint per token and application. Creating it again with the same attributes
returns the same ARN; with other attributes (the install changed hands, so its user data names
another device) SNS refuses and names the existing endpoint in its message, which is then
updated. A token SNS disabled (the push service reported it invalid) is enabled again, since
the app has just shown it is current.

It sits with the repositories because an endpoint is a stored address like a device record:
customers write and delete it (registration, erasure), notifications read what it refuses
(``GONE_CODES``), and neither has to import the other for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from botocore.exceptions import ClientError

from commerce.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient

#: SNS's InvalidParameter message when the token already has an endpoint with other attributes.
_EXISTING_ENDPOINT: Final = re.compile(r"Endpoint (arn:\S+) already exists")

#: Publish errors that say the endpoint will never take a message again (not worth a retry).
GONE_CODES: Final = frozenset({"EndpointDisabled", "NotFound"})


class InvalidToken(ValueError):
    """SNS refused the token as not one of the push service's."""


@lru_cache(maxsize=1)
def _sns() -> SNSClient:
    import boto3  # deferred: only device registration and push use it

    return boto3.client("sns", region_name=get_settings().region)


class PlatformEndpoints:
    """Creates, refreshes and deletes platform endpoints."""

    def __init__(self, client: Callable[[], SNSClient] = _sns) -> None:
        self._client = client

    def ensure(self, application_arn: str, token: str, user_data: str) -> str:
        """The enabled endpoint of ``token`` under the application, carrying ``user_data``."""
        sns = self._client()
        try:
            created = sns.create_platform_endpoint(
                PlatformApplicationArn=application_arn, Token=token, CustomUserData=user_data
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            found = _EXISTING_ENDPOINT.search(str(error.response.get("Error", {}).get("Message")))
            if code == "InvalidParameter" and not found:
                # The push service's rules for its tokens (APNs: hexadecimal) are SNS's to
                # check: a token it refuses is the caller's mistake, not ours.
                raise InvalidToken(application_arn) from error
            if not found:
                raise
            arn = found.group(1)
            sns.set_endpoint_attributes(
                EndpointArn=arn,
                Attributes={"Token": token, "Enabled": "true", "CustomUserData": user_data},
            )
            return arn
        arn = created["EndpointArn"]
        attributes = sns.get_endpoint_attributes(EndpointArn=arn).get("Attributes", {})
        if attributes.get("Token") != token or attributes.get("Enabled", "").lower() != "true":
            sns.set_endpoint_attributes(
                EndpointArn=arn, Attributes={"Token": token, "Enabled": "true"}
            )
        return arn

    def delete(self, endpoint_arn: str) -> None:
        """Delete the endpoint; SNS treats an endpoint already gone as deleted."""
        self._client().delete_endpoint(EndpointArn=endpoint_arn)
