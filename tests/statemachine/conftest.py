"""The real statemachine/deploy.asl.json, executed by the local stack's engine in-process."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from bluegreen.config import ServiceCatalog
from bluegreen.domain.image import execution_name
from bluegreen.models import DeploymentState, ImageRef, ServiceConfig
from bluegreen_cli import approval_page
from bluegreen_cli.local.server import LocalStack

ACCOUNT = "123456789012"
SCALABLE = {"ServiceNamespace": "ecs", "ResourceIds": ["service/demo/web"]}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(port=0, sample=True) as running:
        yield running


@dataclass
class Run:
    """One execution of the deploy state machine, started with a document we control."""

    stack: LocalStack
    state: DeploymentState
    arn: str

    def history(self) -> list[dict[str, Any]]:
        sfn = self.stack.client("stepfunctions")
        return list(sfn.get_execution_history(executionArn=self.arn, maxResults=1000)["events"])

    def entered(self) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history()
            if "stateEnteredEventDetails" in e
        ]

    def wait_for_state(self, name: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while name not in self.entered():
            assert time.monotonic() < deadline, f"{name} not reached; entered {self.entered()}"
            time.sleep(0.2)

    def finish(self, timeout: float = 90) -> dict[str, Any]:
        sfn = self.stack.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            execution = sfn.describe_execution(executionArn=self.arn)
            if execution["status"] != "RUNNING":
                return dict(execution)
            assert time.monotonic() < deadline, f"still running in {self.entered()[-1:]}"
            time.sleep(0.3)

    def approval_link(self, timeout: float = 15) -> str:
        """The approver's link, from the email in the outbox that names this image's tag."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{self.stack.endpoint_url}/_local/outbox") as r:
                for message in json.load(r):
                    if message["channel"] == "email" and self.state.image.tag in message["subject"]:
                        return str(next(link for link in message["links"] if "/approvals/" in link))
            time.sleep(0.2)
        raise AssertionError("no approval email in the outbox")

    def decide(self, decision: str) -> int:
        return approval_page.decide(self.approval_link(), decision).status  # type: ignore[arg-type]


SampleService = Callable[..., ServiceConfig]


@pytest.fixture(scope="module")
def sample_service(stack: LocalStack) -> SampleService:
    """The sample's service as the local stack configured it (its SSM parameter), changed."""
    name = stack.app.parameters["ServicesParameterName"] if stack.app else ""
    text = stack.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    configured = ServiceCatalog.parse(text, name).named("demo-web", "prod")

    def _service(**changes: Any) -> ServiceConfig:
        timings = configured.timings.model_copy(update=changes.pop("timings", {}))
        return configured.model_copy(update={"timings": timings, **changes})

    return _service


@pytest.fixture
def start(stack: LocalStack, sample_service: SampleService, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Start the state machine on a fresh image of the sample service."""

    def _start(
        service: ServiceConfig | None = None,
        tag: str | None = None,
        pushed_at: datetime | None = None,
        repository: str = "demo-web",
    ) -> Run:
        service = service or sample_service()
        tag = tag or hashlib.sha1(request.node.name.encode()).hexdigest()[:12]  # noqa: S324
        digest = (
            "sha256:" + hashlib.sha256(f"{request.node.name}{time.time()}".encode()).hexdigest()
        )
        image = ImageRef(
            registry_id=ACCOUNT,
            region="us-east-1",
            repository=repository,
            tag=tag,
            digest=digest,
            pushed_at=pushed_at or datetime.now(UTC),
        )
        state = DeploymentState(
            execution_name=execution_name(service, image),
            service=service,
            image=image,
            source="cli",
            requested_at=datetime.now(UTC),
        )
        sfn = stack.client("stepfunctions")
        machine = next(
            m["stateMachineArn"]
            for m in sfn.list_state_machines()["stateMachines"]
            if "deploy" in m["name"]
        )
        arn = sfn.start_execution(
            stateMachineArn=machine, name=state.execution_name, input=json.dumps(state.dump())
        )["executionArn"]
        return Run(stack, state, arn)

    return _start


@pytest.fixture
def service_view(stack: LocalStack):  # type: ignore[no-untyped-def]
    """What an operator would check: the running task definition and the scaling state."""

    def _view() -> tuple[str, dict[str, bool]]:
        ecs = stack.client("ecs")
        running = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
        target = stack.client("application-autoscaling").describe_scalable_targets(**SCALABLE)
        return running["taskDefinition"], dict(target["ScalableTargets"][0]["SuspendedState"])

    return _view


@pytest.fixture(autouse=True)
def healthy_sample(stack: LocalStack) -> Iterator[None]:
    yield
    set_health(stack, True)


def set_health(stack: LocalStack, healthy: bool) -> None:
    request = urllib.request.Request(
        f"{stack.endpoint_url}/_local/sample",
        data=json.dumps({"healthy": healthy}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
