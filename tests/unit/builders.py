"""Test data, and resources on the emulated AWS, shaped like the sample target.

The service under deployment is the ``demo-web`` entry of the tests' own configuration
(``services.toml`` beside this module) and the state table is built from ``template.yaml``'s
``StateTable``: tests and template cannot drift apart unnoticed.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import yaml
from bluegreen.config import ServiceCatalog
from bluegreen.domain.image import execution_name
from bluegreen.models import (
    DeploymentState,
    FieldChange,
    ImageRef,
    RenderResult,
    ServiceConfig,
)
from bluegreen.push import EcrImageAction

ROOT = Path(__file__).resolve().parents[2]
SERVICES_FILE = Path(__file__).with_name("services.toml")
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
COMMIT = "3f2c1e9b7a6d5c4b3a2918f7e6d5c4b3a2918f7e"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PREVIOUS_IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/demo-web@sha256:{'0' * 64}"
SIGNING_KEY = b"an-approval-signing-key-of-32-by"


def digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


DIGEST = digest("demo-web build 1")


# --- models -------------------------------------------------------------------------------


@cache
def catalog() -> ServiceCatalog:
    """The tests' service configuration."""
    return ServiceCatalog.load(SERVICES_FILE)


def demo_service(**changes: Any) -> ServiceConfig:
    """The tests' ``demo-web`` entry, validated again with ``changes`` applied."""
    return ServiceConfig.model_validate({**catalog().named("demo-web").model_dump(), **changes})


def push(
    tag: str | None = COMMIT,
    image_digest: str | None = DIGEST,
    repository: str = "demo-web",
    action: str = "PUSH",
    result: str = "SUCCESS",
) -> EcrImageAction:
    detail: dict[str, Any] = {
        "action-type": action,
        "result": result,
        "repository-name": repository,
    }
    if tag is not None:
        detail["image-tag"] = tag
    if image_digest is not None:
        detail["image-digest"] = image_digest
    return EcrImageAction.model_validate(detail)


def image(tag: str = COMMIT, image_digest: str = DIGEST, repository: str = "demo-web") -> ImageRef:
    return ImageRef(
        registry_id=ACCOUNT, region=REGION, repository=repository, tag=tag, digest=image_digest
    )


def state(
    service: ServiceConfig | None = None, image_ref: ImageRef | None = None, **sections: Any
) -> DeploymentState:
    service = service or demo_service()
    image_ref = image_ref or image()
    return DeploymentState(
        execution_name=execution_name(service, image_ref),
        service=service,
        image=image_ref,
        requested_at=NOW,
        **sections,
    )


def rendered(base: DeploymentState | None = None) -> DeploymentState:
    base = base or state()
    return base.model_copy(
        update={
            "render": RenderResult(
                previous_task_definition=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:1",
                task_definition=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:2",
                previous_image=PREVIOUS_IMAGE,
                changes=[
                    FieldChange(
                        path="containerDefinitions[web].image",
                        before=PREVIOUS_IMAGE,
                        after=base.image.pinned,
                    )
                ],
            )
        }
    )


# --- the template -------------------------------------------------------------------------


class _TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, ...) as their plain values."""


def _tagged(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_TemplateLoader.add_multi_constructor("!", _tagged)


@cache
def template() -> dict[str, Any]:
    document = (ROOT / "template.yaml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.load(document, Loader=_TemplateLoader)  # noqa: S506 - safe loader subclass
    return loaded


def event(name: str) -> dict[str, Any]:
    """A sample event from ``events/``, fresh for each caller to modify."""
    loaded: dict[str, Any] = json.loads((ROOT / "events" / name).read_text(encoding="utf-8"))
    return loaded


# --- resources on the emulated AWS --------------------------------------------------------


class Aws:
    """The emulated account's clients, one per service, shared by the whole run.

    Building a client is the slow part of these tests; moto keeps no state in clients, so
    one set serves every test. A test that hooks into a client (a Stubber) asks for its
    own with ``fresh``.
    """

    def __init__(self) -> None:
        self.session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.fresh(service)
        return self._clients[service]

    def fresh(self, service: str) -> Any:
        return self.session.client(service)


def image_manifest(seed: str) -> str:
    """A Docker image manifest whose layers (and so whose digest) follow from ``seed``."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1024,
                "digest": digest(f"{seed}/config"),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 2048,
                    "digest": digest(f"{seed}/layer"),
                }
            ],
        }
    )


def ecr_digest(seed: str = "demo-web build 1") -> str:
    """The digest ECR gives the image of ``seed``: the SHA-256 of its manifest's bytes."""
    return "sha256:" + hashlib.sha256(image_manifest(seed).encode()).hexdigest()


