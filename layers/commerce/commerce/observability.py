"""One Logger, Tracer and Metrics per process, configured by the POWERTOOLS_* variables.

The service name and metrics namespace come from the function's environment, so every module of
the layer logs and measures under the function that loaded it.
"""

from __future__ import annotations

import warnings
from typing import Final

from aws_lambda_powertools import Logger, Metrics, Tracer

# A read-only request records no business metric; that is normal, not worth a warning per call.
warnings.filterwarnings("ignore", message="No application metrics to publish")

#: What X-Ray traces besides the handler: every AWS call (botocore, which PynamoDB uses too) and
#: every other outbound HTTP call (http.client, under the payment providers' libraries). The
#: default, every library the SDK knows, would import requests, sqlite3 and the rest into every
#: function at cold start only to patch them.
TRACED_MODULES: Final = ("botocore", "httplib")

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
