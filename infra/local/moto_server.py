"""The embedded moto server: SQS, SNS, SES, Cognito, EventBridge, Scheduler and SSM.

It runs in the stack's own process (a thread), so its backends can also be read directly:
the outbox reads what SES and SNS really received.
"""

from __future__ import annotations

from typing import Any

import boto3
import boto3.session
from moto.server import ThreadedMotoServer

from infra.local.dynamodb_local import LOCAL_KEY
from infra.local.processes import free_port, wait_for_port
from infra.local.template import REGION

# Service id suffixes of botocore's per-service endpoint variables (AWS_ENDPOINT_URL_<ID>).
MOTO_SERVICE_ENV_IDS = (
    "SQS",
    "SNS",
    "SES",
    "SESV2",
    "COGNITO_IDENTITY_PROVIDER",
    "EVENTBRIDGE",
    "SCHEDULER",
    "SSM",
    "SECRETS_MANAGER",
    "STS",
    "CLOUDWATCH",
    "LAMBDA",
    "S3",
)


class MotoServer:
    """moto's ThreadedMotoServer on a free port, reached at 127.0.0.1.

    It listens on 127.0.0.1 only, unless ``host`` says otherwise: "0.0.0.0" lets Docker
    containers (`sam local start-api`) reach it through the host's bridge, as they reach
    DynamoDB Local, which always listens on every interface.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self._server: ThreadedMotoServer | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = free_port()
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        wait_for_port(self.port, 30.0)

    def client(self, service: str) -> Any:
        session = boto3.session.Session(
            aws_access_key_id=LOCAL_KEY, aws_secret_access_key=LOCAL_KEY, region_name=REGION
        )
        return session.client(service, endpoint_url=self.endpoint)  # type: ignore[call-overload]

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
