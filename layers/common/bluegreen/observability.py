"""The one Logger and Metrics every handler shares.

Service name and metrics namespace come from ``POWERTOOLS_SERVICE_NAME`` and
``POWERTOOLS_METRICS_NAMESPACE`` (set in the template's Globals).

Traces come from Lambda's and Step Functions' active tracing (``Tracing: Active``), which
needs no SDK in the function: the X-Ray SDKs are in maintenance mode, and the one Powertools'
Tracer wraps brings a botocore of its own into the layer that shadows the runtime's boto3.
"""

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()

# Every step of one deployment logs with the execution name as its correlation id.
EXECUTION_NAME = "execution_name"
STATE_EXECUTION_NAME = "state.execution_name"
