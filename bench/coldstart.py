"""Cold start of each handler, beside its floor: boto3 and the same clients alone.

Each sample is a fresh interpreter, like a Lambda cold start, in an environment shaped like
the deployed one: ``LAMBDA_TASK_ROOT`` and ``AWS_LAMBDA_FUNCTION_NAME`` are set and tracing is
on (the template says ``Tracing: Active``), so the X-Ray SDK configures and patches itself as
it does in Lambda. Outside Lambda it would instead build a sampler with a botocore session of
its own, a cost no deployed function pays. The function's own environment variables get
placeholder values. Three phases are timed, one after the other:

- import: the handler module, everything it imports at module level;
- init: what its first invocation does before its step logic: read its settings, build its
  adapters through ``bluegreen.wiring`` (which creates the AWS clients);
- validate: the first validation of its input model on a sample event (pydantic builds
  nothing lazily here unless a model defers it; this phase shows it if one does).

The floor is a fresh interpreter importing boto3 and creating the same clients: what any
Python Lambda making these calls pays. Nothing here calls AWS.

Modules load from the virtual environment's bytecode caches. A layer shipped without
``.pyc`` files (Lambda cannot write them) compiles every module it imports at each cold
start, on top of what is measured here.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"

STATE = "bluegreen.models:DeploymentState"


@dataclass(frozen=True)
class Handler:
    """What one handler's cold start does, as the bench reproduces it."""

    clients: list[str]  # the AWS clients it creates, in order (the floor creates the same)
    init: list[str]  # expressions evaluated in the handler module's namespace
    validate: list[tuple[str, str]] = field(default_factory=lambda: [(STATE, "state")])
    env: dict[str, str] = field(default_factory=dict)


_TABLE = {"TABLE_NAME": "bluegreen-state"}
_ARN = "arn:aws:{}:us-east-1:123456789012:{}"

HANDLERS: dict[str, Handler] = {
    "trigger": Handler(
        ["stepfunctions"],
        ["catalog()", "wiring.executions()"],
        [
            ("aws_lambda_powertools.utilities.parser.models:EventBridgeModel", "ecr_push"),
            ("bluegreen.models:EcrImageAction", "ecr_push_detail"),
        ],
        {"STATE_MACHINE_ARN": _ARN.format("states", "stateMachine:bluegreen-deploy")},
    ),
    "render": Handler(["ecs"], ["wiring.task_definitions()"]),
    "request_approval": Handler(
        ["dynamodb", "secretsmanager", "ses"],
        [
            "load(ApprovalRequestSettings)",
            "wiring.state_table()",
            "wiring.secrets()",
            "wiring.mailer(load(ApprovalRequestSettings).SENDER_EMAIL)",
        ],
        [("bluegreen.models:ApprovalTask", "approval_task")],
        {
            **_TABLE,
            "APPROVAL_BASE_URL": "https://approvals.example.com",
            "SIGNING_SECRET_ARN": _ARN.format("secretsmanager", "secret:bluegreen/signing"),
            "SLACK_WEBHOOK_SECRET_NAME": "bluegreen/slack-webhook",
            "SENDER_EMAIL": "bluegreen@example.com",
        },
    ),
    "approval_api": Handler(
        ["secretsmanager", "dynamodb", "stepfunctions"],
        [
            "load(ApprovalApiSettings)",
            "wiring.secrets()",
            "wiring.state_table()",
            "wiring.task_callbacks()",
        ],
        [("bluegreen.domain.approval:LinkParams", "link_params")],
        {**_TABLE, "SIGNING_SECRET_ARN": _ARN.format("secretsmanager", "secret:bluegreen/signing")},
    ),
    "suspend_scaling": Handler(
        ["application-autoscaling", "dynamodb"],
        ["wiring.scalable_targets()", "wiring.state_table()"],
        env=_TABLE,
    ),
    "create_deployment": Handler(["codedeploy"], ["wiring.deployments()"]),
    "check_deployment": Handler(["codedeploy"], ["wiring.deployments()"]),
    "probe_test_listener": Handler([], []),
    "continue_deployment": Handler(["codedeploy"], ["wiring.deployments()"]),
    "rollback": Handler(["codedeploy"], ["wiring.deployments()"]),
    "resume_scaling": Handler(
        ["application-autoscaling", "dynamodb"],
        ["wiring.scalable_targets()", "wiring.state_table()"],
        env=_TABLE,
    ),
    "notify": Handler(
        ["sns", "secretsmanager", "dynamodb"],
        [
            "load(NotifySettings)",
            "wiring.topic(load(NotifySettings).TOPIC_ARN)",
            "wiring.secrets()",
            "wiring.state_table()",
        ],
        env={
            **_TABLE,
            "TOPIC_ARN": _ARN.format("sns", "bluegreen-notifications"),
            "SLACK_WEBHOOK_SECRET_NAME": "bluegreen/slack-webhook",
        },
    ),
    "janitor": Handler(
        ["codedeploy", "application-autoscaling", "dynamodb"],
        ["wiring.deployments()", "wiring.scalable_targets()", "wiring.state_table()"],
        [(STATE, "janitor_input")],
        _TABLE,
    ),
}


