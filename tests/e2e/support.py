"""Driving `bluegreen local serve` from outside, as a user does: a subprocess, boto3, HTTP."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]
BLUEGREEN = Path(sys.executable).with_name("bluegreen")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(*options: str) -> Iterator[str]:
    """`bluegreen local serve --sample` on a free port; yields its endpoint once ready."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    server = subprocess.Popen(
        [str(BLUEGREEN), "local", "serve", "--sample", "--port", str(port), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        assert server.stdout is not None
        deadline = time.monotonic() + 120
        for line in server.stdout:
            if "ready" in line:
                assert f"http://127.0.0.1:{port}" in line
                break
            assert time.monotonic() < deadline, "the local stack did not get ready"
        else:
            raise AssertionError(f"local serve exited with {server.wait()}")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def aws(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def http(url: str, form: dict[str, str] | None = None) -> tuple[int, str]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data)) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def push(endpoint: str, tag: str, image: str | None = None, repository: str = "demo-web") -> str:
    """Push the image named ``image`` (by default, one of its own per tag) as ``tag``; its
    digest. The same ``image`` under another tag is the same digest, tagged once more."""
    seed = image if image is not None else tag
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 7,
            "digest": "sha256:" + hashlib.sha256(seed.encode()).hexdigest(),
        },
        "layers": [],
    }
    pushed = aws(endpoint, "ecr").put_image(
        repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag
    )
    return str(pushed["image"]["imageId"]["imageDigest"])


def push_event(tag: str, digest: str, repository: str = "demo-web") -> dict[str, Any]:
    """An "ECR Image Action" push event as EventBridge hands it to the trigger."""
    event: dict[str, Any] = json.loads((ROOT / "events" / "ecr-push.json").read_text())
    detail = {"image-digest": digest, "image-tag": tag, "repository-name": repository}
    event["detail"].update(detail)
    return event


def invoke_trigger(endpoint: str, event: dict[str, Any]) -> dict[str, Any]:
    """Run the trigger on ``event`` (as a redelivery would) and return what it answered."""
    trigger = json.loads(http(f"{endpoint}/_local/app")[1])["functions"]["TriggerFunction"]
    invoked = aws(endpoint, "lambda").invoke(FunctionName=trigger, Payload=json.dumps(event))
    answer: dict[str, Any] = json.loads(invoked["Payload"].read())
    return answer


def sample(endpoint: str, **switches: bool) -> None:
    """Switch the sample's behaviour: ``healthy`` (production's green app), ``dev_healthy``
    (the development service's new tasks)."""
    request = urllib.request.Request(
        f"{endpoint}/_local/sample",
        data=json.dumps(switches).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 200


def outbox(endpoint: str) -> list[dict[str, Any]]:
    status, body = http(f"{endpoint}/_local/outbox")
    assert status == 200
    messages: list[dict[str, Any]] = json.loads(body)
    return messages


def state_machine(endpoint: str) -> str:
    machines = aws(endpoint, "stepfunctions").list_state_machines()["stateMachines"]
    return next(m["stateMachineArn"] for m in machines if "deploy" in m["name"])


def executions_for(
    endpoint: str, tag_or_digest: str, environment: str | None = "prod"
) -> list[dict[str, Any]]:
    """The executions started for the image pushed as ``tag_or_digest`` (or of that digest)
    in ``environment`` (the sample's production by default; None: any), as their input
    documents say: execution names carry the digest, not the tag."""
    sfn = aws(endpoint, "stepfunctions")
    found = sfn.list_executions(stateMachineArn=state_machine(endpoint))["executions"]
    mine = []
    for execution in found:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        document = json.loads(described.get("input") or "{}")
        image = document.get("image", {})
        where = document.get("service", {}).get("environment")
        if tag_or_digest in (image.get("tag"), image.get("digest")) and (
            environment is None or where == environment
        ):
            mine.append(execution)
    return mine


def wait(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def finished(endpoint: str, execution_arn: str, timeout: float = 120) -> dict[str, Any]:
    sfn = aws(endpoint, "stepfunctions")
    return dict(
        wait(
            lambda: (
                (d := sfn.describe_execution(executionArn=execution_arn))["status"] != "RUNNING"
                and d
            ),
            timeout,
            "the execution to finish",
        )
    )


def history(endpoint: str, execution_arn: str) -> list[dict[str, Any]]:
    sfn = aws(endpoint, "stepfunctions")
    return list(sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"])


def approval_link(endpoint: str, tag: str) -> str | None:
    status, body = http(f"{endpoint}/_local/outbox")
    assert status == 200
    for message in json.loads(body):
        if message["channel"] == "email" and tag in message["subject"]:
            assert "approver@example.com" in str(message["to"])
            return str(next(link for link in message["links"] if "/approvals/" in link))
    return None


def decision_form(page: str, link: str) -> tuple[str, str]:
    """The approval page's POST target and its one-time nonce."""
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    nonce = re.search(r'name="nonce" value="([^"]+)"', page)
    assert action
    assert nonce
    return urllib.parse.urljoin(link, action.group(1).replace("&amp;", "&")), nonce.group(1)


def approve(link: str) -> int:
    status, page = http(link)
    assert status == 200
    target, nonce = decision_form(page, link)
    return http(target, {"nonce": nonce, "decision": "approve"})[0]


def invocations(endpoint: str, logical_id: str) -> int:
    """How many times the local stack has run one of the app's functions."""
    status, body = http(f"{endpoint}/_local/stats")
    assert status == 200
    stats = json.loads(body)
    app = json.loads(http(f"{endpoint}/_local/app")[1])
    name = app["functions"][logical_id]
    return int(stats["functions"].get(name, {}).get("invocations", 0))


DEV_ACCOUNT = "111111111111"
DEV_ROLE = f"arn:aws:iam::{DEV_ACCOUNT}:role/bluegreen-deploy"


def dev_client(endpoint: str, service: str, session: str = "e2e-operator") -> Any:
    """A client of the development account, as an operator reaches it: the role."""
    credentials = aws(endpoint, "sts").assume_role(RoleArn=DEV_ROLE, RoleSessionName=session)[
        "Credentials"
    ]
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def dev_image(endpoint: str) -> str:
    """The image the development account's demo-dev/web runs."""
    ecs = dev_client(endpoint, "ecs")
    running = ecs.describe_services(cluster="demo-dev", services=["web"])["services"][0]
    definition = ecs.describe_task_definition(taskDefinition=running["taskDefinition"])
    return str(definition["taskDefinition"]["containerDefinitions"][0]["image"])


def production_image(endpoint: str) -> str:
    ecs = aws(endpoint, "ecs")
    running = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    definition = ecs.describe_task_definition(taskDefinition=running["taskDefinition"])
    return str(definition["taskDefinition"]["containerDefinitions"][0]["image"])


def scaling_suspended(endpoint: str) -> dict[str, bool]:
    found = aws(endpoint, "application-autoscaling").describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=["service/demo/web"]
    )
    return dict(found["ScalableTargets"][0]["SuspendedState"])