def push_image(
    ecr: Any, tag: str = COMMIT, seed: str = "demo-web build 1", repository: str = "demo-web"
) -> str:
    """Push the image of ``seed`` (its repository created if need be); the digest ECR gives it.

    moto stores the digest the request names (it would derive another from the layers), so
    the request names ECR's. The same ``seed`` under another tag is the same image, tagged
    once more.
    """
    with suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repository)
    ecr.put_image(
        repositoryName=repository,
        imageManifest=image_manifest(seed),
        imageTag=tag,
        imageDigest=ecr_digest(seed),
    )
    return ecr_digest(seed)


def create_state_table(ddb: Any, name: str = "bluegreen-state") -> str:
    properties = template()["Resources"]["StateTable"]["Properties"]
    ddb.create_table(
        TableName=name,
        KeySchema=properties["KeySchema"],
        AttributeDefinitions=properties["AttributeDefinitions"],
        BillingMode=properties["BillingMode"],
    )
    return name


def create_ecs_service(
    ecs: Any,
    service: ServiceConfig,
    running: str = PREVIOUS_IMAGE,
    tags: list[dict[str, str]] | None = None,
) -> str:
    """The service's cluster, a two-container Fargate task definition and a CODE_DEPLOY service."""
    ecs.create_cluster(clusterName=service.cluster)
    arn: str = ecs.register_task_definition(
        family=service.service,
        taskRoleArn=f"arn:aws:iam::{ACCOUNT}:role/web-task",
        executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": service.container,
                "image": running,
                "essential": True,
                "portMappings": [{"containerPort": service.container_port, "protocol": "tcp"}],
                "environment": [{"name": "MODE", "value": "production"}],
            },
            {
                "name": "log-router",
                "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0",
                "essential": False,
            },
        ],
        tags=tags if tags is not None else [{"key": "team", "value": "web"}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster=service.cluster,
        serviceName=service.service,
        taskDefinition=arn,
        desiredCount=2,
        deploymentController={"type": "CODE_DEPLOY"},
    )
    return arn


def register_scalable_target(
    aas: Any, service: ServiceConfig, suspended: dict[str, bool] | None = None
) -> None:
    extra = {"SuspendedState": suspended} if suspended is not None else {}
    aas.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=service.scalable_target_id,
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=2,
        MaxCapacity=10,
        **extra,
    )


def suspended_state(aas: Any, service: ServiceConfig) -> dict[str, bool] | None:
    found = aas.describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[service.scalable_target_id]
    )["ScalableTargets"]
    return dict(found[0]["SuspendedState"]) if found else None


def create_deployment_group(
    cd: Any, service: ServiceConfig, action_on_timeout: str | None = "STOP_DEPLOYMENT"
) -> None:
    cd.create_application(applicationName=service.codedeploy_application, computePlatform="ECS")
    blue_green: dict[str, Any] = {
        "terminateBlueInstancesOnDeploymentSuccess": {
            "action": "TERMINATE",
            "terminationWaitTimeInMinutes": 5,
        }
    }
    if action_on_timeout is not None:
        blue_green["deploymentReadyOption"] = {
            "actionOnTimeout": action_on_timeout,
            "waitTimeInMinutes": 60,
        }
    cd.create_deployment_group(
        applicationName=service.codedeploy_application,
        deploymentGroupName=service.deployment_group,
        serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/codedeploy",
        deploymentConfigName="CodeDeployDefault.ECSAllAtOnce",
        deploymentStyle={
            "deploymentType": "BLUE_GREEN",
            "deploymentOption": "WITH_TRAFFIC_CONTROL",
        },
        blueGreenDeploymentConfiguration=blue_green,
        ecsServices=[{"serviceName": service.service, "clusterName": service.cluster}],
    )


