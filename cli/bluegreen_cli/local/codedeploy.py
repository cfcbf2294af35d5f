"""Local CodeDeploy for ECS blue/green: the deployment life cycle that moto leaves out.

moto keeps CodeDeploy applications and deployment groups, but its deployments stay
``Created`` forever and ``ContinueDeployment``/``StopDeployment`` do not exist. The
:class:`CodeDeploySimulator` owns every deployment operation instead and plays the ECS
blue/green life cycle against moto's own ECS and ELBv2 backends, so what a client observes
through those APIs (task sets, listener actions, the service's task definition) moves the
way it does on AWS:

    Created -> InProgress   after a moment, the replacement (green) task set is created
                            on the green target group
            -> Ready        the test listener forwards to green; waiting for ContinueDeployment
                            (deploymentReadyOption STOP_DEPLOYMENT; CONTINUE_DEPLOYMENT skips this)
            -> InProgress   production traffic moves to green (all at once, canary or linear),
                            then ``instanceTerminationWaitTimeStarted`` and the termination wait
            -> Succeeded    the original (blue) task set is gone, green is the primary task set

``StopDeployment(autoRollbackEnabled=True)`` and the ready-wait timeout roll back: the
deployment ends ``Stopped`` with a ``rollbackInfo`` naming a rollback deployment (creator
``codeDeployRollback``) that CodeDeploy runs next. The rollback is ``InProgress`` while it
works: every listener goes back to blue at once, and the green task set is terminated when it
ends (``Timing.rollback_seconds`` later), ``Succeeded``. While it runs it is the group's active
deployment. ``ecs_guard`` refuses the ECS calls that real ECS refuses on a service whose
deployment controller is ``CODE_DEPLOY``, and gives such a service the primary task set ECS
creates with it. ``GetDeployment`` shows an AppSpecContent revision by its ``sha256`` only,
as CodeDeploy does. The deployment-config and deployment-target APIs answer too
(``codedeploy_configs``, ``codedeploy_targets``); any other operation moto does not
implement answers ``UnknownOperationException``.

Choices where AWS leaves room (each is what keeps the emulated service coherent):

- The original task set. ECS gives a ``CODE_DEPLOY`` service a primary task set when it is
  created; moto does not. The simulator adds it to every such service that has none (on the
  next ECS or CodeDeploy call, or tick), from the service's own task definition and load
  balancer, as the blue side.
- ``StopDeployment(autoRollbackEnabled=False)`` before production traffic has moved stops
  the deployment and discards the replacement task set (test listener back to blue) without
  a rollback record: production never left blue. Once production traffic has moved, the
  stop rolls back anyway (with a ``rollbackInfo`` saying why), because leaving production on
  a task set that is not the service's primary would leave the service half deployed.
- A failed deployment always restores blue; ``rollbackInfo`` is recorded when the effective
  auto-rollback configuration covers ``DEPLOYMENT_FAILURE`` and something had been changed.
- A rollback deployment starts ``InProgress`` (CodeDeploy starts it itself). Stopping it
  ends it ``Stopped`` with the replacement task set terminated at once: traffic is already
  on blue, and a janitor that stops every active deployment must not leave green behind.
- Lifecycle hooks in the AppSpec are validated but not invoked (there is no Lambda to run
  them against a task set); a status message on the deployment says so.
- Only the default actions of the listeners are moved (no listener rules).
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from moto.codedeploy.models import codedeploy_backends
from moto.codedeploy.responses import CodeDeployResponse
from moto.core.exceptions import JsonRESTError, ServiceException
from moto.core.utils import camelcase_to_underscores
from moto.ecs.models import ecs_backends
from moto.elbv2.models import elbv2_backends

from bluegreen_cli.local import codedeploy_configs as configs
from bluegreen_cli.local.awserror import AwsError
from bluegreen_cli.local.codedeploy_targets import Lifecycle, ecs_target, task_set_info
from bluegreen_cli.local.periodic import Periodic

logger = logging.getLogger(__name__)

CODEDEPLOY_TARGET_PREFIX = "CodeDeploy_20141006."
ECS_TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"

JsonResponse = tuple[int, dict[str, Any]]

# moto raises either family, depending on the service.
_MOTO_ERRORS = (JsonRESTError, ServiceException)

# moto stores this when a group is created without a config; AWS's ECS default is all at once.
_MOTO_DEFAULT_CONFIG = "CodeDeployDefault.OneAtATime"
_ECS_DEFAULT_CONFIG = "CodeDeployDefault.ECSAllAtOnce"

_TARGET_STATUSES = {"Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Unknown", "Ready"}
_STATUSES = {"Created", "Queued", "InProgress", "Baking", "Succeeded", "Failed", "Stopped", "Ready"}
_HOOKS = {
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
}
_ID_ALPHABET = string.ascii_uppercase + string.digits
_BATCH_LIMIT = 25
_TARGET_BATCH_LIMIT = 25
_PAGE_SIZE = 100


@dataclass(frozen=True)
class Timing:
    """How long the emulated work takes, in seconds.

    ``seconds_per_minute`` scales CodeDeploy's minute-denominated waits (the ready wait, the
    termination wait, canary and linear intervals); 60 keeps them as on AWS.
    """

    created_seconds: float = 1.0  # how long a new deployment shows ``Created``
    install_seconds: float = 1.0
    traffic_shift_seconds: float = 1.0
    rollback_seconds: float = 3.0  # rerouting back to blue, then terminating green
    seconds_per_minute: float = 60.0
    tick_seconds: float = 0.1


class ApiError(AwsError):
    """An error answered the way AWS's JSON protocol does, so boto3 raises its code."""

    def response(self) -> JsonResponse:
        return self.status, {"__type": self.code, "message": self.message}


class _Failure(Exception):
    """Fails a running deployment with an ``errorInformation`` code from CodeDeploy's enum."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Phase(enum.Enum):
    CREATED = "created"
    INSTALLING = "installing"
    READY = "ready"
    SHIFTING = "shifting"
    TERMINATION_WAIT = "termination-wait"
    ROLLING_BACK = "rolling-back"
    DONE = "done"


@dataclass(frozen=True)
class AppSpec:
    """The ECS AppSpec's target service, as CodeDeploy reads it."""

    task_definition: str
    container_name: str
    container_port: int
    platform_version: str | None = None
    network_configuration: dict[str, Any] | None = None
    capacity_provider_strategy: list[dict[str, Any]] | None = None
    hooks: tuple[str, ...] = ()


@dataclass
class _Plan:
    """What one deployment acts on, resolved when it starts installing."""

    cluster: str
    service: str
    blue_target_group: str
    green_target_group: str
    production_listeners: list[str]
    test_listeners: list[str]
    blue_task_set: str
    green_task_set: str | None = None
    test_traffic_moved: bool = False
    production_percent: int = 0