def samples() -> dict[str, Any]:
    """Input documents, shaped like the sample events (a late state: every section filled)."""
    push = json.loads((EVENTS / "ecr-push.json").read_text(encoding="utf-8"))
    aborted = json.loads((EVENTS / "janitor-execution-aborted.json").read_text(encoding="utf-8"))
    link = json.loads((EVENTS / "approval-get.json").read_text(encoding="utf-8"))
    started = json.loads(aborted["detail"]["input"])
    at = "2026-03-02T09:31:00Z"
    image = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/demo-web@{started['image']['digest']}"
    task_definition = _ARN.format("ecs", "task-definition/web:{}")
    state = {
        **started,
        "render": {
            "previous_task_definition": task_definition.format(1),
            "task_definition": task_definition.format(2),
            "previous_image": image,
            "changes": [
                {"path": "containerDefinitions[web].image", "before": image, "after": image}
            ],
        },
        "approval": {"decision": "approved", "approver": "approver@example.com", "decided_at": at},
        "scaling": {"resource_id": "service/demo/web", "registered": True, "suspended_at": at},
        "deployment": {
            "deployment_id": "d-ABCDEF123",
            "status": "Ready",
            "polls": 3,
            "ready": True,
            "created_at": at,
            "ready_at": at,
        },
        "probe": {
            "attempts": 3,
            "consecutive_passes": 3,
            "healthy": True,
            "last_status": 200,
            "last_detail": "GET http://127.0.0.1:18081/health -> 200 in 3 ms",
            "started_at": at,
        },
    }
    return {
        "state": state,
        "janitor_input": started,
        "approval_task": {"state": state, "task_token": "AAAA" * 64},
        "ecr_push": push,
        "ecr_push_detail": push["detail"],
        "link_params": link["queryStringParameters"],
    }


_HANDLER = """
import importlib, importlib.util, json, resource, sys, time
spec = json.loads(sys.argv[2])
documents = json.loads(sys.argv[3])
t0 = time.perf_counter()
app = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(app); app.loader.exec_module(module)
t1 = time.perf_counter()
for expression in spec["init"]:
    eval(expression, vars(module))
t2 = time.perf_counter()
for path, document in spec["validate"]:
    name, _, attribute = path.partition(":")
    getattr(importlib.import_module(name), attribute).model_validate(documents[document])
t3 = time.perf_counter()
print(json.dumps({"ms": (t3 - t0) * 1000, "import_ms": (t1 - t0) * 1000,
                  "init_ms": (t2 - t1) * 1000, "validate_ms": (t3 - t2) * 1000,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_FLOOR = """
import json, resource, sys, time
t0 = time.perf_counter()
import boto3
clients = [boto3.client(s) for s in json.loads(sys.argv[2])["clients"]]
t1 = time.perf_counter()
print(json.dumps({"ms": (t1 - t0) * 1000,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


@dataclass(frozen=True)
class ColdStart:
    handler: str
    clients: list[str]
    import_ms: float
    init_ms: float
    validate_ms: float
    total_ms: float  # import + init + validate, the median of whole samples
    floor_ms: float
    rss_mb: float
    floor_rss_mb: float

    @property
    def overhead_ms(self) -> float:
        return self.total_ms - self.floor_ms


def _sample(
    script: str, handler: str, env: dict[str, str], documents: str, root: Path
) -> dict[str, float]:
    h = HANDLERS[handler]
    spec = {"clients": h.clients, "init": h.init, "validate": h.validate}
    app = root / "functions" / handler / "app.py"
    out = subprocess.run(
        [sys.executable, "-c", script, str(app), json.dumps(spec), documents],
        capture_output=True,
        text=True,
        check=True,
        env={**env, **h.env, "AWS_LAMBDA_FUNCTION_NAME": f"bluegreen-{handler}"},
        cwd=root,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def measure(runs: int = 5, handlers: list[str] | None = None, root: Path = ROOT) -> list[ColdStart]:
    """Median cold starts of ``handlers`` (all by default) of the checkout at ``root``.

    Another checkout's ``functions/`` and ``layers/common/`` can be measured with this bench
    (``python -m bench --root``): before and after figures from one harness.
    """
    documents = json.dumps(samples())
    with tempfile.TemporaryDirectory(prefix="bluegreen-bench-") as task_root:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_"))},
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "LAMBDA_TASK_ROOT": task_root,
            "POWERTOOLS_SERVICE_NAME": "bluegreen",
            "POWERTOOLS_METRICS_NAMESPACE": "bluegreen",
            "PYTHONDONTWRITEBYTECODE": "0",
            # the layer's package of the checkout measured, ahead of the installed one
            "PYTHONPATH": str(root / "layers" / "common"),
        }
        results = []
        for handler in handlers or list(HANDLERS):
            # interleave handler and floor samples so machine noise hits both alike
            pairs = [
                (
                    _sample(_HANDLER, handler, env, documents, root),
                    _sample(_FLOOR, handler, env, documents, root),
                )
                for _ in range(runs)
            ]
            hs = [h for h, _ in pairs]
            results.append(
                ColdStart(
                    handler=handler,
                    clients=HANDLERS[handler].clients,
                    import_ms=statistics.median(h["import_ms"] for h in hs),
                    init_ms=statistics.median(h["init_ms"] for h in hs),
                    validate_ms=statistics.median(h["validate_ms"] for h in hs),
                    total_ms=statistics.median(h["ms"] for h in hs),
                    floor_ms=statistics.median(f["ms"] for _, f in pairs),
                    rss_mb=statistics.median(h["rss_mb"] for h in hs),
                    floor_rss_mb=statistics.median(f["rss_mb"] for _, f in pairs),
                )
            )
    return results
