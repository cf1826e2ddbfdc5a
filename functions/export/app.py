"""ExportFunction: on a schedule, yesterday's and today's order facts to S3 as Parquet, one
object per UTC day, for Athena through the Glue table (issue 14). An event naming
``{"dates": ["YYYY-MM-DD", ...]}`` writes those days again. The work is in
``commerce.analytics.export``; pyarrow ships with this function only (requirements.txt).
"""

from __future__ import annotations

from commerce.cold_start import init_done

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from commerce.analytics import export
from commerce.observability import logger, metrics


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    written = export.run(event)
    return {
        "exported": [
            {"date": e.day, "rows": e.rows, "key": e.key, "written": e.written} for e in written
        ]
    }


init_done()
