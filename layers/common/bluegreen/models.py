"""The state machine's document, and the configuration it carries: pydantic models.

One document, :class:`DeploymentState`, flows through the state machine. Each step's
Lambda validates it, fills in its own section and returns it whole (the ASL selects the
Lambda's payload as the new state), so every state sees everything decided before it.

The other boundaries keep their models apart, so that a handler builds only the models it
validates: the trigger's in :mod:`bluegreen.push`, the approval records and links in
:mod:`bluegreen.domain.approval` (the approval API never builds the state's models), the
functions' settings in :mod:`bluegreen.settings`.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bluegreen.changes import FieldChange

Digest = Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
Name = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")]

# A Slack user (U..., or W... in Enterprise Grid), or an email that Slack resolves to one.
SlackApprover = Annotated[
    str, Field(pattern=r"^(?:[UW][A-Z0-9]{2,20}|[^@\s]+@[^@\s]+\.[^@\s]+)$", max_length=254)
]
# A channel id (C..., G...), or a name (#deploys): chat.postMessage takes either.
SlackChannel = Annotated[str, Field(pattern=r"^(?:[CG][A-Z0-9]{2,20}|#[a-z0-9][a-z0-9._-]{0,79})$")]

# Tags that move: deploying them would make "what runs in prod" unanswerable.
DEFAULT_TAG_PATTERN = r"^(?:[0-9a-f]{7,40}|v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?)$"


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Timings(Model):
    """How long to wait and how often to look; production defaults, short in local samples.

    The upper bounds keep an execution inside Step Functions' 25,000 history events (each
    poll or probe round adds 9) and the probe's request inside its function's 30 s timeout;
    scripts/check_limits.py checks both against the ASL and the template.
    """

    approval_timeout_seconds: Annotated[int, Field(ge=1, le=7 * 24 * 3600)] = 24 * 3600
    deployment_poll_seconds: Annotated[int, Field(ge=1, le=300)] = 15
    deployment_max_polls: Annotated[int, Field(ge=1, le=1_000)] = 240
    probe_interval_seconds: Annotated[int, Field(ge=1, le=300)] = 10
    probe_required_passes: Annotated[int, Field(ge=1, le=100)] = 3
    probe_max_attempts: Annotated[int, Field(ge=1, le=500)] = 30
    probe_request_timeout_seconds: Annotated[float, Field(gt=0, le=20)] = 3.0
    # Waiting behind another deployment: the release answers at once; asking again this
    # often makes good a lost answer (TakeTurn's Retry allows 200 waits: 50 h by default).
    turn_recheck_seconds: Annotated[int, Field(ge=60, le=3600)] = 900


class SlackSettings(Model):
    """Where a service's approval requests and outcomes go in Slack, and who may click."""

    channel: SlackChannel
    # Only these users' Approve/Reject clicks count: user ids, or emails resolved through
    # users.lookupByEmail when the request is posted. Empty: the channel is only told.
    approvers: Annotated[list[SlackApprover], Field(max_length=50)] = Field(default_factory=list)


# An IAM role in another account that the app's functions assume to act there.
RoleArn = Annotated[
    str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]+$", max_length=2048)
]
Region = Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")]
DeploymentMethod = Literal["codedeploy-bluegreen", "rolling"]

# A task definition template's placeholder, as written between < and > (``IMAGE1_NAME``).
Placeholder = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
# The template travels in every execution's document (scripts/check_limits.py sizes it):
# twice what SSM's largest parameter (8 KB, the whole configuration) can hold.
TEMPLATE_MAX_BYTES = 16_384
MAX_IMAGES = 10
# ECS's own patterns: a family, and a CloudWatch Logs group name.
Family = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,255}$")]
LogGroup = Annotated[str, Field(pattern=r"^[.\-_/#A-Za-z0-9]{1,512}$")]
TaskSize = Annotated[str, Field(pattern=r"^[0-9A-Za-z. ]{1,32}$")]  # "256", "0.25 vCPU", "1 GB"


class ContainerValues(Model):
    """One container's values in an environment: its environment variables, merged over the
    template's by name."""

    environment: Annotated[
        dict[Annotated[str, Field(min_length=1, max_length=255)], str], Field(max_length=100)
    ] = Field(default_factory=dict)


