"""Cold import-and-init of each handler, beside its floor: boto3 and the same clients alone.

Each sample is a fresh interpreter, like a Lambda cold start. "init" is what the handler's
first invocation adds before any business logic: creating its AWS clients.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The AWS clients each handler creates (bluegreen.wiring), in the order it creates them.
CLIENTS: dict[str, list[str]] = {
    "trigger": ["stepfunctions"],
    "render": ["ecs"],
    "request_approval": ["dynamodb", "secretsmanager", "ses"],
    "approval_api": ["secretsmanager", "dynamodb", "stepfunctions"],
    "suspend_scaling": ["application-autoscaling", "dynamodb"],
    "create_deployment": ["codedeploy"],
    "check_deployment": ["codedeploy"],
    "probe_test_listener": [],
    "continue_deployment": ["codedeploy"],
    "rollback": ["codedeploy"],
    "resume_scaling": ["application-autoscaling", "dynamodb"],
    "notify": ["sns", "secretsmanager", "dynamodb"],
    "janitor": ["codedeploy", "application-autoscaling", "dynamodb"],
}

_HANDLER = """
import importlib.util, json, resource, sys, time
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
from bluegreen.adapters.aws import client
clients = [client(s) for s in json.loads(sys.argv[2])]
t1 = time.perf_counter()
print(json.dumps({"ms": (t1 - t0) * 1000,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_FLOOR = """
import json, resource, sys, time
t0 = time.perf_counter()
import boto3
clients = [boto3.client(s) for s in json.loads(sys.argv[2])]
t1 = time.perf_counter()
print(json.dumps({"ms": (t1 - t0) * 1000,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


@dataclass(frozen=True)
class ColdStart:
    handler: str
    clients: list[str]
    import_init_ms: float
    floor_ms: float
    rss_mb: float
    floor_rss_mb: float

    @property
    def overhead_ms(self) -> float:
        return self.import_init_ms - self.floor_ms


def _sample(script: str, handler: str, env: dict[str, str]) -> dict[str, float]:
    app = ROOT / "functions" / handler / "app.py"
    out = subprocess.run(
        [sys.executable, "-c", script, str(app), json.dumps(CLIENTS[handler])],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ROOT,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def measure(runs: int = 5) -> list[ColdStart]:
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "bluegreen",
        "POWERTOOLS_METRICS_NAMESPACE": "bluegreen",
        "PYTHONDONTWRITEBYTECODE": "0",
    }
    results = []
    for handler in CLIENTS:
        # interleave handler and floor samples so machine noise hits both alike
        pairs = [
            (_sample(_HANDLER, handler, env), _sample(_FLOOR, handler, env)) for _ in range(runs)
        ]
        results.append(
            ColdStart(
                handler=handler,
                clients=CLIENTS[handler],
                import_init_ms=statistics.median(h["ms"] for h, _ in pairs),
                floor_ms=statistics.median(f["ms"] for _, f in pairs),
                rss_mb=statistics.median(h["rss_mb"] for h, _ in pairs),
                floor_rss_mb=statistics.median(f["rss_mb"] for _, f in pairs),
            )
        )
    return results
