"""The least a queue or stream consumer of this design imports: boto3 and Powertools' Logger,
Metrics, Tracer (patching botocore, as ``commerce.observability`` does) and the batch utility.
``tests/bench/cold_start.py`` times it beside the functions; it is never deployed."""

import boto3  # noqa: F401
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

logger = Logger()
tracer = Tracer(patch_modules=("botocore", "httplib"))
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)
