"""What a deployment's records say, read one way for `show`, `history` and `--follow`.

Each fact has one source, so two commands never disagree: the test listener's checks come
from the execution document (and the check that ended it), the approver's decision from the
approval task's answer, CodeDeploy's status from CodeDeploy (the document's copy is only what
the last poll saw), and the share of production traffic from CodeDeploy's deployment target.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from bluegreen.domain.digest import short_digest
from botocore.exceptions import BotoCoreError, ClientError

_BATCH = 25  # BatchGetDeployments takes at most 25 ids


# -- the execution's history, event by event ------------------------------------------------


def _by_state(history: Iterable[dict[str, Any]]) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """Each event with the state it belongs to (the deploy flow has no Parallel or Map)."""
    state: str | None = None
    for event in sorted(history, key=lambda e: int(e.get("id", 0))):
        if "stateEnteredEventDetails" in event:
            state = str(event["stateEnteredEventDetails"]["name"])
        yield state, event


def submitted(history: Iterable[dict[str, Any]], state: str) -> dict[str, Any] | None:
    """What ``state``'s function answered before waiting for its callback (TaskSubmitted),
    the last time it ran: RequestApproval says whom it asked, TakeTurn whom it waits behind."""
    found: dict[str, Any] | None = None
    for name, event in _by_state(history):
        details = event.get("taskSubmittedEventDetails")
        if name == state and details:
            payload = _json(details.get("output")).get("Payload")
            found = payload if isinstance(payload, dict) else None
    return found


def entered_at(history: Iterable[dict[str, Any]], state: str) -> datetime | None:
    """When ``state`` was last entered."""
    found: datetime | None = None
    for name, event in _by_state(history):
        if name == state and "stateEnteredEventDetails" in event:
            found = event["timestamp"]
    return found


def _json(text: Any) -> dict[str, Any]:
    if not isinstance(text, str):
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def readable_cause(cause: str | None) -> str | None:
    """A Lambda error's cause is a JSON document with a stack trace; people want its message."""
    if not cause:
        return cause
    message = _json(cause).get("errorMessage")
    return str(message) if message else cause


# -- the execution document -----------------------------------------------------------------


def deployment_document(text: Any) -> dict[str, Any] | None:
    """A deployment document (the execution's JSON), or None for anything else."""
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) and "execution_name" in value else None