def answer_deployment_configs(cd: Any) -> None:
    """GetDeploymentConfig on ``cd`` answered as the local stack's CodeDeploy answers it
    (the predefined configurations): moto does not implement the operation."""
    from bluegreen_cli.local.codedeploy_configs import ConfigError, get_deployment_config

    def answer(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        request = json.loads(params["body"] or b"{}")  # the serialized request
        try:
            return _Answered(200), get_deployment_config(request)
        except ConfigError as e:
            error = {"Error": {"Code": e.code, "Message": e.message}}
            return _Answered(400), {**error, "ResponseMetadata": {"HTTPStatusCode": 400}}

    cd.meta.events.register("before-call.codedeploy.GetDeploymentConfig", answer)


@dataclass
class _Answered:
    """The HTTP response of an answer given in ``before-call`` (botocore reads its status)."""

    status_code: int
    headers: dict[str, str] = field(default_factory=dict)


def create_pass_machine(sfn: Any, name: str = "bluegreen-deploy") -> str:
    """A state machine that waits a long time: its executions stay RUNNING during a test."""
    definition = {
        "StartAt": "Hold",
        "States": {"Hold": {"Type": "Wait", "Seconds": 3600, "End": True}},
    }
    arn: str = sfn.create_state_machine(
        name=name, roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn", definition=json.dumps(definition)
    )["stateMachineArn"]
    return arn


@dataclass
class ApprovalMachine:
    """A state machine whose one task waits for a task token, like ``RequestApproval``.

    The token is handed out through an SQS queue (moto runs ``sqs:sendMessage`` with
    ``.waitForTaskToken``), so the tests hold a real token the emulated Step Functions knows.
    """

    sfn: Any
    sqs: Any
    arn: str
    queue_url: str

    @classmethod
    def create(cls, sfn: Any, sqs: Any, timeout_seconds: int = 300) -> ApprovalMachine:
        queue_url: str = sqs.create_queue(QueueName="approval-tokens")["QueueUrl"]
        definition = {
            "StartAt": "RequestApproval",
            "States": {
                "RequestApproval": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {
                        "QueueUrl": queue_url,
                        "MessageBody": {"task_token.$": "$$.Task.Token"},
                    },
                    "TimeoutSeconds": timeout_seconds,
                    "ResultPath": "$.approval",
                    "End": True,
                }
            },
        }
        arn: str = sfn.create_state_machine(
            name="approval",
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
            definition=json.dumps(definition),
        )["stateMachineArn"]
        return cls(sfn, sqs, arn, queue_url)

    def start(self, document: dict[str, Any], name: str = "execution-1") -> tuple[str, str]:
        """Start an execution; its ARN and the task token it waits for."""
        execution: str = self.sfn.start_execution(
            stateMachineArn=self.arn, name=name, input=json.dumps(document)
        )["executionArn"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url).get("Messages", [])
            if messages:
                return execution, str(json.loads(messages[0]["Body"])["task_token"])
            time.sleep(0.02)
        raise AssertionError("the execution never asked for its task token")

    def status(self, execution: str) -> str:
        return str(self.sfn.describe_execution(executionArn=execution)["status"])

    def finished(self, execution: str) -> dict[str, Any]:
        """DescribeExecution once the execution has left RUNNING."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            described: dict[str, Any] = self.sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.02)
        raise AssertionError(f"{execution} is still RUNNING")


def mail_parts(message: Any) -> tuple[list[str], str, str | None]:
    """The recipients, text and HTML parts of a message moto's SES accepted."""
    import email
    import email.policy

    if not hasattr(message, "raw_data"):
        return list(message.destinations["ToAddresses"]), str(message.body), None
    parsed = email.message_from_string(message.raw_data, policy=email.policy.default)
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    return (
        list(dict.fromkeys(message.destinations)),
        text.get_content() if text is not None else "",
        html.get_content() if html is not None else None,
    )


def sent_emails() -> list[Any]:
    """What moto's SES accepted (its documented backend list), oldest first."""
    from moto.ses.models import ses_backends

    messages: list[Any] = ses_backends[ACCOUNT][REGION].sent_messages
    return messages


# --- a real HTTP server on loopback -------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LocalServer:
    url: str
    requests: list[Request] = field(default_factory=list)


Responder = Callable[[Request], tuple[int, bytes]]


@contextmanager
def http_server(respond: Responder) -> Iterator[LocalServer]:
    """A threaded HTTP server on 127.0.0.1 and an ephemeral port, answering with ``respond``."""
    server_state = LocalServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
            )
            server_state.requests.append(request)
            status, body = respond(request)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *_: Any) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()


# --- the local Slack workspace on loopback -------------------------------------------------


@dataclass
class SlackServer:
    """The local stack's Slack workspace, served alone: its Web API at ``api_url``."""

    workspace: Any
    api_url: str
    calls: list[dict[str, Any]] = field(default_factory=list)

    def app(self, token: str | None = None) -> Any:
        from bluegreen.adapters.slack import SlackApp

        return SlackApp(token or self.workspace.token, self.api_url)

    def sent(self, method: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["method"] == method]


@contextmanager
def slack_server() -> Iterator[SlackServer]:
    from bluegreen_cli.local.slack import SlackWorkspace
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request as WsgiRequest

    calls: list[dict[str, Any]] = []
    workspace = SlackWorkspace(calls.append)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = WsgiRequest(environ)
        method = request.path.removeprefix("/api/")
        return workspace.handle(request, method)(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield SlackServer(workspace, f"http://127.0.0.1:{server.server_port}/api/", calls)
    finally:
        server.shutdown()
        server.server_close()
