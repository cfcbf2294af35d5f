"""CodeDeploy ECS blue/green: the AppSpec we submit and how we read a deployment's status."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime
from typing import Any

from bluegreen.errors import (
    ConfigurationInvalid,
    DeploymentFailed,
    DeploymentTimedOut,
    RollbackIncomplete,
)
from bluegreen.models import (
    DeploymentProgress,
    DeploymentState,
    RollbackResult,
    ServiceConfig,
    Timings,
)

FAILED = frozenset({"Failed", "Stopped"})
ENDED = FAILED | {"Succeeded"}
# Production traffic is on the replacement and its health checks passed: Baking (the
# deployment watches it before it ends) or Succeeded.
LIVE = frozenset({"Baking", "Succeeded"})
# CodeDeploy's own rollback deployments name this creator; they are CodeDeploy's to finish.
ROLLBACK_CREATOR = "codeDeployRollback"
# ECS's default when neither the service nor its deployment group names a config.
DEFAULT_ECS_CONFIG = "CodeDeployDefault.ECSAllAtOnce"
# Looks at a rollback at most: the Wait/Check loop's bound in the execution history
# (scripts/check_limits.py counts it), however many polls a service may configure.
ROLLBACK_MAX_CHECKS = 120


def description(state: DeploymentState) -> str:
    """How a deployment names the execution that created it (found again on rollback)."""
    return f"bluegreen {state.execution_name}"


def created_for(state: DeploymentState, info: dict[str, Any]) -> bool:
    """Whether ``info`` is the deployment this execution created (not CodeDeploy's rollback
    of it, whatever description that one carries)."""
    return info.get("creator") != ROLLBACK_CREATOR and info.get("description") == description(state)


def appspec(service: ServiceConfig, task_definition_arn: str) -> tuple[str, str]:
    """The AppSpec content (JSON) and its SHA-256, as CodeDeploy's AppSpecContent wants them."""
    content = json.dumps(
        {
            "version": 0.0,
            "Resources": [
                {
                    "TargetService": {
                        "Type": "AWS::ECS::Service",
                        "Properties": {
                            "TaskDefinition": task_definition_arn,
                            "LoadBalancerInfo": {
                                "ContainerName": service.container,
                                "ContainerPort": service.container_port,
                            },
                        },
                    }
                }
            ],
        },
        sort_keys=True,
    )
    return content, hashlib.sha256(content.encode()).hexdigest()


def require_ready_wait(group: dict[str, Any]) -> None:
    """Verification through the test listener needs the deployment to pause in ``Ready``."""
    option = (group.get("blueGreenDeploymentConfiguration") or {}).get(
        "deploymentReadyOption"
    ) or {}
    if option.get("actionOnTimeout") != "STOP_DEPLOYMENT":
        raise ConfigurationInvalid(
            f"deployment group {group.get('deploymentGroupName')!r} must wait for the test: set "
            "blueGreenDeploymentConfiguration.deploymentReadyOption.actionOnTimeout=STOP_DEPLOYMENT"
        )


def live(info: dict[str, Any]) -> bool:
    """CodeDeploy reports production traffic fully on the new version and healthy.

    ``instanceTerminationWaitTimeStarted`` turns true once every listener has moved and the
    wait before blue is terminated begins; Baking and Succeeded come later. A deployment that
    ended Failed or Stopped was rolled back by CodeDeploy, whatever the flag says.
    """
    status = info.get("status")
    if status in FAILED:
        return False
    return status in LIVE or bool(info.get("instanceTerminationWaitTimeStarted"))


def traffic_shift_minutes(config: dict[str, Any]) -> int:
    """How long a deployment config takes to move all production traffic (GetDeploymentConfig).

    A canary moves the rest after one interval; a linear config moves its percentage every
    interval until all has moved (10% every 3 minutes: the last step 27 minutes in).
    """
    routing = config.get("trafficRoutingConfig") or {}
    kind = routing.get("type")
    if kind == "TimeBasedCanary":
        return int((routing.get("timeBasedCanary") or {}).get("canaryInterval", 0))
    if kind == "TimeBasedLinear":
        linear = routing.get("timeBasedLinear") or {}
        percentage = max(1, int(linear.get("linearPercentage", 100)))
        return (math.ceil(100 / percentage) - 1) * int(linear.get("linearInterval", 0))
    return 0


def termination_wait_minutes(group: dict[str, Any]) -> int:
    """The group's wait between production traffic moving and blue being terminated
    (up to 2,880 minutes): CodeDeploy reports Succeeded only after it."""
    blue_green = group.get("blueGreenDeploymentConfiguration") or {}
    terminate = blue_green.get("terminateBlueInstancesOnDeploymentSuccess") or {}
    return int(terminate.get("terminationWaitTimeInMinutes", 0))


def config_name(service: ServiceConfig, group: dict[str, Any]) -> str:
    """The deployment config a deployment of ``service`` runs with."""
    return service.bluegreen.config or group.get("deploymentConfigName") or DEFAULT_ECS_CONFIG


def completion_budget_seconds(
    group: dict[str, Any], config: dict[str, Any], timings: Timings
) -> int:
    """How long after ContinueDeployment CodeDeploy may take to report Succeeded.

    The documented waits (the config's traffic steps, the group's termination wait), plus
    the service's poll budget for CodeDeploy's own work (rerouting, draining, terminating).
    """
    waits = (traffic_shift_minutes(config) + termination_wait_minutes(group)) * 60
    return waits + timings.deployment_poll_seconds * timings.deployment_max_polls


