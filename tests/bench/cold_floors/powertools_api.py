"""The least an API function of this design imports: the consumer's floor plus Powertools'
REST resolver with request validation (``enable_validation=True``, which brings pydantic and
the OpenAPI machinery). ``tests/bench/cold_start.py`` times it beside the functions; it is
never deployed."""

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from powertools_consumer import logger, metrics, tracer  # noqa: F401

app = APIGatewayRestResolver(enable_validation=True)
