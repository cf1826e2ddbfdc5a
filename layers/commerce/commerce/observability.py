"""One Logger, Tracer and Metrics per process, configured by the POWERTOOLS_* variables.

The service name and metrics namespace come from the function's environment, so every module of
the layer logs and measures under the function that loaded it.
"""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

# A read-only request records no business metric; that is normal, not worth a warning per call.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger()
tracer = Tracer()
metrics = Metrics()
