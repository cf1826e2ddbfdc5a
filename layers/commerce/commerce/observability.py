"""One Logger, Tracer and Metrics per process, configured by the POWERTOOLS_* variables.

The service name and metrics namespace come from the function's environment, so every module of
the layer logs and measures under the function that loaded it.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
