"""An operator's rollback: production back to an image deployed before, by a safe path.

Usually a new execution of the deploy state machine (source ``rollback``), the same path as a
push: blue/green, the test listener's probe, scaling suspended and restored. It is admitted
whatever its image's push time and asks for no new approval unless the service requires one.
During a deployment's bake (production traffic on the new task set, the original one not yet
terminated) CodeDeploy's stop with rollback instead: production goes back at once.

The commands in :mod:`bluegreen_cli.commands.rollback` print; this module decides and acts.
AWS clients come in as arguments, and the layer's adapters are used wherever they fit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from bluegreen.adapters.aws import error_code
from bluegreen.adapters.codedeploy import CodeDeployDeployments
from bluegreen.adapters.ecr import EcrImages
from bluegreen.adapters.ecs import EcsTaskDefinitions
from bluegreen.adapters.stepfunctions import Executions
from bluegreen.adapters.store import StateTable
from bluegreen.domain import deployment as rules
from bluegreen.domain.digest import short_digest
from bluegreen.domain.image import RegistryImage, check_tag, confirmed, rollback_name
from bluegreen.domain.queue import ServiceQueue
from bluegreen.domain.taskdef import container_image
from bluegreen.errors import ImageRefused
from bluegreen.models import ImageRef, RollbackRequest, ServiceConfig
from bluegreen.push import TriggerResult
from bluegreen.steps import trigger
from botocore.exceptions import ClientError

from bluegreen_cli.account import Deployments, OpsError, execution_arn

Path = Literal["execution", "stop-with-rollback"]
# Render tags each revision it registers with the image's tag (see bluegreen.steps.render).
IMAGE_TAG_KEY = "bluegreen:image-tag"
# <registry>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<hex>
_PINNED = re.compile(
    r"^(?P<registry>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[^@]+)@(?P<digest>sha256:[0-9a-f]{64})$"
)
# Statuses of a deployment that can still be stopped with rollback while it bakes.
_BAKE_STATUSES = frozenset({"InProgress", "Ready", "Baking"})
HISTORY_DEPTH = 200  # history rows read to find the image before


def digest_of(image: str | None) -> str | None:
    """The digest an image reference pins (``...@sha256:...``), if it pins one."""
    if not image or "@" not in image:
        return None
    digest = image.rsplit("@", 1)[1]
    return digest if re.fullmatch(r"sha256:[0-9a-f]{64}", digest) else None


@dataclass(frozen=True)
class ImageView:
    """An image as people tell it apart: its tag and digest, and what deployed it."""

    image: str | None  # as a task definition has it: <repository uri>@<digest>
    tag: str | None
    task_definition: str | None = None
    execution_name: str | None = None  # the deployment that put it in production
    deployed_at: str | None = None

    @property
    def digest(self) -> str | None:
        return digest_of(self.image)

    @property
    def label(self) -> str:
        digest = self.digest
        if digest is None:
            return self.image or "an unknown image"
        return f"{self.tag or 'untagged'} ({short_digest(digest)})"

    def to_json(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "tag": self.tag,
            "digest": self.digest,
            "task_definition": self.task_definition,
            "execution_name": self.execution_name,
            "deployed_at": self.deployed_at,
        }


# -- what production runs, and what ran before --------------------------------------------


def task_definition_view(definition: dict[str, Any], container: str) -> ImageView:
    """The image a task definition runs in ``container``, with the tag Render noted on it."""
    tags = {t.get("key"): t.get("value") for t in definition.get("tags", [])}
    return ImageView(
        image=container_image(definition, container),
        tag=tags.get(IMAGE_TAG_KEY),
        task_definition=str(definition.get("taskDefinitionArn") or "") or None,
    )


def production(ecs: Any, service: ServiceConfig) -> ImageView:
    """What production runs now, as ECS says: the service's (primary task set's) revision."""
    current = EcsTaskDefinitions(ecs).current(service.cluster, service.service)
    return task_definition_view(current, service.container)


def described_task_definition(ecs: Any, arn: str, container: str) -> ImageView:
    found = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
    return task_definition_view(
        {**found["taskDefinition"], "tags": found.get("tags", [])}, container
    )


def previous_deployment(rows: list[dict[str, Any]], running: ImageView) -> ImageView | None:
    """The image deployed successfully before the one production runs, newest first.

    Skipped: the image production runs, and every image that a later rollback moved
    production away from (rolling back twice must not bring back the image rolled back from).
    """
    rolled_away: set[str] = set()
    for row in rows:
        digest = digest_of(row.get("image"))
        succeeded = row.get("outcome") == "succeeded"
        if succeeded and digest and digest != running.digest and digest not in rolled_away:
            return ImageView(
                image=row.get("image"),
                tag=row.get("tag"),
                task_definition=row.get("task_definition"),
                execution_name=row.get("execution_name") or row.get("stopped_execution"),
                deployed_at=row.get("finished_at"),
            )
        left = row.get("from") if row.get("source") == "rollback" and succeeded else None
        if isinstance(left, dict) and (away := digest_of(left.get("image"))):
            rolled_away.add(away)
    return None


# -- the image to go back to, confirmed in ECR --------------------------------------------


def confirmed_image(ecr: Any, service: ServiceConfig, view: ImageView) -> ImageRef:
    """``view`` (an image deployed before) as ECR holds it now: by digest, with its tag."""
    match = _PINNED.fullmatch(view.image or "")
    if match is None or not view.tag:
        raise OpsError(f"cannot roll back to {view.label}: its image reference is not pinned", 1)
    if match["repository"] != service.repository:
        raise ImageRefused(
            f"{view.label} is of repository {match['repository']!r}, not "
            f"{service.name}'s {service.repository!r}"
        )
    wanted = ImageRef(
        registry_id=match["registry"],
        region=match["region"],
        repository=service.repository,
        tag=view.tag,
        digest=match["digest"],
    )
    found = EcrImages(ecr).by_digest(wanted.registry_id, wanted.repository, wanted.digest)
    return confirmed(wanted, found)


def named_image(
    ecr: Any, service: ServiceConfig, wanted: str, rows: list[dict[str, Any]], region: str
) -> ImageRef:
    """The image ``--to`` names (a tag, or a digest ``sha256:...``), as ECR holds it.

    A digest deploys under the tag it was deployed with before, else under a tag of its own
    in ECR that the service may deploy.
    """
    by_digest = wanted.startswith("sha256:")
    if not by_digest:
        check_tag(service, wanted)  # mutable tags are refused, as for a push
    image_id = {"imageDigest": wanted} if by_digest else {"imageTag": wanted}
    try:
        found = ecr.describe_images(repositoryName=service.repository, imageIds=[image_id])
    except ClientError as e:
        if error_code(e) in ("ImageNotFoundException", "RepositoryNotFoundException"):
            raise OpsError(f"no image {service.repository}:{wanted} in ECR", 2) from e
        if error_code(e) == "InvalidParameterException":
            raise OpsError(f"not a tag or an image digest: {wanted!r}", 2) from e
        raise
    details = found.get("imageDetails") or []
    if not details:
        raise OpsError(f"no image {service.repository}:{wanted} in ECR", 2)
    detail = details[0]
    image = RegistryImage(
        digest=str(detail["imageDigest"]),
        tags=frozenset(detail.get("imageTags", [])),
        pushed_at=detail.get("imagePushedAt"),
    )
    tag = _deployable_tag(service, image, rows) if by_digest else wanted
    ref = ImageRef(
        registry_id=str(detail["registryId"]),
        region=region,
        repository=service.repository,
        tag=tag,
        digest=image.digest,
    )
    return confirmed(ref, image)


def _deployable_tag(
    service: ServiceConfig, image: RegistryImage, rows: list[dict[str, Any]]
) -> str:
    for row in rows:
        if digest_of(row.get("image")) == image.digest and row.get("tag") in image.tags:
            return str(row["tag"])
    for tag in sorted(image.tags):
        try:
            check_tag(service, tag)
        except ImageRefused:
            continue
        return tag
    carried = ", ".join(sorted(image.tags)) or "none"
    raise ImageRefused(
        f"image {image.digest} carries no tag {service.name} may deploy (its tags: {carried})"
    )


# -- a deployment's bake --------------------------------------------------------------------


@dataclass(frozen=True)
class Bake:
    """A deployment whose production traffic has moved, its original task set not yet gone."""

    deployment_id: str
    status: str
    execution_name: str | None  # the execution that created it (its description), if ours


def baking(codedeploy: Any, service: ServiceConfig) -> Bake | None:
    """The service's deployment in its bake, if one is: CodeDeploy reports production traffic
    on the new task set (the termination wait started) and the deployment not ended. A
    rolling environment has no CodeDeploy deployment, so no bake."""
    if service.method != "codedeploy-bluegreen":
        return None
    deployments = CodeDeployDeployments(codedeploy)
    for deployment_id in deployments.active(service.bluegreen.application, service.bluegreen.group):
        info = deployments.get(deployment_id)
        if info.get("creator") == rules.ROLLBACK_CREATOR:
            continue
        status = str(info.get("status"))
        if status in _BAKE_STATUSES and rules.live(info):
            described = str(info.get("description") or "")
            ours = (
                described.removeprefix("bluegreen ") if described.startswith("bluegreen ") else None
            )
            return Bake(deployment_id, status, ours)
    return None


def bake_images(
    bake: Bake, sfn: Any, state_machine_arn: str, ecs: Any, service: ServiceConfig
) -> tuple[ImageView, ImageView] | None:
    """(the image baking, the image its rollback restores), from the execution's document:
    the revision it rendered and the one it replaced. None when the deployment is not ours."""
    if bake.execution_name is None:
        return None
    try:
        document = Deployments(sfn, state_machine_arn).detail(bake.execution_name).document
    except OpsError:
        return None
    render = (document or {}).get("render") or {}
    if not render.get("task_definition") or not render.get("previous_task_definition"):
        return None
    baking_now = described_task_definition(ecs, render["task_definition"], service.container)
    before = described_task_definition(ecs, render["previous_task_definition"], service.container)
    return (
        ImageView(
            baking_now.image, baking_now.tag, baking_now.task_definition, bake.execution_name
        ),
        before,
    )


@dataclass
class Stopped:
    """How CodeDeploy's stop with rollback went, as far as it was watched."""

    said: str  # StopDeployment's answer
    rollback_deployment_id: str | None = None
    status: str | None = None  # the rollback deployment's last status
    finished: bool = False  # production is back on the original task set
    problem: str | None = None
    checks: int = 0


