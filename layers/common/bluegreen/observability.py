"""The one Logger, Tracer and Metrics every handler shares.

Service name and metrics namespace come from ``POWERTOOLS_SERVICE_NAME`` and
``POWERTOOLS_METRICS_NAMESPACE`` (set in the template's Globals).
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()

# Every step of one deployment logs with the execution name as its correlation id.
EXECUTION_NAME = "execution_name"
STATE_EXECUTION_NAME = "state.execution_name"
