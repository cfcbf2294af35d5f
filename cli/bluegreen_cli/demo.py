"""One push through the sample's pipeline on the local stack, end to end, as a user sees it.

Push an image to the sample repository and follow the executions it leads to, environment
by environment as the service configuration lists them: development first (a rolling update
in its own account, nobody asked), then the environment its success promoted the same digest
to, production, approved through the real approval page (the link from the outbox). Then sum
up what each environment runs.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from bluegreen.adapters.parameters import Parameters
from bluegreen.adapters.sessions import assumed_session
from bluegreen.config import ServiceCatalog
from bluegreen.domain.image import execution_name
from bluegreen.models import ImageRef, ServiceConfig

from bluegreen_cli import approval_page
from bluegreen_cli.follow import (
    Phase,
    ProgressView,
    ending,
    follow_execution,
    phases,
    wait_for_execution,
)
from bluegreen_cli.reading import production_runs

Scenario = Literal["approve", "reject", "unhealthy"]
# How production's execution ends in each scenario; every environment before it deploys.
EXPECTED_END: dict[Scenario, tuple[str, str]] = {
    "approve": ("SUCCEEDED", "Deployed"),
    "reject": ("FAILED", "NotDeployed"),
    "unhealthy": ("FAILED", "RolledBack"),
}
SAMPLE = {
    "name": "demo-web",
    "repository": "demo-web",
    "approver": "approver@example.com",
    "services_parameter": "/bluegreen/services",
}
NOT_REACHED = "NOT_STARTED"  # the status of an environment the image never reached


@dataclass
class EnvironmentResult:
    """How one environment of the pipeline took the image, and what it runs afterwards."""

    environment: str
    account: str
    service: str  # cluster/service
    method: str
    approvers: list[str]
    execution_arn: str | None
    status: str  # the execution's, or NOT_STARTED when the image never reached it
    last_state: str
    ending: str  # how it ended, in words
    previous_task_definition: str
    task_definition: str
    runs: str | None  # what it runs now: repository:tag (short digest)
    seconds: float = 0.0
    error: str | None = None
    cause: str | None = None
    phases: list[Phase] = field(default_factory=list)

    @property
    def how(self) -> str:
        method = "blue/green" if self.method == "codedeploy-bluegreen" else self.method
        asks = f"asks {', '.join(self.approvers)}" if self.approvers else "nobody asked"
        return f"{method}, {asks}"


@dataclass
class DemoResult:
    """The demo's outcome. The top-level fields are production's (the pipeline's last
    environment); ``environments`` has each one, in pipeline order."""

    scenario: Scenario
    status: str
    last_state: str
    execution_arn: str
    service: str
    image: str
    image_digest: str
    previous_task_definition: str
    task_definition: str
    production_serves: str | None
    scaling_suspended: dict[str, bool]
    error: str | None = None
    cause: str | None = None
    phases: list[Phase] = field(default_factory=list)
    total_seconds: float = 0.0
    ending: str = ""  # how production's execution ended, in words
    production: str | None = None  # what production runs now: repository:tag (short digest)
    environments: list[EnvironmentResult] = field(default_factory=list)

    @property
    def as_expected(self) -> bool:
        if not self.environments:
            return False
        *before, last = self.environments
        ended = (last.status, last.last_state)
        return all(e.status == "SUCCEEDED" for e in before) and ended == EXPECTED_END[self.scenario]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "as_expected": self.as_expected}


def push_image(ecr: Any, repository: str, tag: str) -> str:
    """Push a (tiny, valid) image manifest; ECR answers with its digest."""
    return str(_put_image(ecr, repository, tag)["imageId"]["imageDigest"])


def _put_image(ecr: Any, repository: str, tag: str) -> dict[str, Any]:
    layer = hashlib.sha256(tag.encode()).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1024,
            "digest": f"sha256:{hashlib.sha256(b'config' + tag.encode()).hexdigest()}",
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 4096,
                "digest": f"sha256:{layer}",
            }
        ],
    }
    pushed = ecr.put_image(
        repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag
    )
    return dict(pushed["image"])


def outbox_links(endpoint: str, recipient: str, about: str | None = None) -> list[str]:
    """Approval links emailed to ``recipient`` (only in emails whose subject names
    ``about``, when given)."""
    with urllib.request.urlopen(f"{endpoint}/_local/outbox", timeout=10) as response:  # noqa: S310
        messages = json.load(response)
    return [
        link
        for m in messages
        if m.get("channel") == "email"
        and recipient in json.dumps(m.get("to"))
        and (about is None or about in str(m.get("subject", "")))
        for link in m.get("links", [])
        if "/approvals/" in link
    ]


def set_sample_health(endpoint: str, healthy: bool) -> None:
    request = urllib.request.Request(  # noqa: S310 - the local stack's own URL
        f"{endpoint}/_local/sample",
        data=json.dumps({"healthy": healthy}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass


def production_image(endpoint: str) -> str | None:
    """What the sample's production listener serves, asked over HTTP like a client would."""
    try:
        with urllib.request.urlopen(f"{endpoint}/_local/sample", timeout=5) as response:  # noqa: S310
            url = str(json.load(response)["production_url"])
        with urllib.request.urlopen(f"{url}/", timeout=5) as response:  # noqa: S310
            return str(json.load(response).get("image"))
    except (OSError, ValueError, KeyError):
        return None


