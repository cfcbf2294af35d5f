"""The one Logger, Tracer and Metrics every handler shares.

Service name and metrics namespace come from ``POWERTOOLS_SERVICE_NAME`` and
``POWERTOOLS_METRICS_NAMESPACE`` (set in the template's Globals).
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
# Tracing is on in Lambda (``Tracing: Active``); what X-Ray patches is chosen where it is
# used: botocore, in bluegreen.wiring, where boto3 is imported. Auto-patching would import
# every library X-Ray can patch that happens to be installed (requests, sqlite3, ...), none
# of which bluegreen calls, and botocore into the probe, which makes no AWS call.
tracer = Tracer(auto_patch=False)
metrics = Metrics()

# Every step of one deployment logs with the execution name as its correlation id.
EXECUTION_NAME = "execution_name"
STATE_EXECUTION_NAME = "state.execution_name"
