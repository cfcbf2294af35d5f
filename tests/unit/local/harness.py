"""A moto server in this process, fronted like ``bluegreen local serve`` fronts it.

The front hands each request's ``X-Amz-Target`` and JSON body to the simulator's
``intercept`` (CodeDeploy) and ``ecs_guard`` (ECS) first, checks ECR pushes as the server
does, and lets moto answer whatever they leave alone, so boto3 sees exactly what it sees
through the local server. moto's backends
are the process's own, the ones the simulator and the load balancer plane read. Time is a
fake clock the tests move, so nothing sleeps.
"""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bluegreen_cli.local.awserror import AwsError
from bluegreen_cli.local.codedeploy import CodeDeploySimulator
from bluegreen_cli.local.ecr import checked_put_image
from bluegreen_cli.local.ecs_rollouts import EcsRollouts
from bluegreen_cli.local.sample import SampleResources, image_manifest
from moto.iam.models import get_account_id_from
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

REGION = "us-east-1"
ACCOUNT = "123456789012"
ECR_PUT_IMAGE = "AmazonEC2ContainerRegistry_V20150921.PutImage"


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class LocalAws:
    """A threaded moto server whose front routes to the current test's simulator."""

    def __init__(self) -> None:
        self.simulator: CodeDeploySimulator | None = None
        self.rollouts: EcsRollouts | None = None
        self._moto = DomainDispatcherApplication(create_backend_app)
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", free_port(), self._front, threaded=True, request_handler=_Quiet
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _front(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        simulator = self.simulator
        answer: tuple[int, dict[str, Any]] | None = None
        if target:
            raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(raw)
            body = json.loads(raw or b"{}")
            if simulator is not None:
                answer = simulator.intercept(target, body) or simulator.ecs_guard(target, body)
            if target == ECR_PUT_IMAGE:
                try:
                    checked = json.dumps(checked_put_image(body, ACCOUNT, REGION)).encode()
                    environ["wsgi.input"] = io.BytesIO(checked)
                    environ["CONTENT_LENGTH"] = str(len(checked))
                except AwsError as e:
                    answer = e.status, {"__type": e.code, "message": e.message}
            if answer is None and self.rollouts is not None:
                answer = self.rollouts.handle(
                    target, body, _account(environ), REGION, lambda b: self._moto_json(environ, b)
                )
        if answer is not None:
            status, document = answer
            payload = json.dumps(document).encode()
            start_response(
                f"{status} {'OK' if status == 200 else 'Bad Request'}",
                [
                    ("Content-Type", "application/x-amz-json-1.1"),
                    ("Content-Length", str(len(payload))),
                ],
            )
            return [payload]
        result: Iterable[bytes] = self._moto(environ, start_response)
        return result

    def _moto_json(self, environ: dict[str, Any], body: dict[str, Any]) -> tuple[int, Any]:
        """moto's answer to the request with ``body``: its status and JSON document."""
        raw = json.dumps(body).encode()
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        said: dict[str, Any] = {}

        def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            said["status"] = int(status.split()[0])
            return lambda chunk: None

        content = b"".join(self._moto(environ, start_response))
        return said["status"], json.loads(content) if content.strip() else {}


def _account(environ: dict[str, Any]) -> str:
    """The account the caller's access key belongs to (an assumed role's, or the default)."""
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    key = (
        authorization.split("Credential=")[1].split("/")[0]
        if "Credential=" in authorization
        else ""
    )
    return str(get_account_id_from(key))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Stack:
    """The provisioned sample, its simulator and clock, and clients of the local endpoint."""

    sample: SampleResources
    simulator: CodeDeploySimulator
    clock: FakeClock
    codedeploy: Any
    ecs: Any
    elbv2: Any
    ecr: Any

    def wait(self, seconds: float) -> None:
        """Let time pass, with the ticker running as it does in the local server."""
        self.clock.advance(seconds)
        self.simulator.tick()

    def register_new_version(self, seed: str = "v2", container: str = "web") -> str:
        """Push an image and register a task definition revision that runs it."""
        digest = self.ecr.put_image(
            repositoryName=self.sample.repository_name,
            imageManifest=image_manifest(seed),
            imageTag=seed,
        )["image"]["imageId"]["imageDigest"]
        return str(
            self.ecs.register_task_definition(
                family="web",
                networkMode="awsvpc",
                requiresCompatibilities=["FARGATE"],
                cpu="256",
                memory="512",
                executionRoleArn=self.sample.execution_role_arn,
                containerDefinitions=[
                    {
                        "name": container,
                        "image": f"{self.sample.repository_uri}@{digest}",
                        "portMappings": [{"containerPort": 8080}],
                    }
                ],
            )["taskDefinition"]["taskDefinitionArn"]
        )

    def deploy(
        self,
        task_definition: str,
        appspec: str | None = None,
        *,
        group: str = "demo-web",
        **options: Any,
    ) -> str:
        content = appspec if appspec is not None else appspec_for(task_definition)
        return str(
            self.codedeploy.create_deployment(
                applicationName=self.sample.codedeploy_application,
                deploymentGroupName=group,
                revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": content}},
                **options,
            )["deploymentId"]
        )

    def add_group(self, name: str, **blue_green: Any) -> str:
        """A deployment group on the sample service like the sample's, but for ``blue_green``."""
        group = self.codedeploy.get_deployment_group(
            applicationName="demo-web", deploymentGroupName="demo-web"
        )["deploymentGroupInfo"]
        self.codedeploy.create_deployment_group(
            applicationName="demo-web",
            deploymentGroupName=name,
            serviceRoleArn=group["serviceRoleArn"],
            deploymentConfigName=group["deploymentConfigName"],
            deploymentStyle=group["deploymentStyle"],
            blueGreenDeploymentConfiguration={
                **group["blueGreenDeploymentConfiguration"],
                **blue_green,
            },
            autoRollbackConfiguration=group["autoRollbackConfiguration"],
            ecsServices=group["ecsServices"],
            loadBalancerInfo=group["loadBalancerInfo"],
        )
        return name

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        info: dict[str, Any] = self.codedeploy.get_deployment(deploymentId=deployment_id)[
            "deploymentInfo"
        ]
        return info

    def forwards_to(self, listener_arn: str) -> dict[str, int]:
        """Target group ARN -> weight, as DescribeListeners shows the default action."""
        (listener,) = self.elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"]
        (action,) = listener["DefaultActions"]
        groups = action.get("ForwardConfig", {}).get("TargetGroups")
        if groups:
            return {g["TargetGroupArn"]: g["Weight"] for g in groups}
        return {action["TargetGroupArn"]: 1}

    def service(self) -> dict[str, Any]:
        (service,) = self.ecs.describe_services(cluster="demo", services=["web"])["services"]
        return dict(service)


def appspec_for(task_definition: str, container: str = "web", port: int = 8080) -> str:
    return json.dumps(
        {
            "version": 0.0,
            "Resources": [
                {
                    "TargetService": {
                        "Type": "AWS::ECS::Service",
                        "Properties": {
                            "TaskDefinition": task_definition,
                            "LoadBalancerInfo": {"ContainerName": container, "ContainerPort": port},
                        },
                    }
                }
            ],
        }
    )
