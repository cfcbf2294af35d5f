"""One deployment on the local stack, end to end, as a user would see it.

Push an image to the sample repository, follow the execution the push starts, approve it
through the real approval page (the link from the outbox), and sum up what changed.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from bluegreen.domain.digest import short_digest

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
EXPECTED_END: dict[Scenario, tuple[str, str]] = {
    "approve": ("SUCCEEDED", "Deployed"),
    "reject": ("FAILED", "NotDeployed"),
    "unhealthy": ("FAILED", "RolledBack"),
}
SAMPLE = {
    "repository": "demo-web",
    "cluster": "demo",
    "service": "web",
    "container": "web",
    "approver": "approver@example.com",
}


@dataclass
class DemoResult:
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
    ending: str = ""  # how it ended, in words
    production: str | None = None  # what production runs now: repository:tag (short digest)

    @property
    def as_expected(self) -> bool:
        return (self.status, self.last_state) == EXPECTED_END[self.scenario]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "as_expected": self.as_expected}


def push_image(ecr: Any, repository: str, tag: str) -> str:
    """Push a (tiny, valid) image manifest; ECR answers with its digest."""
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
    return str(pushed["image"]["imageId"]["imageDigest"])


def outbox_links(endpoint: str, recipient: str) -> list[str]:
    with urllib.request.urlopen(f"{endpoint}/_local/outbox", timeout=10) as response:  # noqa: S310
        messages = json.load(response)
    return [
        link
        for m in messages
        if m.get("channel") == "email" and recipient in json.dumps(m.get("to"))
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


def run(
    endpoint: str,
    clients: Any,
    scenario: Scenario,
    report: Any = None,
    timeout: float = 300.0,
    view: ProgressView | None = None,
) -> DemoResult:
    """Drive one deployment on a running local stack with the sample; ``clients(name)``.

    ``report(kind, text)`` hears of the push, the execution, each state and the approval;
    ``view`` shows the deployment's progress."""
    say = report or (lambda *_: None)
    ecr, sfn, ecs, aas = (
        clients(n) for n in ("ecr", "stepfunctions", "ecs", "application-autoscaling")
    )
    started = time.monotonic()
    service = ecs.describe_services(cluster=SAMPLE["cluster"], services=[SAMPLE["service"]])
    before = service["services"][0]["taskDefinition"]
    set_sample_health(endpoint, scenario != "unhealthy")

    tag = secrets.token_hex(20)  # stands in for a commit SHA
    digest = push_image(ecr, SAMPLE["repository"], tag)
    say("push", f"pushed {SAMPLE['repository']}:{tag[:12]}… ({digest[:19]}…)")

    machine = next(
        m["stateMachineArn"]
        for m in sfn.list_state_machines()["stateMachines"]
        if "deploy" in m["name"]
    )
    arn = wait_for_execution(sfn, machine, short_digest(digest), timeout=30)
    say("execution", arn.rsplit(":", 1)[-1])

    decided = False
    last = ""

    def entered(state: str) -> None:
        nonlocal decided, last
        last = state
        say("state", state)
        if state == "RequestApproval" and not decided:
            link = _first_link(endpoint, timeout=30)
            say(
                "approval",
                f"{'approving' if scenario != 'reject' else 'rejecting'} via {link.split('?')[0]}",
            )
            answer = approval_page.decide(link, "reject" if scenario == "reject" else "approve")
            say("approval", f"approval page answered {answer.status}")
            decided = True

    watcher = follow_execution(clients, arn, view, timeout, poll_seconds=0.3, on_state=entered)
    execution = watcher.describe()
    after = ecs.describe_services(cluster=SAMPLE["cluster"], services=[SAMPLE["service"]])
    target = aas.describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[f"service/{SAMPLE['cluster']}/{SAMPLE['service']}"]
    )["ScalableTargets"][0]
    running = production_runs(ecs, ecr, SAMPLE["cluster"], SAMPLE["service"], SAMPLE["container"])
    return DemoResult(
        scenario=scenario,
        status=execution["status"],
        last_state=last,
        execution_arn=watcher.arn,
        service=f"{SAMPLE['cluster']}/{SAMPLE['service']}",
        image=f"{SAMPLE['repository']}:{tag}",
        image_digest=digest,
        previous_task_definition=before,
        task_definition=after["services"][0]["taskDefinition"],
        production_serves=production_image(endpoint),
        scaling_suspended=dict(target.get("SuspendedState", {})),
        phases=phases(watcher.history, execution.get("stopDate")),
        error=execution.get("error"),
        cause=execution.get("cause"),
        total_seconds=round(time.monotonic() - started, 2),
        ending=ending(execution, watcher.history),
        production=running.words(tag) if running else None,
    )


def _first_link(endpoint: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        links = outbox_links(endpoint, SAMPLE["approver"])
        if links:
            return links[-1]
        time.sleep(0.2)
    raise TimeoutError("no approval email reached the outbox")