def next_wait_seconds(progress: DeploymentProgress, timings: Timings, now: datetime) -> int:
    """The wait before the next look after ContinueDeployment: the polls left spread evenly
    over the time left, never closer than the service's poll interval. The number of polls
    (and the execution's history) stays bounded however long the budget is."""
    budget = _completion_budget(progress, timings)
    started = progress.continued_at or now
    remaining = budget - (now - started).total_seconds()
    polls_left = max(1, timings.deployment_max_polls - progress.polls)
    return max(timings.deployment_poll_seconds, math.ceil(remaining / polls_left))


def _completion_budget(progress: DeploymentProgress, timings: Timings) -> int:
    if progress.completion_budget_seconds is not None:
        return progress.completion_budget_seconds
    # A state from before budgets were derived: the service's poll budget alone.
    return timings.deployment_poll_seconds * timings.deployment_max_polls


def observe(
    progress: DeploymentProgress, info: dict[str, Any], timings: Timings, now: datetime
) -> DeploymentProgress:
    """One more look at the deployment: the new progress, or a named error.

    Before ContinueDeployment we wait for ``Ready``, at most ``deployment_max_polls`` looks.
    After it, for ``Succeeded``, within the completion budget. Running out of it raises
    even when traffic has moved: the Rollback step then looks at CodeDeploy itself and
    leaves a live release alone.
    """
    status = str(info.get("status", "Unknown"))
    if status in FAILED:
        error = info.get("errorInformation") or {}
        detail = error.get("message") or error.get("code") or "no reason given"
        raise DeploymentFailed(f"deployment {progress.deployment_id} is {status}: {detail}")
    polls = progress.polls + 1
    if progress.continued_at is None:
        if status != "Ready" and polls >= timings.deployment_max_polls:
            raise DeploymentTimedOut(
                f"deployment {progress.deployment_id} is {status}, not Ready, after {polls} polls"
            )
        return progress.model_copy(
            update={"status": status, "polls": polls, "ready": progress.ready or status == "Ready"}
        )
    succeeded = status == "Succeeded"
    shifted = progress.traffic_shifted or live(info)
    budget = _completion_budget(progress, timings)
    elapsed = int((now - progress.continued_at).total_seconds())
    if not succeeded and (polls >= timings.deployment_max_polls or elapsed >= budget):
        moved = "; production traffic had fully moved" if shifted else ""
        raise DeploymentTimedOut(
            f"deployment {progress.deployment_id} is {status}, not Succeeded, after {polls} "
            f"polls and {elapsed} s of a {budget} s budget{moved}"
        )
    observed = progress.model_copy(
        update={
            "status": status,
            "polls": polls,
            "succeeded": succeeded,
            "traffic_shifted": shifted,
        }
    )
    return observed.model_copy(update={"wait_seconds": next_wait_seconds(observed, timings, now)})


def rollback_max_checks(timings: Timings) -> int:
    """A rollback gets the service's poll budget, up to the history's bound."""
    return min(ROLLBACK_MAX_CHECKS, timings.deployment_max_polls)


def watch_rollback(
    result: RollbackResult,
    original: dict[str, Any],
    rollback: dict[str, Any] | None,
    timings: Timings,
    now: datetime,
) -> RollbackResult:
    """One look at a rollback: finished once blue serves again, else a named error.

    ``original`` is the deployment rolled back; ``rollback`` the deployment CodeDeploy rolls
    it back with, once ``original`` names one in ``rollbackInfo`` (it may take a moment).
    """
    checks = result.checks + 1
    looked = result.model_copy(update={"checks": checks})
    original_id = original.get("deploymentId", result.deployment_id)
    original_status = str(original.get("status", "Unknown"))
    if original_status == "Succeeded":
        # The stop came too late: the release finished and nothing was rolled back.
        return looked.model_copy(
            update={
                "status": original_status,
                "finished": True,
                "finished_at": now,
                "release_live": True,
                "detail": f"{result.detail}; deployment {original_id} Succeeded before it stopped",
            }
        )
    if rollback is not None:
        rollback_id = str(rollback.get("deploymentId", result.rollback_deployment_id))
        status = str(rollback.get("status", "Unknown"))
        looked = looked.model_copy(update={"status": status, "rollback_deployment_id": rollback_id})
        if status == "Succeeded":
            return looked.model_copy(update={"finished": True, "finished_at": now})
        if status in FAILED:
            error = rollback.get("errorInformation") or {}
            reason = error.get("message") or error.get("code") or "no reason given"
            raise RollbackIncomplete(
                f"rollback {rollback_id} of deployment {original_id} ended {status}: {reason}; "
                "production may not be back on the original task set"
            )
        waiting_for = f"rollback {rollback_id} of deployment {original_id}"
    elif original_status in FAILED:
        # Ended with no rollback deployment: stopped before production traffic moved, the
        # replacement discarded and the test listener back on blue.
        return looked.model_copy(
            update={"status": original_status, "finished": True, "finished_at": now}
        )
    else:
        looked = looked.model_copy(update={"status": original_status})
        waiting_for = f"deployment {original_id} to stop"
    if checks >= rollback_max_checks(timings):
        raise RollbackIncomplete(
            f"waited for {waiting_for}: still {looked.status} after {checks} checks; "
            "production may not be back on the original task set"
        )
    return looked


def rollback_id_of(info: dict[str, Any]) -> str | None:
    """The deployment CodeDeploy rolls ``info`` back with, once it has started one."""
    found = (info.get("rollbackInfo") or {}).get("rollbackDeploymentId")
    return str(found) if found else None