def stop_bake(
    codedeploy: Any,
    bake: Bake,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Stopped:
    """Stop the baking deployment with rollback, then watch CodeDeploy's rollback until it
    ends (at most ``timeout`` seconds)."""
    deployments = CodeDeployDeployments(codedeploy)
    stopped = Stopped(said=deployments.stop_and_roll_back(bake.deployment_id))
    deadline = clock() + timeout
    while True:
        stopped.checks += 1
        original = deployments.get(bake.deployment_id)
        rollback_id = stopped.rollback_deployment_id or rules.rollback_id_of(original)
        if rollback_id:
            stopped.rollback_deployment_id = rollback_id
            stopped.status = str(deployments.get(rollback_id).get("status"))
            if stopped.status == "Succeeded":
                stopped.finished = True
                return stopped
            if stopped.status in rules.FAILED:
                stopped.problem = f"CodeDeploy's rollback {rollback_id} ended {stopped.status}"
                return stopped
        elif str(original.get("status")) == "Succeeded":
            stopped.status = "Succeeded"
            stopped.problem = f"deployment {bake.deployment_id} Succeeded before it stopped"
            return stopped
        if clock() >= deadline:
            waiting = (
                f"rollback {rollback_id}" if rollback_id else f"deployment {bake.deployment_id}"
            )
            stopped.problem = (
                f"{waiting} still {stopped.status or original.get('status')} after {timeout:.0f} s"
            )
            return stopped
        sleep(1.0)


def bake_history_row(
    service: ServiceConfig,
    bake: Bake,
    stopped: Stopped,
    by: str,
    left: ImageView,
    back: ImageView,
    requested_at: datetime,
    now: datetime,
) -> dict[str, Any]:
    """The service's history row of a stop with rollback: shaped as Notify's, with the path."""
    return {
        "execution_name": None,
        "service": service.name,
        "environment": service.environment,
        "outcome": "succeeded" if stopped.finished else "needs_attention",
        "source": "rollback",
        "path": "stop-with-rollback",
        "requested_by": by,
        "from": {"image": left.image, "tag": left.tag, "task_definition": left.task_definition},
        "image": back.image,
        "tag": back.tag,
        "task_definition": back.task_definition,
        "previous_task_definition": left.task_definition,
        "approved_by": None,
        "error": None if stopped.finished else "RollbackUnconfirmed",
        "stopped_execution": bake.execution_name,
        "deployment_id": bake.deployment_id,
        "rollback_deployment_id": stopped.rollback_deployment_id,
        "requested_at": requested_at.isoformat(),
        "finished_at": now.isoformat(),
    }


def record_bake_rollback(
    table: StateTable, service: ServiceConfig, row: dict[str, Any], now: datetime
) -> None:
    table.record_outcome(service.lock_key, f"stop-{row['deployment_id']}", now, row)


# -- a rollback execution -------------------------------------------------------------------


def caller(sts: Any) -> str:
    """Who runs the command: the ARN STS names the caller's credentials with."""
    return str(sts.get_caller_identity()["Arn"])


def next_rollback_attempt(
    sfn: Any, state_machine_arn: str, service: ServiceConfig, image: ImageRef
) -> int:
    """The first free ``-rollback<N>`` of ``image``; refused while one of them runs."""
    attempt = 1
    while True:
        name = rollback_name(service, image, attempt)
        try:
            status = str(
                sfn.describe_execution(executionArn=execution_arn(state_machine_arn, name))[
                    "status"
                ]
            )
        except ClientError as e:
            if error_code(e) == "ExecutionDoesNotExist":
                return attempt
            raise
        if status == "RUNNING":
            raise OpsError(
                f"a rollback to {image.tag} runs already: {name} (see it: bluegreen show {name})"
            )
        attempt += 1


def start_rollback(
    service: ServiceConfig,
    image: ImageRef,
    request: RollbackRequest,
    sfn: Any,
    state_machine_arn: str,
    now: datetime,
) -> TriggerResult:
    """Start the rollback's execution through the trigger's own start (source ``rollback``)."""
    attempt = next_rollback_attempt(sfn, state_machine_arn, service, image)
    executions = Executions(sfn, state_machine_arn)
    return trigger.start(
        service, image, "rollback", executions, now, attempt=attempt, rollback=request
    )


def queue_notes(queue: ServiceQueue, target: ImageView) -> list[str]:
    """What the rollback's admission will do to the service's queue, in words."""
    notes = []
    if queue.owner is not None:
        deploying = queue.deploying.label if queue.deploying else queue.owner
        notes.append(f"it waits for {deploying} ({queue.owner}), deploying now, to finish")
    if queue.waiting is not None and queue.waiting.digest != target.digest:
        notes.append(f"it supersedes {queue.waiting.label} ({queue.waiting.execution}), waiting")
    return notes