def latest_document(
    described: dict[str, Any], history: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The execution document as far as it got: the output, else the last state's."""
    candidates = [described.get("output")]
    for event in reversed(history):
        exited = event.get("stateExitedEventDetails") or {}
        entered = event.get("stateEnteredEventDetails") or {}
        candidates += [exited.get("output"), entered.get("input")]
    for text in candidates:
        document = deployment_document(text)
        if document is not None:
            return document
    return deployment_document(described.get("input"))


# -- who decided -----------------------------------------------------------------------------

_REJECTED = re.compile(r"rejected by (?P<by>\S+?)(?::\s+(?P<reason>.+))?", re.DOTALL)


@dataclass(frozen=True)
class Decision:
    """How the approval ended: approved or rejected by whom (and why, when they said),
    timed out, or superseded by a newer image before anyone decided."""

    decision: str  # approved, rejected, timed_out, superseded
    by: str | None = None
    at: datetime | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["at"] = self.at.isoformat() if self.at else None
        return document

    def words(self) -> str:
        said = {
            "approved": f"approved by {self.by}",
            "rejected": f"rejected by {self.by}",
            "timed_out": "nobody decided before the approval timed out",
            "superseded": "superseded before anyone decided",
        }.get(self.decision, self.decision)
        if self.reason and self.decision != "approved":
            said += f": {self.reason}"
        return said


def rejection(error: str | None, cause: str | None) -> Decision | None:
    """A rejection as the approval's callback fails the task: ``rejected by <who>[: why]``."""
    if error != "ApprovalRejected" or not cause:
        return None
    found = _REJECTED.fullmatch(cause.strip())
    if found is None:
        return Decision("rejected", reason=cause)
    return Decision("rejected", found["by"], reason=found["reason"])


def decision_of(document: dict[str, Any] | None, history: list[dict[str, Any]]) -> Decision | None:
    """The approval's outcome, from the approval task's own answer."""
    approval = (document or {}).get("approval")
    if isinstance(approval, dict) and approval.get("approver"):
        at = approval.get("decided_at")
        return Decision(
            "approved", str(approval["approver"]), datetime.fromisoformat(at) if at else None
        )
    for state, event in _by_state(history):
        failed = event.get("taskFailedEventDetails") or event.get("taskTimedOutEventDetails")
        if state != "RequestApproval" or not failed:
            continue
        error, cause = failed.get("error"), failed.get("cause")
        if event["type"] == "TaskTimedOut" or error == "States.Timeout":
            return Decision("timed_out", at=event["timestamp"])
        if error == "Superseded":
            return Decision("superseded", at=event["timestamp"], reason=readable_cause(cause))
        rejected = rejection(error, cause)
        if rejected is not None:
            return Decision(rejected.decision, rejected.by, event["timestamp"], rejected.reason)
    return None


# -- the test listener's checks --------------------------------------------------------------

_LAST_CHECK = re.compile(r"last: (?P<last>.+); needed \d+ passes in a row")


@dataclass(frozen=True)
class ProbeCount:
    """The checks made through the test listener, counted once: the document's, plus the
    check that ended them when it failed the deployment (it never reached the document)."""

    checks: int
    passes_in_a_row: int
    required: int
    max_checks: int
    healthy: bool
    ended_unhealthy: bool
    last: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def words(self) -> str:
        if self.healthy:
            verdict = f"healthy: {self.passes_in_a_row}/{self.required} passed in a row"
        elif self.ended_unhealthy:
            verdict = f"not healthy: {self.required} passes in a row needed"
        else:
            verdict = f"{self.passes_in_a_row}/{self.required} passed in a row"
        checks = f"{self.checks} check{'s' if self.checks != 1 else ''}"
        return f"{verdict} ({checks}, at most {self.max_checks})" + (
            f"; last: {self.last}" if self.last else ""
        )


def probe_count(document: dict[str, Any] | None) -> ProbeCount | None:
    if not document:
        return None
    probe = document.get("probe") or {}
    error = document.get("error") or {}
    ended = error.get("Error") == "TestTrafficUnhealthy"
    if not probe and not ended:
        return None
    timings = (document.get("service") or {}).get("timings") or {}
    last = probe.get("last_detail")
    if ended:
        message = readable_cause(error.get("Cause")) or ""
        found = _LAST_CHECK.search(message)
        last = found["last"] if found else message or last
    return ProbeCount(
        checks=int(probe.get("attempts", 0)) + (1 if ended else 0),
        passes_in_a_row=0 if ended else int(probe.get("consecutive_passes", 0)),
        required=int(timings.get("probe_required_passes", 3)),
        max_checks=int(timings.get("probe_max_attempts", 30)),
        healthy=bool(probe.get("healthy")),
        ended_unhealthy=ended,
        last=last,
    )


# -- CodeDeploy ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeDeployStatus:
    """A deployment as CodeDeploy reports it, with the rollback that undid it if any.

    ``source`` says where it was read: ``codedeploy`` (asked now) or ``document`` (the
    execution's last look, when CodeDeploy could not be asked).
    """

    deployment_id: str
    status: str | None
    source: str
    rollback_deployment_id: str | None = None
    rollback_status: str | None = None
    config: str | None = None
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def words(self) -> str:
        said = f"{self.deployment_id} {self.status or 'unknown'}"
        if self.rollback_deployment_id:
            said += (
                f", rolled back by {self.rollback_deployment_id} "
                f"({self.rollback_status or 'unknown'})"
            )
        elif self.status == "Stopped":
            said += ", stopped without rollback"
        if self.source == "document":
            said += " (as the execution last saw it)"
        return said


def deployment_ids(document: dict[str, Any] | None) -> list[str]:
    """The CodeDeploy deployments an execution made or rolled back with."""
    document = document or {}
    ids = [
        (document.get("deployment") or {}).get("deployment_id"),
        (document.get("rollback") or {}).get("deployment_id"),
        (document.get("rollback") or {}).get("rollback_deployment_id"),
    ]
    return list(dict.fromkeys(str(i) for i in ids if i))


def described_deployments(codedeploy: Any, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """CodeDeploy's ``deploymentInfo`` of each id it still knows; {} when it cannot be asked
    (no right to, or an endpoint without CodeDeploy): the callers fall back to the document."""
    wanted = list(dict.fromkeys(ids))
    found: dict[str, dict[str, Any]] = {}
    try:
        for start in range(0, len(wanted), _BATCH):
            batch = codedeploy.batch_get_deployments(deploymentIds=wanted[start : start + _BATCH])
            for info in batch.get("deploymentsInfo", []):
                found[str(info["deploymentId"])] = dict(info)
    except (BotoCoreError, ClientError):
        return found
    return found


def codedeploy_status(
    document: dict[str, Any] | None, described: dict[str, dict[str, Any]]
) -> CodeDeployStatus | None:
    """The final word on the execution's deployment: CodeDeploy's, else the document's."""
    document = document or {}
    deployment = document.get("deployment") or {}
    rollback = document.get("rollback") or {}
    deployment_id = deployment.get("deployment_id") or rollback.get("deployment_id")
    if not deployment_id:
        return None
    info = described.get(str(deployment_id))
    if info is None:
        stopped = rollback.get("deployment_stopped")
        return CodeDeployStatus(
            str(deployment_id),
            "Stopped" if stopped else deployment.get("status"),
            "document",
            rollback_deployment_id=rollback.get("rollback_deployment_id"),
            rollback_status=(
                rollback.get("status") if rollback.get("rollback_deployment_id") else None
            ),
        )
    rollback_info = info.get("rollbackInfo") or {}
    rollback_id = rollback_info.get("rollbackDeploymentId")
    rolled_back = described.get(str(rollback_id)) if rollback_id else None
    error = (info.get("errorInformation") or {}).get("message")
    return CodeDeployStatus(
        str(deployment_id),
        info.get("status"),
        "codedeploy",
        rollback_deployment_id=str(rollback_id) if rollback_id else None,
        rollback_status=(
            (rolled_back or {}).get("status") or rollback.get("status") if rollback_id else None
        ),
        config=info.get("deploymentConfigName"),
        message=rollback_info.get("rollbackMessage") or error,
    )


def codedeploy_now(codedeploy: Any, document: dict[str, Any] | None) -> CodeDeployStatus | None:
    """Ask CodeDeploy about the execution's deployment and its rollback."""
    first = described_deployments(codedeploy, deployment_ids(document))
    rollback_ids = [
        str(i["rollbackInfo"]["rollbackDeploymentId"])
        for i in first.values()
        if (i.get("rollbackInfo") or {}).get("rollbackDeploymentId")
    ]
    missing = [i for i in rollback_ids if i not in first]
    if missing:
        first.update(described_deployments(codedeploy, missing))
    return codedeploy_status(document, first)


def traffic_on_new(codedeploy: Any, deployment_id: str) -> float | None:
    """The share (0-100) of production traffic on the replacement (green) task set, as
    CodeDeploy's ECS deployment target reports it; None when it cannot tell."""
    try:
        targets = codedeploy.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
        if not targets:
            return None
        target = codedeploy.get_deployment_target(deploymentId=deployment_id, targetId=targets[0])
    except (BotoCoreError, ClientError):
        return None  # progress goes on without it: no right to ask, or a throttled moment
    sets = (target.get("deploymentTarget") or {}).get("ecsTarget", {}).get("taskSetsInfo", [])
    green = [s for s in sets if s.get("taskSetLabel") == "Green"]
    if not green:
        return None
    return float(green[0].get("trafficWeight", 0.0))


# -- ECS's rolling deployment (method "rolling") ---------------------------------------------


def rollout_tasks(rollout: dict[str, Any]) -> str:
    """``1 of 2 tasks running``, with the tasks that failed to start when some did."""
    running, desired = int(rollout.get("running_count", 0)), int(rollout.get("desired_count", 0))
    failed = int(rollout.get("failed_tasks", 0))
    said = f"{running} of {desired} tasks running"
    return said + (f", {failed} failed to start" if failed else "")


def rollout_words(rollout: dict[str, Any]) -> str:
    """ECS's deployment as the execution last saw it, and the rollback that undid it."""
    deployment = rollout.get("deployment_id")
    if not deployment:
        said = "no ECS deployment started"
    else:
        said = f"ECS deployment {deployment} {rollout.get('rollout_state', '?')}: "
        said += rollout_tasks(rollout)
    rollback = rollout.get("rollback") or {}
    if rollback.get("detail"):
        state = "done" if rollback.get("finished") else rollback.get("rollout_state") or "under way"
        said += f"; {rollback['detail']} ({state})"
    return said


# -- what production runs --------------------------------------------------------------------


def running_task_definition(ecs: Any, cluster: str, service: str) -> str | None:
    """The task definition serving production: the PRIMARY task set's, else the service's."""
    found = ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
    if not found:
        return None
    primary = [t for t in found[0].get("taskSets", []) if t.get("status") == "PRIMARY"]
    chosen = primary[0] if primary else found[0]
    definition = chosen.get("taskDefinition")
    return str(definition) if definition else None


@dataclass(frozen=True)
class Running:
    """The image production serves: the container's image in the task definition ECS runs,
    and the tags ECR holds for its digest."""

    task_definition: str
    image: str  # as the task definition names it: <repository uri>@<digest>
    repository: str
    digest: str | None
    tags: tuple[str, ...]

    def words(self, prefer_tag: str | None = None) -> str:
        """``demo-web:3f2a9c1 (0123456789ab)``: the tag people know and the short digest."""
        tag = prefer_tag if prefer_tag in self.tags else (self.tags[0] if self.tags else None)
        named = f"{self.repository}:{tag}" if tag else f"{self.repository} (untagged)"
        return f"{named} ({short_digest(self.digest)})" if self.digest else named

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "tags": list(self.tags)}


def production_runs(
    ecs: Any, ecr: Any, cluster: str, service: str, container: str
) -> Running | None:
    """What production runs now, asked of ECS and ECR; None when they cannot tell."""
    try:
        definition = running_task_definition(ecs, cluster, service)
        if definition is None:
            return None
        described = ecs.describe_task_definition(taskDefinition=definition)["taskDefinition"]
    except (BotoCoreError, ClientError):
        return None
    images = [
        str(c.get("image"))
        for c in described.get("containerDefinitions", [])
        if c.get("name") == container and c.get("image")
    ]
    if not images:
        return None
    image = images[0]
    name, at, digest = image.partition("@")
    repository = name.split("/", 1)[-1].split(":", 1)[0]
    tags: tuple[str, ...] = ()
    if at:
        try:
            found = ecr.describe_images(
                repositoryName=repository, imageIds=[{"imageDigest": digest}]
            )["imageDetails"]
            tags = tuple(sorted(t for d in found for t in d.get("imageTags", [])))
        except (BotoCoreError, ClientError):
            tags = ()
    elif ":" in name.split("/", 1)[-1]:
        tags = (name.rsplit(":", 1)[-1],)
    return Running(definition, image, repository, digest or None, tags)
