"""Unit tests import the layer straight from its source directory; nothing here touches AWS.

The service tests run use cases that record metrics and logs: Powertools gets the namespace and
quiet settings a function has, so a long run's automatic metric flush is valid and the output
stays readable.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

for name, value in {
    "POWERTOOLS_METRICS_NAMESPACE": "Commerce",
    "POWERTOOLS_SERVICE_NAME": "unit",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}.items():
    os.environ.setdefault(name, value)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "layers" / "commerce"))