def sample_pipeline(clients: Callable[[str], Any]) -> list[ServiceConfig]:
    """The sample service's environments, as the installation's configuration lists them."""
    name = SAMPLE["services_parameter"]
    text = Parameters(clients("ssm")).text(name)
    return ServiceCatalog.parse(text, f"SSM parameter {name}").pipeline(SAMPLE["name"])


def environment_clients(
    endpoint: str, clients: Callable[[str], Any], environment: ServiceConfig
) -> Callable[[str], Any]:
    """Clients where ``environment`` runs: another account through the role it names, as
    an operator of the app reaches it."""
    if environment.role_arn is None:
        return clients
    sts = clients("sts")
    session: Any = assumed_session(
        sts,
        environment.role_arn,
        "bluegreen-local-demo",
        environment.external_id,
        environment.region or sts.meta.region_name,
    )
    made: dict[str, Any] = {}

    def client(name: str) -> Any:
        if name not in made:
            made[name] = session.client(name, endpoint_url=endpoint)
        return made[name]

    return client


def _task_definition(ecs: Any, environment: ServiceConfig) -> str:
    found = ecs.describe_services(cluster=environment.cluster, services=[environment.service])
    return str(found["services"][0]["taskDefinition"])


def run(
    endpoint: str,
    clients: Any,
    scenario: Scenario,
    report: Any = None,
    timeout: float = 300.0,
    views: Callable[[], ProgressView] | None = None,
) -> DemoResult:
    """Push one image on a running local stack with the sample and follow it through the
    pipeline; ``clients(name)`` gives the app account's clients.

    ``report(kind, text)`` hears of the push, each execution, each state, the approval and
    each environment's outcome; ``views()`` gives a fresh view for each execution's progress.
    """
    say = report or (lambda *_: None)
    deadline = time.monotonic() + timeout
    ecr, sfn, aas = (clients(n) for n in ("ecr", "stepfunctions", "application-autoscaling"))
    started = time.monotonic()
    pipeline = sample_pipeline(clients)
    where = {e.environment: environment_clients(endpoint, clients, e) for e in pipeline}
    before = {e.environment: _task_definition(where[e.environment]("ecs"), e) for e in pipeline}
    set_sample_health(endpoint, scenario != "unhealthy")

    tag = secrets.token_hex(20)  # stands in for a commit SHA
    pushed = _put_image(ecr, SAMPLE["repository"], tag)
    digest = str(pushed["imageId"]["imageDigest"])
    image = ImageRef(
        registry_id=str(pushed["registryId"]),
        region=ecr.meta.region_name,
        repository=SAMPLE["repository"],
        tag=tag,
        digest=digest,
    )
    say("push", f"pushed {SAMPLE['repository']}:{tag[:12]}… ({digest[:19]}…)")

    machine = next(
        m["stateMachineArn"]
        for m in sfn.list_state_machines()["stateMachines"]
        if "deploy" in m["name"]
    )
    results: list[EnvironmentResult] = []
    reached = True
    for environment in pipeline:
        env = environment.environment
        account = environment.account or image.registry_id
        ecs = where[env]("ecs")
        if not reached:
            stopped = results[-1].environment
            results.append(_not_reached(environment, account, before[env], ecs, ecr, stopped))
            continue
        # A push starts the first environment; each success starts the next (Promote).
        name = execution_name(environment, image)
        arn = wait_for_execution(sfn, machine, name, timeout=min(30.0, _left(deadline)))
        kind = "blue/green" if environment.method == "codedeploy-bluegreen" else "rolling update"
        asks = (
            f"asks {', '.join(environment.approvers)}"
            if environment.needs_approval
            else "nobody asked"
        )
        say(
            "execution",
            f"{env}: {name} ({kind} of {environment.cluster}/{environment.service} in account "
            f"{account}, {asks})",
        )
        result = _follow(
            endpoint, clients, where[env], arn, environment, scenario, tag, say,
            _left(deadline), views,
        )  # fmt: skip
        running = production_runs(
            ecs, ecr, environment.cluster, environment.service, environment.container
        )
        results.append(
            EnvironmentResult(
                environment=env,
                account=account,
                service=f"{environment.cluster}/{environment.service}",
                method=environment.method,
                approvers=list(environment.approvers),
                execution_arn=arn,
                previous_task_definition=before[env],
                task_definition=_task_definition(ecs, environment),
                runs=running.words(tag) if running else None,
                **result,
            )
        )
        say("outcome", f"{env}: {results[-1].ending}")
        reached = results[-1].status == "SUCCEEDED"

    production, last = results[-1], pipeline[-1]
    target = aas.describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[f"service/{last.cluster}/{last.service}"]
    )["ScalableTargets"]
    return DemoResult(
        scenario=scenario,
        status=production.status,
        last_state=production.last_state,
        execution_arn=production.execution_arn or "",
        service=production.service,
        image=f"{SAMPLE['repository']}:{tag}",
        image_digest=digest,
        previous_task_definition=production.previous_task_definition,
        task_definition=production.task_definition,
        production_serves=production_image(endpoint),
        scaling_suspended=dict(target[0].get("SuspendedState", {})) if target else {},
        phases=production.phases,
        error=production.error,
        cause=production.cause,
        total_seconds=round(time.monotonic() - started, 2),
        ending=production.ending,
        production=production.runs,
        environments=results,
    )