@dataclass
class _Deployment:
    deployment_id: str
    application_name: str
    deployment_group_name: str
    config_name: str
    revision: dict[str, Any]
    previous_revision: dict[str, Any] | None
    description: str | None
    creator: str
    auto_rollback: dict[str, Any]
    deployment_style: dict[str, Any]
    blue_green: dict[str, Any]
    load_balancer_info: dict[str, Any]
    ecs_services: list[dict[str, Any]]
    create_time: float
    status: str = "Created"
    phase: _Phase = _Phase.CREATED
    deadline: float = 0.0
    shift_started: float = 0.0
    shift_step: int = 0
    start_time: float | None = None
    complete_time: float | None = None
    termination_wait_started: bool = False
    error: dict[str, str] | None = None
    rollback: dict[str, str] | None = None
    messages: list[str] = field(default_factory=list)
    plan: _Plan | None = None
    rollback_of: str | None = None
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    updated_at: float = 0.0

    @property
    def active(self) -> bool:
        return self.phase is not _Phase.DONE

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "applicationName": self.application_name,
            "deploymentGroupName": self.deployment_group_name,
            "deploymentConfigName": self.config_name,
            "deploymentId": self.deployment_id,
            "revision": _shown_revision(self.revision),
            "status": self.status,
            "createTime": self.create_time,
            "creator": self.creator,
            "ignoreApplicationStopFailures": False,
            "updateOutdatedInstancesOnly": False,
            "autoRollbackConfiguration": self.auto_rollback,
            "deploymentStyle": self.deployment_style,
            "blueGreenDeploymentConfiguration": self.blue_green,
            "loadBalancerInfo": self.load_balancer_info,
            "instanceTerminationWaitTimeStarted": self.termination_wait_started,
            "deploymentStatusMessages": list(self.messages),
            "computePlatform": "ECS",
        }
        optional = {
            "previousRevision": _shown_revision(self.previous_revision),
            "description": self.description,
            "startTime": self.start_time,
            "completeTime": self.complete_time,
            "errorInformation": self.error,
            "rollbackInfo": self.rollback,
        }
        info.update({key: value for key, value in optional.items() if value is not None})
        return info


def parse_appspec(content: str) -> AppSpec:
    """Read an ECS AppSpec (JSON or YAML) the way CodeDeploy does; raise ``ValueError``."""
    try:
        document = yaml.safe_load(content)
    except yaml.YAMLError as e:
        raise ValueError(f"the AppSpec is neither valid YAML nor JSON: {e}") from e
    if not isinstance(document, dict):
        raise ValueError("the AppSpec must be a mapping with a Resources list")
    resources = document.get("Resources")
    if not isinstance(resources, list) or len(resources) != 1:
        raise ValueError("the AppSpec must list exactly one resource under Resources")
    named = resources[0]
    if not isinstance(named, dict) or len(named) != 1:
        raise ValueError("the AppSpec resource must be a single named entry (e.g. TargetService)")
    resource = next(iter(named.values()))
    if not isinstance(resource, dict) or resource.get("Type") != "AWS::ECS::Service":
        raise ValueError("the AppSpec resource must have Type AWS::ECS::Service")
    properties = resource.get("Properties")
    if not isinstance(properties, dict):
        raise ValueError("the AppSpec resource has no Properties")
    task_definition = properties.get("TaskDefinition")
    if not isinstance(task_definition, str) or not task_definition:
        raise ValueError("the AppSpec has no Properties.TaskDefinition")
    lb = properties.get("LoadBalancerInfo")
    if not isinstance(lb, dict) or not isinstance(lb.get("ContainerName"), str):
        raise ValueError("the AppSpec has no Properties.LoadBalancerInfo.ContainerName")
    try:
        port = int(lb.get("ContainerPort"))  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise ValueError("Properties.LoadBalancerInfo.ContainerPort must be a port number") from e
    hooks: list[str] = []
    for entry in document.get("Hooks") or []:
        if not isinstance(entry, dict):
            raise ValueError("each AppSpec hook must be a mapping of event to Lambda function")
        for name in entry:
            if name not in _HOOKS:
                raise ValueError(f"unknown ECS lifecycle hook {name!r} (valid: {sorted(_HOOKS)})")
            hooks.append(name)
    return AppSpec(
        task_definition=task_definition,
        container_name=lb["ContainerName"],
        container_port=port,
        platform_version=properties.get("PlatformVersion"),
        network_configuration=_ecs_network(properties.get("NetworkConfiguration")),
        capacity_provider_strategy=_capacity_providers(properties.get("CapacityProviderStrategy")),
        hooks=tuple(hooks),
    )


def _ecs_network(value: Any) -> dict[str, Any] | None:
    """The AppSpec spells ECS's awsvpcConfiguration in PascalCase."""
    if not isinstance(value, dict):
        return None
    vpc = value.get("AwsvpcConfiguration") or value.get("awsvpcConfiguration") or {}
    converted = {
        "subnets": vpc.get("Subnets") or vpc.get("subnets") or [],
        "securityGroups": vpc.get("SecurityGroups") or vpc.get("securityGroups") or [],
    }
    public_ip = vpc.get("AssignPublicIp") or vpc.get("assignPublicIp")
    if public_ip:
        converted["assignPublicIp"] = public_ip
    return {"awsvpcConfiguration": converted}


def _capacity_providers(value: Any) -> list[dict[str, Any]] | None:
    if not isinstance(value, list) or not value:
        return None
    strategy = []
    for entry in value:
        item: dict[str, Any] = {"capacityProvider": entry.get("CapacityProvider")}
        for key in ("Base", "Weight"):
            if key in entry:
                item[key.lower()] = int(entry[key])
        strategy.append(item)
    return strategy


def forward_weights(actions: list[Any]) -> dict[str, int]:
    """Target group ARN -> weight of a listener's forward action (moto FakeActions or dicts)."""
    for action in actions:
        data = action if isinstance(action, dict) else getattr(action, "data", {})
        if str(data.get("Type", "")).lower() != "forward":
            continue
        forward = data.get("ForwardConfig") or {}
        groups = forward.get("TargetGroups") or []
        if groups:
            return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}
        if data.get("TargetGroupArn"):
            return {data["TargetGroupArn"]: 1}
    return {}


