"""Settings every suite shares.

Powertools reads its environment when ``bluegreen.observability`` is imported (the metrics
namespace, for one). On Lambda the template's Globals are in the environment before any code
loads; tests keep that order by setting the same values before any test module is imported.
"""

import os

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "bluegreen")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "bluegreen")