def _follow(
    endpoint: str,
    app: Callable[[str], Any],
    target: Callable[[str], Any],
    arn: str,
    environment: ServiceConfig,
    scenario: Scenario,
    tag: str,
    say: Callable[[str, str], object],
    timeout: float,
    views: Callable[[], ProgressView] | None,
) -> dict[str, Any]:
    """Follow one execution to its end, deciding its approval as the scenario says."""
    decided = False
    last = ""
    began = time.monotonic()

    def entered(state: str) -> None:
        nonlocal decided, last
        last = state
        say("state", state)
        if state == "RequestApproval" and environment.needs_approval and not decided:
            decision: Literal["approve", "reject"] = "reject" if scenario == "reject" else "approve"
            link = _first_link(endpoint, tag, timeout=30)
            say("approval", f"{decision[:-1]}ing via {link.split('?')[0]}")
            answer = approval_page.decide(link, decision)
            say("approval", f"approval page answered {answer.status}")
            decided = True

    def clients(name: str) -> Any:
        # Step Functions is the app's; CodeDeploy's share of traffic is asked where it runs.
        return target(name) if name == "codedeploy" else app(name)

    view = views() if views is not None else None
    watcher = follow_execution(clients, arn, view, timeout, poll_seconds=0.3, on_state=entered)
    execution = watcher.describe()
    return {
        "status": str(execution["status"]),
        "last_state": last,
        "ending": ending(execution, watcher.history),
        "seconds": round(time.monotonic() - began, 2),
        "error": execution.get("error"),
        "cause": execution.get("cause"),
        "phases": phases(watcher.history, execution.get("stopDate")),
    }


def _not_reached(
    environment: ServiceConfig, account: str, before: str, ecs: Any, ecr: Any, stopped: str
) -> EnvironmentResult:
    """An environment the image never reached: ``stopped``, before it, did not deploy it."""
    running = production_runs(
        ecs, ecr, environment.cluster, environment.service, environment.container
    )
    return EnvironmentResult(
        environment=environment.environment,
        account=account,
        service=f"{environment.cluster}/{environment.service}",
        method=environment.method,
        approvers=list(environment.approvers),
        execution_arn=None,
        status=NOT_REACHED,
        last_state="",
        ending=f"not reached: {stopped} did not deploy it",
        previous_task_definition=before,
        task_definition=_task_definition(ecs, environment),
        runs=running.words() if running else None,
    )


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the pipeline did not end in time")
    return left


def _first_link(endpoint: str, tag: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        links = outbox_links(endpoint, SAMPLE["approver"], about=tag)
        if links:
            return links[-1]
        time.sleep(0.2)
    raise TimeoutError("no approval email reached the outbox")