class CodeDeploySimulator:
    """Runs CodeDeploy ECS blue/green deployments on moto's in-process backends.

    Wire it in front of moto's server: pass every request whose ``X-Amz-Target`` starts with
    ``CodeDeploy_20141006.`` to :meth:`intercept` and every ``AmazonEC2ContainerServiceV20141113.``
    request to :meth:`ecs_guard`; a ``None`` answer means "let moto handle it". Time moves on
    a daemon ticker (:meth:`start`/:meth:`stop`) and on every call.
    """

    def __init__(
        self,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
        timing: Timing | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.timing = timing or Timing()
        self._clock = clock
        self._lock = threading.RLock()
        self._deployments: dict[str, _Deployment] = {}
        self._last_revision: dict[tuple[str, str], dict[str, Any]] = {}
        # One bad deployment must not stop time for the others: a failed round is logged.
        self._ticker = Periodic("codedeploy-simulator", self.timing.tick_seconds, self.tick)

    # -- wiring ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the ticker that moves deployments on while nobody calls."""
        self._ticker.start()

    def stop(self) -> None:
        self._ticker.stop()

    def reset(self) -> None:
        """Forget every deployment (after moto's backends were reset)."""
        with self._lock:
            self._deployments.clear()
            self._last_revision.clear()

    def tick(self) -> None:
        """Apply everything that is due by now."""
        with self._lock:
            now = self._clock()
            advanced: set[str] = set()
            # A transition may start another deployment (a rollback): it is due too.
            while pending := [
                d for d in self._deployments.values() if d.deployment_id not in advanced
            ]:
                for deployment in pending:
                    advanced.add(deployment.deployment_id)
                    self._advance(deployment, now)
            self._give_primary_task_sets()

    def deployed_task_definition(self, deployment_id: str) -> str | None:
        """The task definition a deployment's AppSpec names: what it deploys.

        AWS shows only the AppSpec's sha256 (GetDeployment); an observer beside the local
        stack (a benchmark checking which image went where) reads the content here.
        """
        with self._lock:
            found = self._deployments.get(deployment_id)
            revision = dict(found.revision) if found is not None else None
        if revision is None:
            return None
        try:
            return parse_appspec(_revision_content(revision)).task_definition
        except ValueError:
            return None

    def intercept(self, target: str, body: dict[str, Any]) -> JsonResponse | None:
        """Answer a CodeDeploy deployment operation, or ``None`` for moto to answer."""
        if not target.startswith(CODEDEPLOY_TARGET_PREFIX):
            return None
        operation = target.removeprefix(CODEDEPLOY_TARGET_PREFIX)
        handler = self._operations().get(operation)
        if handler is None:
            if hasattr(CodeDeployResponse, camelcase_to_underscores(operation)):
                return None
            # Never a 500: an AWS-shaped refusal names what the local CodeDeploy lacks.
            return ApiError(
                "UnknownOperationException",
                f"The local CodeDeploy does not implement {operation}.",
            ).response()
        with self._lock:
            self.tick()
            try:
                result = handler(body or {})
            except ApiError as e:
                return e.response()
            except configs.ConfigError as e:
                return ApiError(e.code, e.message).response()
            self.tick()
            return 200, result

    def _operations(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "CreateDeployment": self._create_deployment,
            "GetDeployment": self._get_deployment,
            "BatchGetDeployments": self._batch_get_deployments,
            "ListDeployments": self._list_deployments,
            "ContinueDeployment": self._continue_deployment,
            "StopDeployment": self._stop_deployment,
            "GetDeploymentConfig": configs.get_deployment_config,
            "ListDeploymentConfigs": configs.list_deployment_configs,
            "ListDeploymentTargets": self._list_deployment_targets,
            "GetDeploymentTarget": self._get_deployment_target,
            "BatchGetDeploymentTargets": self._batch_get_deployment_targets,
        }

    # -- moto backends --------------------------------------------------------------------

    @property
    def _codedeploy(self) -> Any:
        return codedeploy_backends[self.account_id][self.region]

    @property
    def _ecs(self) -> Any:
        return ecs_backends[self.account_id][self.region]

    @property
    def _elbv2(self) -> Any:
        return elbv2_backends[self.account_id][self.region]

    def _group(self, application_name: str, group_name: str) -> Any:
        try:
            return self._codedeploy.get_deployment_group(application_name, group_name)
        except _MOTO_ERRORS as e:
            raise ApiError(*_moto_error(e)) from e

    # -- operations -----------------------------------------------------------------------

    def _create_deployment(self, body: dict[str, Any]) -> dict[str, Any]:
        application_name = body.get("applicationName")
        group_name = body.get("deploymentGroupName")
        if not application_name:
            raise ApiError(
                "ApplicationNameRequiredException", "The application name was not specified."
            )
        if not group_name:
            raise ApiError(
                "DeploymentGroupNameRequiredException",
                "The deployment group name was not specified.",
            )
        group = self._group(application_name, group_name)
        platform = group.application.compute_platform
        if platform != "ECS":
            raise ApiError(
                "InvalidComputePlatformException",
                f"The local CodeDeploy runs ECS blue/green deployments only; application "
                f"{application_name} has compute platform {platform}.",
            )
        revision = body.get("revision")
        if not revision:
            raise ApiError("RevisionRequiredException", "The revision ID was not specified.")
        _check_revision(revision)
        config_name = self._config_name(
            body.get("deploymentConfigName") or group.deployment_config_name
        )
        description = body.get("description")
        if description is not None and len(description) > 100:
            raise ApiError("DescriptionTooLongException", "The description is too long.")
        for other in self._deployments.values():
            if (
                other.active
                and other.application_name == application_name
                and other.deployment_group_name == group_name
            ):
                raise ApiError(
                    "DeploymentLimitExceededException",
                    f"The Deployment Group '{group_name}' already has an active Deployment "
                    f"'{other.deployment_id}'",
                )
        auto_rollback = body.get("autoRollbackConfiguration") or dict(
            group.auto_rollback_configuration or {}
        )
        now = self._clock()
        deployment = _Deployment(
            deployment_id=self._new_id(),
            application_name=application_name,
            deployment_group_name=group_name,
            config_name=config_name,
            revision=revision,
            previous_revision=self._last_revision.get((application_name, group_name)),
            description=description,
            creator="user",
            auto_rollback=auto_rollback,
            deployment_style=dict(group.deployment_style or {}),
            blue_green=json.loads(json.dumps(group.blue_green_deployment_configuration or {})),
            load_balancer_info=json.loads(json.dumps(group.load_balancer_info or {})),
            ecs_services=list(group.ecs_services or []),
            create_time=now,
            deadline=now + self.timing.created_seconds,
            updated_at=now,
        )
        self._deployments[deployment.deployment_id] = deployment
        logger.info(
            "deployment %s created in %s/%s", deployment.deployment_id, application_name, group_name
        )
        return {"deploymentId": deployment.deployment_id}

    def _get_deployment(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"deploymentInfo": self._find(body.get("deploymentId")).info()}

    def _batch_get_deployments(self, body: dict[str, Any]) -> dict[str, Any]:
        ids = body.get("deploymentIds") or []
        if not ids:
            raise ApiError(
                "DeploymentIdRequiredException", "At least one deployment ID must be specified."
            )
        if len(ids) > _BATCH_LIMIT:
            raise ApiError(
                "BatchLimitExceededException",
                f"The maximum number of deployment IDs ({_BATCH_LIMIT}) was exceeded.",
            )
        for deployment_id in ids:
            _check_id(deployment_id)
        found = [self._deployments[i].info() for i in ids if i in self._deployments]
        return {"deploymentsInfo": found}

    def _list_deployments(self, body: dict[str, Any]) -> dict[str, Any]:
        application_name = body.get("applicationName")
        group_name = body.get("deploymentGroupName")
        if application_name and not group_name:
            raise ApiError(
                "DeploymentGroupNameRequiredException",
                "If applicationName is specified, then deploymentGroupName must be specified.",
            )
        if group_name and not application_name:
            raise ApiError(
                "ApplicationNameRequiredException",
                "If deploymentGroupName is specified, applicationName must be specified.",
            )
        if application_name and group_name:
            self._group(application_name, group_name)  # raises like AWS when either is missing
        statuses = body.get("includeOnlyStatuses") or []
        unknown = [s for s in statuses if s not in _STATUSES]
        if unknown:
            raise ApiError(
                "InvalidDeploymentStatusException", f"Invalid deployment status: {unknown[0]}"
            )
        time_range = body.get("createTimeRange") or {}
        start, end = time_range.get("start"), time_range.get("end")
        if start is not None and end is not None and float(start) > float(end):
            raise ApiError(
                "InvalidTimeRangeException", "The start time must be earlier than the end time."
            )
        external_id = body.get("externalId")

        def wanted(d: _Deployment) -> bool:
            return (
                (not application_name or d.application_name == application_name)
                and (not group_name or d.deployment_group_name == group_name)
                and (not statuses or d.status in statuses)
                and (start is None or d.create_time >= float(start))
                and (end is None or d.create_time <= float(end))
                and not external_id  # no local deployment has an external id
            )

        # Newest first: what an operator asking "what ran last" wants on the first page.
        ids = [d.deployment_id for d in reversed(self._deployments.values()) if wanted(d)]
        offset = _page_offset(body.get("nextToken"))
        result: dict[str, Any] = {"deployments": ids[offset : offset + _PAGE_SIZE]}
        if offset + _PAGE_SIZE < len(ids):
            result["nextToken"] = str(offset + _PAGE_SIZE)
        return result

    def _continue_deployment(self, body: dict[str, Any]) -> dict[str, Any]:
        deployment = self._find(body.get("deploymentId"))
        wait_type = body.get("deploymentWaitType") or "READY_WAIT"
        if wait_type not in ("READY_WAIT", "TERMINATION_WAIT"):
            raise ApiError(
                "InvalidDeploymentWaitTypeException", f"Invalid deployment wait type: {wait_type}"
            )
        if not deployment.active:
            raise ApiError(
                "DeploymentAlreadyCompletedException",
                f"The deployment {deployment.deployment_id} has already completed.",
            )
        now = self._clock()
        if wait_type == "READY_WAIT" and deployment.phase is _Phase.READY:
            deployment.messages.append("ContinueDeployment: rerouting production traffic")
            self._begin_shift(deployment, now)
        elif wait_type == "TERMINATION_WAIT" and deployment.phase is _Phase.TERMINATION_WAIT:
            self._guarded(deployment, now, lambda: self._finish(deployment, now))
        else:
            raise ApiError(
                "DeploymentIsNotInReadyStateException",
                f"The deployment {deployment.deployment_id} is not waiting for {wait_type} "
                f"(status {deployment.status}).",
            )
        return {}

    def _stop_deployment(self, body: dict[str, Any]) -> dict[str, Any]:
        deployment = self._find(body.get("deploymentId"))
        if not deployment.active:
            raise ApiError(
                "DeploymentAlreadyCompletedException",
                f"The deployment {deployment.deployment_id} has already completed.",
            )
        if deployment.rollback_of is not None:
            # Traffic is already back on blue: stopping only cuts the termination short.
            now = self._clock()
            deployment.messages.append("Deployment was stopped by the user")

            def cut_short() -> None:
                self._discard_green(deployment)
                deployment.lifecycle.succeed_before("AfterAllowTraffic", now)  # rerouted
                self._complete(deployment, now, "Stopped")

            self._guarded(deployment, now, cut_short)
            return {
                "status": "Succeeded",
                "statusMessage": f"Rollback {deployment.deployment_id} stopped; production is "
                "on the original task set and the replacement task set is terminated.",
            }
        requested = body.get("autoRollbackEnabled")
        rollback = (
            _rollback_on(deployment.auto_rollback, "DEPLOYMENT_STOP_ON_REQUEST")
            if requested is None
            else bool(requested)
        )
        now = self._clock()
        traffic_moved = deployment.plan is not None and deployment.plan.production_percent > 0
        deployment.messages.append("Deployment was stopped by the user")
        if (rollback or traffic_moved) and self._changed(deployment):
            why = (
                "production traffic had already moved"
                if traffic_moved and not rollback
                else "StopDeployment requested a rollback"
            )
            self._guarded(
                deployment, now, lambda: self._roll_back(deployment, now, "Stopped", reason=why)
            )
            if deployment.rollback is not None:
                # As on AWS: the stop is Pending while the rollback deployment runs.
                rollback_id = deployment.rollback["rollbackDeploymentId"]
                return {
                    "status": "Pending",
                    "statusMessage": (
                        f"Deployment {deployment.deployment_id} stopped; rollback deployment "
                        f"{rollback_id} is in progress ({why})."
                    ),
                }
            message = f"Deployment {deployment.deployment_id} stopped; it could not be rolled back."
        else:

            def discard() -> None:
                self._reroute_to_blue(deployment.plan)
                self._discard_green(deployment)
                self._complete(deployment, now, "Stopped")

            self._guarded(deployment, now, discard)
            message = f"Deployment {deployment.deployment_id} stopped; production stayed on blue."
        return {"status": "Succeeded", "statusMessage": message}

    # -- deployment targets ---------------------------------------------------------------

    def _list_deployment_targets(self, body: dict[str, Any]) -> dict[str, Any]:
        deployment = self._started(body)
        filters = body.get("targetFilters") or {}
        if set(filters) - {"TargetStatus", "ServerInstanceLabel"}:
            raise ApiError("InvalidTargetFilterNameException", "The target filter name is invalid.")
        statuses = filters.get("TargetStatus") or []
        if set(statuses) - _TARGET_STATUSES:
            raise ApiError(
                "InvalidInstanceStatusException", "The specified instance status does not exist."
            )
        # ServerInstanceLabel (Blue/Green) labels instances; an ECS target carries none.
        target = self._target(deployment)["ecsTarget"]
        ids = [target["targetId"]] if not statuses or target["status"] in statuses else []
        return {"targetIds": ids[_page_offset(body.get("nextToken")) :]}

    def _get_deployment_target(self, body: dict[str, Any]) -> dict[str, Any]:
        deployment = self._started(body)
        target_id = body.get("targetId")
        if not target_id:
            raise ApiError(
                "DeploymentTargetIdRequiredException", "A deployment target ID was not provided."
            )
        return {"deploymentTarget": self._named_target(deployment, target_id)}

    def _batch_get_deployment_targets(self, body: dict[str, Any]) -> dict[str, Any]:
        deployment = self._started(body)
        ids = body.get("targetIds") or []
        if not ids:
            raise ApiError(
                "DeploymentTargetIdRequiredException", "A deployment target ID was not provided."
            )
        if len(ids) > 1:
            raise ApiError(
                "DeploymentTargetListSizeExceededException",
                "The maximum number of targets that can be associated with an Amazon ECS or "
                "Lambda deployment was exceeded. The target list of both types of deployments "
                "must have exactly one item.",
            )
        return {"deploymentTargets": [self._named_target(deployment, i) for i in ids]}

    def _started(self, body: dict[str, Any]) -> _Deployment:
        deployment = self._find(body.get("deploymentId"))
        if deployment.phase is _Phase.CREATED:
            raise ApiError(
                "DeploymentNotStartedException", "The specified deployment has not started."
            )
        return deployment

    def _named_target(self, d: _Deployment, target_id: Any) -> dict[str, Any]:
        target = self._target(d)
        if target_id != target["ecsTarget"]["targetId"]:
            raise ApiError(
                "DeploymentTargetDoesNotExistException",
                "The provided target ID does not belong to the attempted deployment.",
            )
        return target

    def _target(self, d: _Deployment) -> dict[str, Any]:
        """The deployment's one target: its ECS service, named ``<cluster>:<service>``."""
        named = d.ecs_services[0] if d.ecs_services else {}
        cluster, name = str(named.get("clusterName", "")), str(named.get("serviceName", ""))
        service = self._find_service(cluster, name)
        arn = (
            str(service.arn)
            if service is not None
            else f"arn:aws:ecs:{self.region}:{self.account_id}:service/{cluster}/{name}"
        )
        return ecs_target(
            deployment_id=d.deployment_id,
            target_id=f"{cluster}:{name}",
            target_arn=arn,
            status=d.status,
            updated_at=d.updated_at or d.create_time,
            lifecycle=d.lifecycle,
            task_sets=self._task_sets_info(d.plan, service),
        )

    def _task_sets_info(self, plan: _Plan | None, service: Any) -> list[dict[str, Any]]:
        """The deployment's blue and green task sets that still exist, with their traffic."""
        if plan is None or service is None:
            return []
        try:
            weights = self._weights(plan.production_listeners[0])
        except _Failure:
            weights = {}
        total = sum(weights.values()) or 1
        names = {tg.arn: tg.name for tg in list(self._elbv2.target_groups.values())}
        sides = {
            plan.blue_task_set: ("Blue", plan.blue_target_group),
            plan.green_task_set: ("Green", plan.green_target_group),
        }
        found = []
        for task_set in list(service.task_sets):
            side = sides.get(task_set.task_set_arn)
            if side is None:
                continue
            label, group = side
            weight = 100.0 * weights.get(group, 0) / total
            found.append(task_set_info(task_set, label, weight, names.get(group, group)))
        return found

    def _guarded(self, d: _Deployment, now: float, action: Callable[[], None]) -> None:
        """Run a caller's transition; a broken environment fails the deployment, not the call."""
        try:
            action()
        except _Failure as failure:
            self._fail(d, now, failure)
        except _MOTO_ERRORS as e:
            self._fail(d, now, _Failure("INTERNAL_ERROR", ": ".join(_moto_error(e))))

    # -- life cycle -----------------------------------------------------------------------

    def _advance(self, d: _Deployment, now: float) -> None:
        """Apply every transition of ``d`` that is due by ``now``, at the time it was due."""
        while d.active:
            try:
                if not self._step(d, now):
                    return
            except _Failure as failure:
                self._fail(d, now, failure)
            except _MOTO_ERRORS as e:
                self._fail(d, now, _Failure("INTERNAL_ERROR", ": ".join(_moto_error(e))))

    def _step(self, d: _Deployment, now: float) -> bool:
        if now < d.deadline:
            return False
        at = d.deadline
        d.updated_at = at
        if d.phase is _Phase.CREATED:
            self._install(d, at)
        elif d.phase is _Phase.ROLLING_BACK:
            self._finish_rollback(d, at)
        elif d.phase is _Phase.INSTALLING:
            self._allow_test_traffic(d, at)
        elif d.phase is _Phase.READY:
            wait = _ready_option(d).get("waitTimeInMinutes", 0)
            self._roll_back(
                d,
                at,
                "Stopped",
                reason="the ready wait timed out",
                error=(
                    "TIMEOUT",
                    f"The deployment timed out: nobody called ContinueDeployment within the "
                    f"{wait} minute wait for the replacement task set",
                ),
            )
        elif d.phase is _Phase.SHIFTING:
            self._shift_step(d, at)
        elif d.phase is _Phase.TERMINATION_WAIT:
            self._finish(d, at)
        return True

    def _install(self, d: _Deployment, at: float) -> None:
        d.status, d.start_time = "InProgress", at
        d.phase, d.deadline = _Phase.INSTALLING, at + self.timing.install_seconds
        d.lifecycle.begin("Install", at)
        # Everything is checked before anything changes, so a refused AppSpec changes nothing.
        appspec = self._appspec(d)
        task_definition = self._task_definition(appspec)
        d.plan = self._resolve(d)
        service = self._service(d.plan)
        if appspec.hooks:
            d.messages.append(
                "Lifecycle hooks are not invoked locally: " + ", ".join(appspec.hooks)
            )
        ecs = self._ecs
        # A stale replacement from an interrupted deployment is replaced, as CodeDeploy does.
        for task_set in list(service.task_sets):
            if task_set.task_set_arn != d.plan.blue_task_set:
                ecs.delete_task_set(d.plan.cluster, d.plan.service, task_set.task_set_arn)
        green = ecs.create_task_set(
            service.arn,
            d.plan.cluster,
            task_definition.arn,
            external_id=d.deployment_id,
            network_configuration=appspec.network_configuration
            or service.network_configuration
            or None,
            load_balancers=[
                {
                    "targetGroupArn": d.plan.green_target_group,
                    "containerName": appspec.container_name,
                    "containerPort": appspec.container_port,
                }
            ],
            launch_type=None if appspec.capacity_provider_strategy else service.launch_type,
            capacity_provider_strategy=appspec.capacity_provider_strategy,
            platform_version=appspec.platform_version or service.platform_version,
        )
        _describe_task_set(green, service.desired_count, "STABILIZING")
        d.plan.green_task_set = green.task_set_arn
        logger.info("deployment %s: replacement task set %s", d.deployment_id, green.id)

    def _appspec(self, d: _Deployment) -> AppSpec:
        content = _revision_content(d.revision)
        try:
            return parse_appspec(content)
        except ValueError as e:
            raise _Failure("INVALID_REVISION", f"The AppSpec file is invalid: {e}") from e

    def _task_definition(self, appspec: AppSpec) -> Any:
        try:
            task_definition = self._ecs.describe_task_definition(appspec.task_definition)
        except _MOTO_ERRORS as e:
            raise _Failure(
                "ECS_UPDATE_ERROR",
                f"The task definition {appspec.task_definition} in the AppSpec does not exist.",
            ) from e
        containers = {c.get("name"): c for c in task_definition.container_definitions}
        container = containers.get(appspec.container_name)
        if container is None:
            raise _Failure(
                "ECS_UPDATE_ERROR",
                f"The AppSpec's LoadBalancerInfo names container {appspec.container_name!r}, "
                f"which is not in task definition {task_definition.arn} "
                f"(containers: {', '.join(sorted(map(str, containers)))}).",
            )
        ports = {int(m.get("containerPort", 0)) for m in container.get("portMappings") or []}
        if appspec.container_port not in ports:
            raise _Failure(
                "ECS_UPDATE_ERROR",
                f"The AppSpec's LoadBalancerInfo names port {appspec.container_port} of container "
                f"{appspec.container_name!r}, which maps {sorted(ports) or 'no ports'} in "
                f"task definition {task_definition.arn}.",
            )
        return task_definition

    def _resolve(self, d: _Deployment) -> _Plan:
        style = d.deployment_style
        if (style.get("deploymentType"), style.get("deploymentOption")) != (
            "BLUE_GREEN",
            "WITH_TRAFFIC_CONTROL",
        ):
            raise _Failure(
                "MISSING_BLUE_GREEN_DEPLOYMENT_CONFIGURATION",
                "An ECS deployment group needs deploymentStyle BLUE_GREEN, WITH_TRAFFIC_CONTROL.",
            )
        if len(d.ecs_services) != 1:
            raise _Failure(
                "INVALID_ECS_SERVICE", "The deployment group must name exactly one ECS service."
            )
        cluster = d.ecs_services[0].get("clusterName", "")
        service_name = d.ecs_services[0].get("serviceName", "")
        pairs = d.load_balancer_info.get("targetGroupPairInfoList") or []
        if len(pairs) != 1 or len(pairs[0].get("targetGroups") or []) != 2:
            raise _Failure(
                "MISSING_ELB_INFORMATION",
                "The deployment group's loadBalancerInfo needs one pair of two target groups.",
            )
        pair = pairs[0]
        production = list((pair.get("prodTrafficRoute") or {}).get("listenerArns") or [])
        test = list((pair.get("testTrafficRoute") or {}).get("listenerArns") or [])
        if not production:
            raise _Failure(
                "MISSING_ELB_INFORMATION", "The target group pair has no production listener."
            )
        by_name = {tg.name: tg.arn for tg in list(self._elbv2.target_groups.values())}
        arns = []
        for entry in pair["targetGroups"]:
            arn = by_name.get(entry.get("name"))
            if arn is None:
                raise _Failure(
                    "ELASTIC_LOAD_BALANCING_INVALID",
                    f"Target group {entry.get('name')!r} does not exist.",
                )
            arns.append(arn)
        weights = self._weights(production[0])
        serving = [arn for arn in arns if weights.get(arn, 0) > 0]
        if len(serving) != 1 or set(weights) - set(arns):
            raise _Failure(
                "ELASTIC_LOAD_BALANCING_INVALID",
                f"The production listener {production[0]} must forward to exactly one target group "
                f"of the pair {pair['targetGroups']}.",
            )
        for listener in test + production[1:]:
            self._weights(listener)  # the listener must exist
        blue = serving[0]
        green = arns[1] if arns[0] == blue else arns[0]
        plan = _Plan(cluster, service_name, blue, green, production, test, blue_task_set="")
        plan.blue_task_set = self._blue_task_set(plan)
        return plan

    def _service(self, plan: _Plan) -> Any:
        try:
            services, _ = self._ecs.describe_services(plan.cluster, [plan.service])
        except _MOTO_ERRORS as e:
            raise _Failure(
                "INVALID_ECS_SERVICE", f"ECS cluster {plan.cluster!r} does not exist."
            ) from e
        if not services or services[0].status != "ACTIVE":
            raise _Failure(
                "INVALID_ECS_SERVICE",
                f"ECS service {plan.service!r} does not exist in cluster {plan.cluster!r}.",
            )
        service = services[0]
        if (service.deployment_controller or {}).get("type") != "CODE_DEPLOY":
            raise _Failure(
                "INVALID_ECS_SERVICE",
                f"ECS service {plan.service!r} does not use the CODE_DEPLOY deployment controller.",
            )
        return service

    def _blue_task_set(self, plan: _Plan) -> str:
        """The task set serving production (the service's primary one, normally)."""
        service = self._service(plan)
        ranked = sorted(service.task_sets, key=lambda t: t.status != "PRIMARY")
        for task_set in ranked:
            if _serves(task_set, plan.blue_target_group):
                return str(task_set.task_set_arn)
        if not service.task_definition:
            raise _Failure(
                "INVALID_ECS_SERVICE", f"ECS service {plan.service!r} has no task definition."
            )
        return self._create_primary_task_set(service, plan.blue_target_group)

    def _give_primary_task_sets(self) -> None:
        """ECS creates a ``CODE_DEPLOY`` service with a primary task set; moto does not."""
        for service in list(self._ecs.services.values()):
            if (
                (service.deployment_controller or {}).get("type") == "CODE_DEPLOY"
                and service.status == "ACTIVE"
                and not service.task_sets
                and service.task_definition
            ):
                try:
                    self._create_primary_task_set(service, None)
                except _MOTO_ERRORS:
                    logger.exception("could not give %s its primary task set", service.arn)

    def _create_primary_task_set(self, service: Any, target_group: str | None) -> str:
        load_balancers = [dict(lb) for lb in service.load_balancers] or (
            [{"targetGroupArn": target_group}] if target_group else []
        )
        original = self._ecs.create_task_set(
            service.arn,
            service.cluster_name,
            service.task_definition,
            network_configuration=service.network_configuration or None,
            load_balancers=load_balancers,
            launch_type=service.launch_type,
            platform_version=service.platform_version,
        )
        _describe_task_set(original, service.desired_count, "STEADY_STATE")
        original.status = "PRIMARY"
        logger.info("service %s: primary task set %s", service.arn, original.id)
        return str(original.task_set_arn)

    def _allow_test_traffic(self, d: _Deployment, at: float) -> None:
        plan = _require(d.plan)
        service = self._service(plan)
        for task_set in service.task_sets:
            if task_set.task_set_arn == plan.green_task_set:
                _describe_task_set(task_set, service.desired_count, "STEADY_STATE")
        for listener in plan.test_listeners:
            self._forward(listener, {plan.green_target_group: 1})
        plan.test_traffic_moved = bool(plan.test_listeners)
        option = _ready_option(d)
        if option.get("actionOnTimeout") == "STOP_DEPLOYMENT":
            d.status, d.phase = "Ready", _Phase.READY
            d.lifecycle.succeed_before("BeforeAllowTraffic", at)
            minutes = float(option.get("waitTimeInMinutes", 0))
            d.deadline = at + minutes * self.timing.seconds_per_minute
            d.messages.append("Replacement task set is ready; waiting for ContinueDeployment")
        else:
            self._begin_shift(d, at)

    def _begin_shift(self, d: _Deployment, at: float) -> None:
        d.status, d.phase, d.updated_at = "InProgress", _Phase.SHIFTING, at
        d.lifecycle.begin("AllowTraffic", at)
        d.shift_started, d.shift_step = at, 0
        d.deadline = self._step_time(d, 0)

    def _step_time(self, d: _Deployment, step: int) -> float:
        minutes, _ = _traffic_steps(d.config_name)[step]
        return (
            d.shift_started
            + self.timing.traffic_shift_seconds
            + minutes * self.timing.seconds_per_minute
        )

    def _shift_step(self, d: _Deployment, at: float) -> None:
        plan = _require(d.plan)
        steps = _traffic_steps(d.config_name)
        _, percent = steps[d.shift_step]
        weights = {plan.blue_target_group: 100 - percent, plan.green_target_group: percent}
        for listener in plan.production_listeners:
            self._forward(listener, {arn: w for arn, w in weights.items() if w > 0})
        plan.production_percent = percent
        d.shift_step += 1
        if d.shift_step < len(steps):
            d.deadline = self._step_time(d, d.shift_step)
            return
        d.termination_wait_started = True
        d.phase = _Phase.TERMINATION_WAIT
        d.lifecycle.succeed_all(at)
        terminate = d.blue_green.get("terminateBlueInstancesOnDeploymentSuccess") or {}
        minutes = float(terminate.get("terminationWaitTimeInMinutes", 0))
        d.deadline = at + minutes * self.timing.seconds_per_minute
        d.messages.append("Production traffic is on the replacement task set")

    def _finish(self, d: _Deployment, at: float) -> None:
        plan = _require(d.plan)
        ecs = self._ecs
        service = self._service(plan)
        for task_set in list(service.task_sets):
            if task_set.task_set_arn != plan.green_task_set:
                ecs.delete_task_set(plan.cluster, plan.service, task_set.task_set_arn)
        # Also sets the service's task definition and load balancer, as ECS does.
        ecs.update_service_primary_task_set(plan.cluster, plan.service, plan.green_task_set)
        self._last_revision[(d.application_name, d.deployment_group_name)] = d.revision
        self._complete(d, at, "Succeeded")
        logger.info("deployment %s succeeded", d.deployment_id)

    def _fail(self, d: _Deployment, at: float, failure: _Failure) -> None:
        logger.warning("deployment %s failed: %s", d.deployment_id, failure.message)
        d.error = {"code": failure.code, "message": failure.message}
        try:
            if d.rollback_of is not None:
                pass  # a failed rollback is not rolled back again
            elif _rollback_on(d.auto_rollback, "DEPLOYMENT_FAILURE") and self._changed(d):
                self._roll_back(d, at, "Failed", reason="the deployment failed")
            else:
                self._reroute_to_blue(d.plan)
                self._discard_green(d)
        except (*_MOTO_ERRORS, _Failure):
            logger.exception("deployment %s: could not restore blue", d.deployment_id)
        if d.active:
            self._complete(d, at, "Failed")

    def _changed(self, d: _Deployment) -> bool:
        return d.plan is not None and d.plan.green_task_set is not None

    def _roll_back(
        self,
        d: _Deployment,
        at: float,
        status: str,
        *,
        reason: str,
        error: tuple[str, str] | None = None,
    ) -> None:
        """End ``d`` and start the rollback deployment that puts blue back.

        Traffic goes back to blue at once; the green task set is terminated when the
        rollback ends, ``rollback_seconds`` later.
        """
        plan = _require(d.plan)
        revision = d.previous_revision or self._blue_revision(d)
        self._reroute_to_blue(plan)
        record = _Deployment(
            deployment_id=self._new_id(),
            application_name=d.application_name,
            deployment_group_name=d.deployment_group_name,
            config_name=d.config_name,
            revision=revision,
            previous_revision=d.revision,
            description=f"Rollback of deployment {d.deployment_id}",
            creator="codeDeployRollback",
            auto_rollback=d.auto_rollback,
            deployment_style=d.deployment_style,
            blue_green=d.blue_green,
            load_balancer_info=d.load_balancer_info,
            ecs_services=d.ecs_services,
            create_time=at,
            status="InProgress",
            phase=_Phase.ROLLING_BACK,
            deadline=at + self.timing.rollback_seconds,
            start_time=at,
            plan=plan,  # the green task set is the rollback's to terminate now
            rollback_of=d.deployment_id,
            updated_at=at,
        )
        record.lifecycle.skip_before("AllowTraffic")
        record.lifecycle.begin("AllowTraffic", at)
        record.rollback = {
            "rollbackTriggeringDeploymentId": d.deployment_id,
            "rollbackMessage": f"Rollback of deployment {d.deployment_id}: {reason}.",
        }
        self._deployments[record.deployment_id] = record
        d.rollback = {
            "rollbackDeploymentId": record.deployment_id,
            "rollbackMessage": (
                f"Deployment {d.deployment_id} is rolled back by deployment "
                f"{record.deployment_id} because {reason}; production is on the original task set."
            ),
        }
        if error is not None:
            d.error = {"code": error[0], "message": error[1]}
        self._complete(d, at, status)
        logger.info(
            "deployment %s stopped; rollback %s started (%s)",
            d.deployment_id,
            record.deployment_id,
            reason,
        )

    def _finish_rollback(self, d: _Deployment, at: float) -> None:
        self._discard_green(d)
        self._complete(d, at, "Succeeded")
        logger.info("rollback %s of %s succeeded", d.deployment_id, d.rollback_of)

    def _reroute_to_blue(self, plan: _Plan | None) -> None:
        if plan is None:
            return
        for listener in plan.production_listeners if plan.production_percent else []:
            self._forward(listener, {plan.blue_target_group: 1})
        plan.production_percent = 0
        for listener in plan.test_listeners if plan.test_traffic_moved else []:
            self._forward(listener, {plan.blue_target_group: 1})
        plan.test_traffic_moved = False

    def _discard_green(self, d: _Deployment) -> None:
        plan = d.plan
        if plan is None or plan.green_task_set is None:
            return
        try:
            self._ecs.delete_task_set(plan.cluster, plan.service, plan.green_task_set)
        except _MOTO_ERRORS:
            logger.warning("deployment %s: replacement task set already gone", d.deployment_id)
        plan.green_task_set = None

    def _blue_revision(self, d: _Deployment) -> dict[str, Any]:
        """An AppSpec for what production runs, when no earlier local deployment recorded one."""
        plan = _require(d.plan)
        service = self._service(plan)
        blue = next((t for t in service.task_sets if t.task_set_arn == plan.blue_task_set), None)
        lb = dict((blue.load_balancers if blue else service.load_balancers or [{}])[0])
        appspec = {
            "version": 0.0,
            "Resources": [
                {
                    "TargetService": {
                        "Type": "AWS::ECS::Service",
                        "Properties": {
                            "TaskDefinition": blue.task_definition
                            if blue
                            else service.task_definition,
                            "LoadBalancerInfo": {
                                "ContainerName": lb.get("containerName"),
                                "ContainerPort": lb.get("containerPort"),
                            },
                        },
                    }
                }
            ],
        }
        content = json.dumps(appspec)
        return {
            "revisionType": "AppSpecContent",
            "appSpecContent": {
                "content": content,
                "sha256": hashlib.sha256(content.encode()).hexdigest(),
            },
        }

    def _complete(self, d: _Deployment, at: float, status: str) -> None:
        d.status, d.phase, d.complete_time, d.updated_at = status, _Phase.DONE, at, at
        if status == "Succeeded":
            d.lifecycle.succeed_all(at)
        else:
            d.lifecycle.end_unfinished(at)

    # -- helpers --------------------------------------------------------------------------

    def _weights(self, listener_arn: str) -> dict[str, int]:
        listener = self._listener(listener_arn)
        return forward_weights(list(listener.default_actions))

    def _listener(self, listener_arn: str) -> Any:
        try:
            listeners = self._elbv2.describe_listeners(None, [listener_arn])
        except _MOTO_ERRORS as e:
            raise _Failure(
                "ELASTIC_LOAD_BALANCING_INVALID", f"Listener {listener_arn} does not exist."
            ) from e
        if not listeners:
            raise _Failure(
                "ELASTIC_LOAD_BALANCING_INVALID", f"Listener {listener_arn} does not exist."
            )
        return listeners[0]

    def _forward(self, listener_arn: str, weights: dict[str, int]) -> None:
        listener = self._listener(listener_arn)
        action: dict[str, Any] = {"Type": "forward"}
        if len(weights) == 1:
            action["TargetGroupArn"] = next(iter(weights))
        else:
            action["ForwardConfig"] = {
                "TargetGroups": [{"TargetGroupArn": arn, "Weight": w} for arn, w in weights.items()]
            }
        order = next(
            (a.data.get("Order") for a in listener.default_actions if a.data.get("Order")), None
        )
        if order is not None:
            action["Order"] = order
        self._elbv2.modify_listener(listener_arn, actions=[action])

    def _config_name(self, name: Any) -> str:
        config = str(name) if name else _ECS_DEFAULT_CONFIG
        if config == _MOTO_DEFAULT_CONFIG:
            return _ECS_DEFAULT_CONFIG
        if configs.ecs_traffic_steps(config) is None:
            raise ApiError(
                "DeploymentConfigDoesNotExistException",
                f"The deployment configuration {config} is not an ECS deployment configuration "
                f"known locally ({', '.join(configs.ECS_CONFIGS)}).",
            )
        return config

    def _find(self, deployment_id: Any) -> _Deployment:
        if not deployment_id:
            raise ApiError(
                "DeploymentIdRequiredException", "At least one deployment ID must be specified."
            )
        _check_id(deployment_id)
        deployment = self._deployments.get(deployment_id)
        if deployment is None:
            raise ApiError(
                "DeploymentDoesNotExistException",
                f"The deployment {deployment_id} does not exist with the user or AWS account.",
            )
        return deployment

    def _new_id(self) -> str:
        while True:
            candidate = "d-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(9))
            if candidate not in self._deployments:
                return candidate

    def deployments(self) -> list[dict[str, Any]]:
        """Every deployment's current ``deploymentInfo``, oldest first (for local tooling)."""
        with self._lock:
            self.tick()
            return [d.info() for d in self._deployments.values()]

    # -- ECS ------------------------------------------------------------------------------

    def ecs_guard(self, target: str, body: dict[str, Any]) -> JsonResponse | None:
        """Refuse what real ECS refuses on a ``CODE_DEPLOY`` service; ``None`` lets moto answer."""
        if not target.startswith(ECS_TARGET_PREFIX):
            return None
        self.tick()  # what ECS answers next reflects the deployments' progress
        operation = target.removeprefix(ECS_TARGET_PREFIX)
        if operation not in ("UpdateService", *_TASK_SET_OPERATIONS):
            return None
        body = body or {}
        service = self._find_service(body.get("cluster") or "default", body.get("service"))
        if service is None or (service.deployment_controller or {}).get("type") != "CODE_DEPLOY":
            return None
        if operation in _TASK_SET_OPERATIONS:
            return ApiError(
                "InvalidParameterException",
                "Amazon ECS only supports task set management on services configured to use "
                "external deployment controllers.",
            ).response()
        refused = self._refused_update(service, body)
        if refused is None:
            return None
        return ApiError(
            "InvalidParameterException",
            refused + " Use AWS CodeDeploy to trigger a new deployment.",
        ).response()

    def _find_service(self, cluster: str, service: Any) -> Any:
        if not isinstance(service, str) or not service:
            return None
        cluster_name = cluster.split("/")[-1]
        for candidate in list(self._ecs.services.values()):
            if candidate.cluster_name == cluster_name and service in (
                candidate.name,
                candidate.arn,
            ):
                return candidate
        return None

    def _refused_update(self, service: Any, body: dict[str, Any]) -> str | None:
        requested = body.get("taskDefinition")
        if requested:
            try:
                resolved = self._ecs.describe_task_definition(requested).arn
            except _MOTO_ERRORS:
                resolved = requested
            if resolved != service.task_definition:
                return f"Unable to update task definition on services with a {_CONTROLLER}."
        if body.get("forceNewDeployment"):
            return f"Cannot force a new deployment on services with a {_CONTROLLER}."
        checks = {
            "networkConfiguration": ("network parameters", service.network_configuration or {}),
            "platformVersion": ("platform version", service.platform_version),
            "loadBalancers": ("load balancers", service.load_balancers),
            "capacityProviderStrategy": ("capacity provider strategy", None),
            "serviceRegistries": ("service registries", service.service_registries),
        }
        for key, (label, current) in checks.items():
            if key in body and body[key] != current:
                return f"Unable to update {label} on services with a {_CONTROLLER}."
        return None


_CONTROLLER = "CODE_DEPLOY deployment controller"
_TASK_SET_OPERATIONS = (
    "CreateTaskSet",
    "UpdateTaskSet",
    "DeleteTaskSet",
    "UpdateServicePrimaryTaskSet",
)


def _moto_error(error: Exception) -> tuple[str, str]:
    """(code, message) of an exception from either of moto's exception families."""
    code = getattr(error, "error_type", None) or getattr(error, "code", "InternalFailure")
    return str(code), str(getattr(error, "message", error))


def _check_id(deployment_id: Any) -> None:
    valid = (
        isinstance(deployment_id, str)
        and len(deployment_id) == 11
        and deployment_id.startswith("d-")
        and all(c in _ID_ALPHABET for c in deployment_id[2:])
    )
    if not valid:
        raise ApiError(
            "InvalidDeploymentIdException",
            f"Specified DeploymentId is not in the valid format: {deployment_id}",
        )


def _check_revision(revision: Any) -> None:
    kind = revision.get("revisionType") if isinstance(revision, dict) else None
    if kind not in ("AppSpecContent", "String"):
        raise ApiError(
            "InvalidRevisionException",
            f"The local CodeDeploy takes ECS revisions of type AppSpecContent (got {kind}).",
        )
    holder = revision.get("appSpecContent" if kind == "AppSpecContent" else "string") or {}
    content = holder.get("content")
    if not isinstance(content, str) or not content.strip():
        raise ApiError("InvalidRevisionException", "The revision's AppSpec content is empty.")
    digest = holder.get("sha256")
    if digest and digest != hashlib.sha256(content.encode()).hexdigest():
        raise ApiError("InvalidRevisionException", "The AppSpec content does not match its sha256.")


def _revision_content(revision: dict[str, Any]) -> str:
    kind = revision.get("revisionType")
    holder = revision.get("appSpecContent" if kind == "AppSpecContent" else "string") or {}
    return str(holder.get("content", ""))


def _shown_revision(revision: dict[str, Any] | None) -> dict[str, Any] | None:
    """A revision as GetDeployment shows it: an AppSpec's content is not returned, its
    ``sha256`` is (computed when the caller gave none)."""
    if revision is None:
        return None
    kind = revision.get("revisionType")
    key = {"AppSpecContent": "appSpecContent", "String": "string"}.get(str(kind))
    if key is None:
        return dict(revision)
    content = _revision_content(revision)
    digest = (revision.get(key) or {}).get("sha256") or hashlib.sha256(content.encode()).hexdigest()
    return {"revisionType": kind, key: {"sha256": digest}}


def _traffic_steps(config_name: str) -> tuple[tuple[float, int], ...]:
    steps = configs.ecs_traffic_steps(config_name)
    if steps is None:  # refused by CreateDeployment already
        raise _Failure("INTERNAL_ERROR", f"{config_name} is not an ECS deployment configuration")
    return steps


def _ready_option(d: _Deployment) -> dict[str, Any]:
    return dict(d.blue_green.get("deploymentReadyOption") or {})


def _rollback_on(configuration: dict[str, Any], event: str) -> bool:
    return bool(configuration.get("enabled")) and event in (configuration.get("events") or [])


def _page_offset(token: Any) -> int:
    if token is None:
        return 0
    try:
        offset = int(token)
    except (TypeError, ValueError) as e:
        raise ApiError(
            "InvalidNextTokenException", "The next token was specified in an invalid format."
        ) from e
    if offset < 0:
        raise ApiError(
            "InvalidNextTokenException", "The next token was specified in an invalid format."
        )
    return offset


def _serves(task_set: Any, target_group_arn: str) -> bool:
    return any(lb.get("targetGroupArn") == target_group_arn for lb in task_set.load_balancers)


def _describe_task_set(task_set: Any, desired: int, stability: str) -> None:
    """Fill what ECS reports on a task set that moto leaves out."""
    task_set.started_by = "CODE_DEPLOY"
    task_set.computed_desired_count = desired
    steady = stability == "STEADY_STATE"
    task_set.running_count = desired if steady else 0
    task_set.pending_count = 0 if steady else desired
    task_set.stabilityStatus = stability


def _require(plan: _Plan | None) -> _Plan:
    if plan is None:
        raise _Failure("INTERNAL_ERROR", "the deployment has no resolved plan")
    return plan
