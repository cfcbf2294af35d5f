"""AWS quotas that template.yaml, the state machine and the configuration must stay within.

Each check prints the quota, its documented value and what it found, and a breach fails:

1. IAM managed policies per role (PoliciesPerRole, default 10) on the SAM-transformed
   template: ManagedPolicyArns plus every AWS::IAM::ManagedPolicy attached to the role.
2. IAM role policy size (10,240 characters, whitespace excluded) over all inline policies of
   each role, with every intrinsic function expanded to the longest value it can take.
3. Each function's Timeout against the worst-case time of one AWS call with the botocore
   Config the functions' clients use (attempts x (connect + read timeouts) + backoff), and
   the probe's largest accepted request timeout strictly below the probe's own Timeout.
4. Step Functions execution history (25,000 events per execution) along the longest path
   through the ASL, each poll loop at the largest number of rounds the configuration model
   accepts, each Task state's retries exhausted once.
5. Step Functions payload size (256 KiB) for the largest realistic execution document.

    .venv/bin/python scripts/check_limits.py [template.yaml]

The SAM translator comes with cfn-lint in .venv; the layer's package is this checkout's.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run as a script, the repository root is not on the path; the checkout's package neither.
_ROOT = Path(__file__).resolve().parents[1]
for _path in (_ROOT, _ROOT / "layers" / "common"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from scripts.limits import Result, report  # noqa: E402
from scripts.limits.history import history_events  # noqa: E402
from scripts.limits.iam import (  # noqa: E402
    UNBOUNDED,
    inline_policy_size,
    managed_policies_per_role,
)
from scripts.limits.payload import payload_sizes  # noqa: E402
from scripts.limits.timeouts import probe_within_timeout, sdk_time_within_timeouts  # noqa: E402

# --- what this project configures -------------------------------------------------------

PROBE_FUNCTION = "ProbeTestListenerFunction"
# The Lambda invoke result around a payload, before OutputPath selects it: StatusCode,
# ExecutedVersion and the response's SdkHttpMetadata/SdkResponseMetadata.
INVOKE_ENVELOPE_BYTES = 2_048
# What the configuration does not bound, taken at a generous size.
ASSUMED_APPROVERS = 50
ASSUMED_URL = 2_048


def _largest(model: Any, field: str) -> Any:
    """The largest value ``model.field`` accepts (its ``le``, or ``lt`` less one)."""
    for constraint in model.model_fields[field].metadata:
        if getattr(constraint, "le", None) is not None:
            return constraint.le
        if getattr(constraint, "lt", None) is not None:
            return constraint.lt - 1
    raise ValueError(f"{model.__name__}.{field} has no upper bound")


def loop_bounds() -> dict[str, tuple[str, int]]:
    from bluegreen.domain.deployment import ROLLBACK_MAX_CHECKS
    from bluegreen.domain.rerender import RENDERS_PER_EXECUTION
    from bluegreen.models import Timings

    polls = _largest(Timings, "deployment_max_polls")
    probes = _largest(Timings, "probe_max_attempts")
    return {
        "${CheckDeploymentFunctionArn}": ("deployment_max_polls", polls),
        "${ProbeTestListenerFunctionArn}": ("probe_max_attempts", probes),
        # The rollback is watched by the Rollback function itself, at most this many looks.
        "${RollbackFunctionArn}": ("ROLLBACK_MAX_CHECKS", ROLLBACK_MAX_CHECKS),
        # Method "rolling": ECS's deployment polled like CodeDeploy's, its rollback watched
        # as CodeDeploy's is (one function for both loops: the rollback's is named by state).
        "${CheckRolloutFunctionArn}": ("deployment_max_polls", polls),
        "RollBackRollout": ("ROLLBACK_MAX_CHECKS", ROLLBACK_MAX_CHECKS),
        # A render made stale while the execution waited is made again once its turn came:
        # Render, its approval's way and TakeTurn, at most twice each.
        "IsRenderCurrent": ("RENDERS_PER_EXECUTION", RENDERS_PER_EXECUTION),
    }


def largest_template() -> dict[str, Any]:
    """A task definition template whose compact JSON is as large as a service may carry."""
    from bluegreen.models import TEMPLATE_MAX_BYTES

    def sized(filler: int) -> dict[str, Any]:
        container = {"name": "web", "image": "<IMAGE1_NAME>", "command": ["x" * filler]}
        return {"family": "web", "containerDefinitions": [container]}

    overhead = len(json.dumps(sized(0), separators=(",", ":")).encode())
    return sized(TEMPLATE_MAX_BYTES - overhead)


def largest_changes() -> list[dict[str, Any]]:
    """What Render tells approvers at its largest: as many changed fields as its budget
    keeps, each value as long as it keeps one, and the note past them."""
    from bluegreen.domain.taskdef import changes

    def revision(value: str) -> dict[str, Any]:
        variables = [{"name": f"V{i:03}{'n' * 200}", "value": value * 600} for i in range(100)]
        return {
            "family": "web",
            "containerDefinitions": [{"name": "web", "environment": variables}],
        }

    return [c.model_dump() for c in changes(revision("a"), revision("b"))]


def largest_documents() -> dict[str, Any]:
    """The execution document with every section filled and every field at its largest."""
    from bluegreen.models import MAX_IMAGES, ApprovalTask, DeploymentState, Timings

    def text(n: int) -> str:
        return "x" * n

    name = "a" + "b" * 254  # a Name: 255 characters
    at = datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC).isoformat()
    image = f"123456789012.dkr.ecr.ap-southeast-5.amazonaws.com/{name}@sha256:{'f' * 64}"
    task_definition = f"arn:aws-us-gov:ecs:ap-southeast-5:123456789012:task-definition/{name}:99999"
    error = {"Error": text(256), "Cause": text(32_768)}  # Step Functions' own limits
    state = DeploymentState.model_validate(
        {
            "execution_name": text(80),
            "service": {
                **{f: name for f in ("name", "repository", "environment", "cluster")},
                **{f: name for f in ("service", "container", "codedeploy_application")},
                "deployment_group": name,
                "deployment_config": name,
                "pipeline": [name] * 10,
                "role_arn": f"arn:aws:iam::123456789012:role/{text(2048 - 31)}",
                "external_id": text(1_224),
                "region": "ap-southeast-5",
                "container_port": 65535,
                "approvers": [f"{text(240)}@example.com"] * ASSUMED_APPROVERS,
                "test_url": "https://" + text(ASSUMED_URL - 8),
                "tag_pattern": "^" + text(254) + "$",
                "timings": Timings().model_dump(),
                "slack": {
                    "channel": "#" + text(80),
                    "approvers": [f"{text(240)}@example.com"] * ASSUMED_APPROVERS,
                },
                "commit_url": "https://" + text(500 - 8 - 10) + "{revision}",
                "task_definition": largest_template(),
                "images": {f"P{i}{'X' * 62}": f"{i}{'r' * 254}" for i in range(MAX_IMAGES)},
            },
            "image": {
                "registry_id": "123456789012",
                "region": "ap-southeast-5",
                "repository": name,
                "tag": text(128),
                "digest": "sha256:" + "f" * 64,
                "pushed_at": at,
            },
            "source": "rollback",
            "requested_at": at,
            "retry_of": text(80),
            "promoted_from": name,
            "rollback_request": {
                "requested_by": text(2_048),
                "from_image": text(1_024),
                "from_tag": text(128),
                "from_task_definition": text(1_024),
            },
            "pushed_by": text(300),
            "provenance": {"revision": text(200), "source": text(500), "created": text(64)},
            "render": {
                "previous_task_definition": task_definition,
                "task_definition": task_definition,
                "previous_image": image,
                "previous_tag": text(128),
                "changes": largest_changes(),
                "rendered_again": {
                    "first_task_definition": text(512),
                    "registered_by": text(80),
                },
            },
            "approval": {
                "decision": "approved",
                "approver": text(300),
                "decided_at": at,
                "reason": text(500),
                "approval_id": text(64),
            },
            "turn": {"acquired": True, "behind": text(80), "at": at, "stale": False},
            "scaling": {
                "resource_id": f"service/{name}/{name}",
                "registered": True,
                "suspended_at": at,
            },
            "deployment": {
                "deployment_id": "d-" + "X" * 9,
                "status": "InProgress",
                "polls": 99_999,
                "traffic_shifted": True,
                "completion_budget_seconds": 99_999_999,
                "wait_seconds": 99_999_999,
                "created_at": at,
                "ready_at": at,
                "continued_at": at,
                "finished_at": at,
            },
            "rollout": {
                "deployment_id": text(64),
                "task_definition": text(1_024),
                "previous_task_definition": text(1_024),
                "rollout_state": text(32),
                "reason": text(1_024),
                "desired_count": 99_999,
                "running_count": 99_999,
                "pending_count": 99_999,
                "failed_tasks": 99_999,
                "polls": 99_999,
                "completed": True,
                "started_at": at,
                "finished_at": at,
                "rollback": {
                    "by": "bluegreen",
                    "detail": text(1_024),
                    "started_at": at,
                    "deployment_id": text(64),
                    "task_definition": text(1_024),
                    "rollout_state": text(32),
                    "checks": 99_999,
                    "finished": True,
                    "finished_at": at,
                },
            },
            "probe": {
                "attempts": 99_999,
                "consecutive_passes": 99_999,
                "last_status": 599,
                # GET <url>: <reason, cut at 200 characters>
                "last_detail": f"GET https://{text(ASSUMED_URL - 8)}: {text(200)}",
                "started_at": at,
                "finished_at": at,
            },
            "rollback": {
                "deployment_stopped": True,
                "detail": text(1_024),
                "rolled_back_at": at,
                "deployment_id": "d-" + "X" * 9,
                "rollback_deployment_id": "d-" + "X" * 9,
                "status": "InProgress",
                "checks": 99_999,
                "finished": True,
                "finished_at": at,
                "release_live": True,
            },
            "error": error,
            "cleanup_error": error,
            "notification_error": error,
            "promotion": {
                "outcome": "started",
                "to": name,
                "execution_name": text(80),
                "detail": text(1_000),
            },
            "promotion_error": error,
            "failure": {"error": text(256), "cause": text(32_768)},
        }
    )
    unfilled = [f for f in DeploymentState.model_fields if getattr(state, f) is None]
    if unfilled:
        raise ValueError(f"the largest document leaves out {', '.join(unfilled)}")
    task = ApprovalTask(state=state, task_token=text(1_024))
    return {
        "execution document (DeploymentState)": state.dump(),
        "approval task (state + task token)": task.model_dump(mode="json", exclude_none=True),
    }


# --- the template -----------------------------------------------------------------------


def transform(template_text: str) -> dict[str, Any]:
    """The template as CloudFormation receives it after the SAM transform (offline)."""
    from bluegreen_cli.local.rights.roles import sam_transform_text

    return sam_transform_text(template_text)


def definitions(template_path: Path) -> dict[str, Any]:
    """Each state machine's ASL, read from its DefinitionUri."""
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(template_path.read_text(encoding="utf-8"))
    found = {}
    for name, resource in template.get("Resources", {}).items():
        uri = resource.get("Properties", {}).get("DefinitionUri")
        if resource.get("Type") == "AWS::Serverless::StateMachine" and isinstance(uri, str):
            found[name] = json.loads((template_path.parent / uri).read_text(encoding="utf-8"))
    return found