class TaskDefinitionValues(Model):
    """An environment's values, merged over the service's task definition template."""

    family: Family | None = None
    cpu: TaskSize | None = None  # the task's, as ECS takes them: strings
    memory: TaskSize | None = None
    # The awslogs group of every container that logs with the awslogs driver.
    log_group: LogGroup | None = None
    containers: Annotated[dict[Name, ContainerValues], Field(max_length=MAX_IMAGES * 5)] = Field(
        default_factory=dict
    )


class ServiceConfig(Model):
    """One service in one of its environments: which repository deploys where, and how.

    The configuration lists a service's environments in order (its pipeline); each becomes
    one of these, with the service's shared fields merged in (see :mod:`bluegreen.config`).
    An execution carries the one it deploys to.
    """

    name: Name
    repository: Name
    environment: Name = "production"
    # The service's environments in order, this one among them: where a success promotes to.
    pipeline: Annotated[list[Name], Field(max_length=10)] = Field(default_factory=list)
    # How this environment receives an image that succeeded in the one before it.
    promotion: Literal["automatic", "manual"] = "automatic"
    # Another account's role to act through (none: the app's own account and role).
    role_arn: RoleArn | None = None
    external_id: (
        Annotated[str, Field(pattern=r"^[A-Za-z0-9+=,.@:_/-]+$", min_length=2, max_length=1224)]
        | None
    ) = None
    region: Region | None = None  # none: the app's own region
    cluster: Name
    service: Name
    method: DeploymentMethod = "codedeploy-bluegreen"
    container: Name
    container_port: Annotated[int, Field(ge=1, le=65535)]
    # CodeDeploy blue/green only: the application, its group, and the test listener's URL.
    codedeploy_application: Name | None = None
    deployment_group: Name | None = None
    deployment_config: Name | None = None
    # Who approves; none: this environment deploys without asking (email or Slack).
    approvers: Annotated[list[Email], Field(max_length=50)]
    test_url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    tag_pattern: str = DEFAULT_TAG_PATTERN
    # An operator's rollback returns to an image approved before: no new approval unless this.
    rollback_requires_approval: bool = False
    timings: Timings = Timings()
    slack: SlackSettings | None = None
    # Where a commit is shown, e.g. https://github.com/acme/checkout/commit/{revision}
    commit_url: (
        Annotated[str, Field(pattern=r"^https://[^\s]*\{revision\}[^\s]*$", max_length=500)] | None
    ) = None
    # Rendering from a template kept with the configuration (none: from the live revision,
    # ``container``'s image replaced): the task definition as RegisterTaskDefinition takes
    # it, this environment's values merged in, each container's image a placeholder
    # (``<IMAGE1_NAME>``) that ``images`` maps to a repository of the app's ECR. Checked in
    # full where the configuration is read (:mod:`bluegreen.config`).
    task_definition: dict[str, Any] | None = None
    images: Annotated[dict[Placeholder, Name], Field(max_length=MAX_IMAGES)] = Field(
        default_factory=dict
    )

    @field_validator("tag_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        re.compile(value)
        return value

    @model_validator(mode="after")
    def _method_has_what_it_needs(self) -> ServiceConfig:
        if self.method == "codedeploy-bluegreen":
            missing = [
                field
                for field in ("codedeploy_application", "deployment_group", "test_url")
                if getattr(self, field) is None
            ]
            if missing:
                raise ValueError(
                    f"method 'codedeploy-bluegreen' needs {', '.join(missing)} "
                    "(or method = 'rolling')"
                )
        if self.external_id is not None and self.role_arn is None:
            raise ValueError("external_id is only used with role_arn")
        if self.images and self.task_definition is None:
            raise ValueError("images name the placeholders of a task_definition template: add one")
        if self.task_definition is not None:
            size = len(json.dumps(self.task_definition, separators=(",", ":")).encode())
            if size > TEMPLATE_MAX_BYTES:
                raise ValueError(
                    f"task_definition is {size} bytes as JSON, over {TEMPLATE_MAX_BYTES} "
                    "(it travels in every execution's document)"
                )
        return self

    @property
    def repositories(self) -> list[str]:
        """The repositories whose push deploys this service: its own, then its template's."""
        return list(dict.fromkeys([self.repository, *self.images.values()]))

    @property
    def scalable_target_id(self) -> str:
        return f"service/{self.cluster}/{self.service}"

    @property
    def account(self) -> str | None:
        """The account the environment is in, when it is not the app's own."""
        return self.role_arn.split(":")[4] if self.role_arn else None

    @property
    def lock_key(self) -> str:
        """The service's queue: one per ECS service, wherever it is."""
        where = "/".join(part for part in (self.account, self.region) if part)
        return (
            f"{where}:{self.cluster}/{self.service}" if where else f"{self.cluster}/{self.service}"
        )

    @property
    def needs_approval(self) -> bool:
        return bool(self.approvers)

    @property
    def next_environment(self) -> str | None:
        """The environment a success here promotes to, if any."""
        if self.environment not in self.pipeline:
            return None
        at = self.pipeline.index(self.environment)
        return self.pipeline[at + 1] if at + 1 < len(self.pipeline) else None

    @property
    def bluegreen(self) -> BlueGreenTarget:
        """The CodeDeploy side of a blue/green environment (validated to be there)."""
        assert self.codedeploy_application
        assert self.deployment_group
        assert self.test_url
        return BlueGreenTarget(
            application=self.codedeploy_application,
            group=self.deployment_group,
            config=self.deployment_config,
            test_url=self.test_url,
        )


class BlueGreenTarget(Model):
    application: str
    group: str
    config: str | None
    test_url: str


class ImageRef(Model):
    """An image as pushed: repository, the tag it was pushed with, and its immutable digest."""

    registry_id: Annotated[str, Field(pattern=r"^\d{12}$")]
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")]
    repository: Name
    tag: Annotated[str, Field(min_length=1, max_length=128)]
    digest: Digest
    # ECR's imagePushedAt for the digest: which of two images is newer, whatever the tags say.
    pushed_at: datetime | None = None

    @property
    def repository_uri(self) -> str:
        return f"{self.registry_id}.dkr.ecr.{self.region}.amazonaws.com/{self.repository}"

    @property
    def pinned(self) -> str:
        """The image reference that goes into the task definition: by digest, never by tag."""
        return f"{self.repository_uri}@{self.digest}"


class Provenance(Model):
    """Where an image came from, as its OCI labels or annotations say (each may be absent)."""

    revision: Annotated[str, Field(max_length=200)] | None = None  # the commit
    source: Annotated[str, Field(max_length=500)] | None = None  # the repository's URL
    created: Annotated[str, Field(max_length=64)] | None = None  # when it was built


class RenderedAgain(Model):
    """Why a render was made again when the execution's turn came: the service ran another
    revision by then than the one the first render was made on (see
    :mod:`bluegreen.domain.rerender`)."""

    # The revision rendered first, the one approvers saw: never deployed. (A task
    # definition's ARN: a family of up to 255 characters, and the rest well within 512.)
    first_task_definition: Annotated[str, Field(max_length=512)]
    # The execution that registered the revision the service ran by then (its
    # ``bluegreen:execution`` tag: an execution's name, 80 characters at most); None: a
    # revision registered otherwise.
    registered_by: Annotated[str, Field(max_length=80)] | None = None


class RenderResult(Model):
    # The revision the service ran when this was rendered: the one it was rendered on.
    previous_task_definition: str
    task_definition: str
    previous_image: str | None = None  # none runs yet (a template's new container)
    changes: list[FieldChange]
    # The tag production runs, when its task definition was registered by a release of ours.
    previous_tag: Annotated[str, Field(max_length=128)] | None = None
    rendered_again: RenderedAgain | None = None


class ApprovalDecision(Model):
    """What the approval callback hands back to the state machine (SendTaskSuccess output)."""

    decision: Literal["approved"]
    approver: str
    decided_at: datetime
    reason: Annotated[str, Field(max_length=500)] | None = None
    approval_id: Annotated[str, Field(max_length=64)] | None = None


class Turn(Model):
    """What TakeTurn hands back (``$.turn``): the lock is this execution's (``acquired``),
    or the lock was released and it takes its turn again."""

    acquired: bool
    behind: str | None = None  # the execution it waited for, if it waited
    at: datetime
    # The render was made on a revision the service no longer runs: render again before
    # anything changes. None: nobody looked (a release handed the lock over; TakeTurn looks).
    stale: bool | None = None


class ScalingSnapshot(Model):
    """The scalable target's ``SuspendedState`` as it was before we touched it."""

    resource_id: str
    registered: bool
    dynamic_scaling_in_suspended: bool = False
    dynamic_scaling_out_suspended: bool = False
    scheduled_scaling_suspended: bool = False
    suspended_at: datetime


class DeploymentProgress(Model):
    deployment_id: str
    status: str = "Created"
    polls: Annotated[int, Field(ge=0)] = 0
    ready: bool = False
    succeeded: bool = False
    # CodeDeploy reported production traffic fully on the new task set, healthy (the
    # termination wait started, or Baking/Succeeded): from then on, nothing of ours rolls back.
    traffic_shifted: bool = False
    # After ContinueDeployment: how long CodeDeploy may take to report Succeeded (the
    # deployment config's traffic steps, the group's termination wait, the poll budget),
    # and the seconds before the next look (the polls spread over that time).
    completion_budget_seconds: Annotated[int, Field(ge=0)] | None = None
    wait_seconds: Annotated[int, Field(ge=1)] | None = None
    created_at: datetime | None = None
    ready_at: datetime | None = None
    continued_at: datetime | None = None
    finished_at: datetime | None = None


class RolloutRollback(Model):
    """How a service deployed by the ``rolling`` method returns to the revision it ran.

    ``by``: ECS's deployment circuit breaker rolled it back itself (``ecs``), we updated it
    back (``bluegreen``: the rollout did not complete in time, or a failure of ours), or
    there was nothing to roll back (``nobody``: the service was not changed, or the release
    completed and is left alone).
    """

    by: Literal["ecs", "bluegreen", "nobody"]
    detail: Annotated[str, Field(max_length=1024)]
    started_at: datetime
    # The ECS deployment bringing the revision back, and what ECS says of it.
    deployment_id: Annotated[str, Field(max_length=64)] | None = None
    task_definition: Annotated[str, Field(max_length=1024)] | None = None
    rollout_state: Annotated[str, Field(max_length=32)] | None = None
    checks: Annotated[int, Field(ge=0)] = 0
    finished: bool = False  # the service is steady on that revision again (or was never changed)
    finished_at: datetime | None = None


class RolloutProgress(Model):
    """ECS's rolling deployment of the rendered revision (method ``rolling``), as last seen."""

    # ECS's deployment (ecs-svc/...) of ``task_definition``; None: none was started.
    deployment_id: Annotated[str, Field(max_length=64)] | None = None
    task_definition: Annotated[str, Field(max_length=1024)]
    previous_task_definition: Annotated[str, Field(max_length=1024)]
    # ECS's rolloutState and rolloutStateReason, and the deployment's task counts.
    rollout_state: Annotated[str, Field(max_length=32)] = "IN_PROGRESS"
    reason: Annotated[str, Field(max_length=1024)] | None = None
    desired_count: Annotated[int, Field(ge=0)] = 0
    running_count: Annotated[int, Field(ge=0)] = 0
    pending_count: Annotated[int, Field(ge=0)] = 0
    failed_tasks: Annotated[int, Field(ge=0)] = 0
    polls: Annotated[int, Field(ge=0)] = 0
    completed: bool = False  # COMPLETED: the service runs the new revision, steady
    started_at: datetime | None = None
    finished_at: datetime | None = None
    rollback: RolloutRollback | None = None


class ProbeProgress(Model):
    attempts: Annotated[int, Field(ge=0)] = 0
    consecutive_passes: Annotated[int, Field(ge=0)] = 0
    healthy: bool = False
    last_status: int | None = None
    last_detail: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class RollbackResult(Model):
    """What Rollback did, and how CodeDeploy's rollback goes (watched until it ends)."""

    deployment_stopped: bool
    detail: str
    rolled_back_at: datetime
    deployment_id: str | None = None  # the deployment rolled back (or left alone)
    rollback_deployment_id: str | None = None  # the deployment CodeDeploy rolls back with
    status: str | None = None  # the rollback deployment's last status
    checks: Annotated[int, Field(ge=0)] = 0
    finished: bool = False  # blue serves again, or there was nothing to roll back
    finished_at: datetime | None = None
    # Not rolled back: CodeDeploy reported production traffic fully moved and healthy.
    release_live: bool = False


class RollbackRequest(Model):
    """An operator's rollback: who ran it, and what production ran when they did."""

    requested_by: Annotated[str, Field(min_length=1, max_length=2048)]  # the caller's ARN
    # <repository uri>@<digest>, as the task definition has it
    from_image: Annotated[str, Field(max_length=1024)] | None = None
    from_tag: Annotated[str, Field(max_length=128)] | None = None
    from_task_definition: Annotated[str, Field(max_length=1024)] | None = None


class Promotion(Model):
    """What Promote made of this environment's success (``$.promotion``): the next
    environment's execution started (or found started), a word on how to promote it by
    hand, or why nothing is promoted."""

    outcome: Literal["started", "duplicate", "manual", "last", "rollback", "not_configured"]
    to: Name | None = None  # the next environment, when there is one
    execution_name: Annotated[str, Field(max_length=80)] | None = None
    detail: Annotated[str, Field(max_length=1000)]


class StepError(BaseModel):
    """What a ``Catch`` puts at ``$.error``: Step Functions' own field names."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    error: str = Field(alias="Error")
    cause: str | None = Field(default=None, alias="Cause")


class Failure(Model):
    """Why an execution failed, as its Fail state reports it (``ErrorPath``/``CausePath``)."""

    error: Annotated[str, Field(min_length=1, max_length=256)]
    cause: Annotated[str, Field(max_length=32_768)]


class DeploymentState(BaseModel):
    """The execution document: started by the trigger, filled in by each step."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    execution_name: str
    service: ServiceConfig
    image: ImageRef
    source: Literal["ecr-push", "cli", "rollback", "promotion"] = "ecr-push"
    requested_at: datetime
    # Who pushed, when the push event said (a CloudTrail PutImage event's identity).
    pushed_by: Annotated[str, Field(max_length=300)] | None = None
    provenance: Provenance | None = None
    # An explicit retry names the execution it retries (the same service and image).
    retry_of: str | None = None
    # source "promotion": the environment where this digest succeeded before.
    promoted_from: Name | None = None
    # source "rollback": who rolled back from what (admitted whatever its image's push time).
    rollback_request: RollbackRequest | None = None
    render: RenderResult | None = None
    approval: ApprovalDecision | None = None
    turn: Turn | None = None
    scaling: ScalingSnapshot | None = None
    deployment: DeploymentProgress | None = None
    rollout: RolloutProgress | None = None  # method "rolling": ECS's deployment, not CodeDeploy's
    probe: ProbeProgress | None = None
    rollback: RollbackResult | None = None
    error: StepError | None = None  # what made the deployment fail (Catch -> $.error)
    cleanup_error: StepError | None = None  # rollback or scaling restore failed after retries
    notification_error: StepError | None = None  # the outcome could not be announced
    promotion: Promotion | None = None  # after a success: what became of the next environment
    promotion_error: StepError | None = None  # deployed, but Promote failed after its retries
    failure: Failure | None = None  # set by Notify on every path that ends in a Fail state

    @model_validator(mode="after")
    def _rollback_says_who(self) -> DeploymentState:
        # Admit lets a rollback past newest wins: only with a name on it, and only then.
        if (self.source == "rollback") != (self.rollback_request is not None):
            raise ValueError("a rollback (source 'rollback') and its rollback_request go together")
        return self

    def dump(self) -> dict[str, object]:
        """The JSON document handed back to Step Functions."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ApprovalTask(Model):
    """The payload of the ``RequestApproval`` task: the state plus the callback token."""

    state: DeploymentState
    task_token: Annotated[str, Field(min_length=1, max_length=1024)]


class TurnTask(Model):
    """The payload of the ``TakeTurn`` task: the state, the callback token, and the
    execution's own ARN (the lock's owner is found next to it)."""

    state: DeploymentState
    task_token: Annotated[str, Field(min_length=1, max_length=1024)]
    execution_arn: Annotated[str, Field(pattern=r"^arn:[^:]+:states:[^:]*:\d*:execution:[^:]+:")]

    @property
    def state_machine_arn(self) -> str:
        machine = self.execution_arn.rsplit(":", 1)[0]
        return machine.replace(":execution:", ":stateMachine:")