def by_method(definition: dict[str, Any], method: str) -> dict[str, Any]:
    """The state machine as an execution of ``method`` runs it: each Choice on the service's
    method goes the one way that method takes (its other ways are left out)."""
    states = {}
    for name, state in definition["States"].items():
        rules = state.get("Choices", []) if state.get("Type") == "Choice" else []
        on_method = [r for r in rules if r.get("Variable") == "$.service.method"]
        if on_method:
            taken = [r["Next"] for r in on_method if r.get("StringEquals") == method]
            state = {**state, "Choices": [], "Default": taken[0] if taken else state["Default"]}
        states[name] = state
    return {**definition, "States": states}


def check(template_path: Path) -> list[Result]:
    from bluegreen.adapters.aws import SDK_CONFIG
    from bluegreen.models import Timings

    transformed = transform(template_path.read_text(encoding="utf-8"))
    results = [
        *managed_policies_per_role(transformed),
        *inline_policy_size(transformed),
        *sdk_time_within_timeouts(transformed, SDK_CONFIG),
        *probe_within_timeout(
            transformed, PROBE_FUNCTION, _largest(Timings, "probe_request_timeout_seconds")
        ),
    ]
    for machine, definition in definitions(template_path).items():
        for method in ("codedeploy-bluegreen", "rolling"):
            chosen = by_method(definition, method)
            results += history_events(f"{machine} ({method})", chosen, loop_bounds())
    results += payload_sizes(largest_documents(), INVOKE_ENVELOPE_BYTES)
    return results


def main(argv: list[str]) -> int:
    template_path = Path(argv[1] if len(argv) > 1 else _ROOT / "template.yaml").resolve()
    results = check(template_path)
    print(report(results))
    breaches = [r for r in results if not r.ok]
    print(
        f"{template_path.name}: {len(results)} limits checked, {len(breaches)} breached "
        f"(assumed: {ASSUMED_APPROVERS} approvers, URLs of {ASSUMED_URL} characters, "
        f"parameters without MaxLength and resource names/ARNs at {UNBOUNDED} characters)"
    )
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
