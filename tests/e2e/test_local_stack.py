"""`bluegreen local serve --sample` in a subprocess, driven only with boto3 and HTTP."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
BLUEGREEN = Path(sys.executable).with_name("bluegreen")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    server = subprocess.Popen(
        [str(BLUEGREEN), "local", "serve", "--sample", "--port", str(port)],
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
            pytest.fail(f"local serve exited with {server.wait()}")
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


def push(endpoint: str, tag: str) -> str:
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 7,
            "digest": "sha256:" + hashlib.sha256(tag.encode()).hexdigest(),
        },
        "layers": [],
    }
    pushed = aws(endpoint, "ecr").put_image(
        repositoryName="demo-web", imageManifest=json.dumps(manifest), imageTag=tag
    )
    return str(pushed["image"]["imageId"]["imageDigest"])


def state_machine(endpoint: str) -> str:
    machines = aws(endpoint, "stepfunctions").list_state_machines()["stateMachines"]
    return next(m["stateMachineArn"] for m in machines if "deploy" in m["name"])


def executions_for(endpoint: str, tag: str) -> list[dict[str, Any]]:
    sfn = aws(endpoint, "stepfunctions")
    found = sfn.list_executions(stateMachineArn=state_machine(endpoint))["executions"]
    return [e for e in found if tag[:12] in e["name"]]


def wait(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def approval_link(endpoint: str, tag: str) -> str | None:
    status, body = http(f"{endpoint}/_local/outbox")
    assert status == 200
    for message in json.loads(body):
        if message["channel"] == "email" and tag in message["subject"]:
            assert message["to"] == ["approver@example.com"] or "approver@example.com" in str(
                message["to"]
            )
            return next(link for link in message["links"] if "/approvals/" in link)
    return None


def test_health(endpoint):
    assert http(f"{endpoint}/_local/health")[0] == 200


def test_push_approve_and_deploy(endpoint):
    tag = secrets.token_hex(20)
    digest = push(endpoint, tag)

    link = wait(lambda: approval_link(endpoint, tag), 60, "the approval email")
    assert link.startswith(f"{endpoint}/approvals/")
    assert "token" not in link.lower()

    status, page = http(link)  # a GET only shows the request
    assert status == 200
    assert digest in page
    assert tag in page
    (execution,) = executions_for(endpoint, tag)
    assert execution["status"] == "RUNNING"
    events = aws(endpoint, "stepfunctions").get_execution_history(
        executionArn=execution["executionArn"]
    )["events"]
    assert not any(
        e.get("stateEnteredEventDetails", {}).get("name") == "SuspendScaling" for e in events
    )

    action = re.search(r'<form method="post" action="([^"]+)"', page)
    nonce = re.search(r'name="nonce" value="([^"]+)"', page)
    assert action
    assert nonce
    target = urllib.parse.urljoin(link, action.group(1).replace("&amp;", "&"))
    status, _ = http(target, {"nonce": nonce.group(1), "decision": "approve"})
    assert status == 200

    replay_status, _ = http(target, {"nonce": nonce.group(1), "decision": "approve"})
    assert replay_status == 409

    sfn = aws(endpoint, "stepfunctions")
    final = wait(
        lambda: (
            (d := sfn.describe_execution(executionArn=execution["executionArn"]))["status"]
            != "RUNNING"
            and d
        ),
        120,
        "the deployment to finish",
    )
    assert final["status"] == "SUCCEEDED"
    running = aws(endpoint, "ecs").describe_services(cluster="demo", services=["web"])
    task_definition = aws(endpoint, "ecs").describe_task_definition(
        taskDefinition=running["services"][0]["taskDefinition"]
    )["taskDefinition"]
    assert task_definition["containerDefinitions"][0]["image"].endswith(f"demo-web@{digest}")


def test_mutable_tag_is_refused_and_starts_nothing(endpoint):
    before = aws(endpoint, "ecs").describe_services(cluster="demo", services=["web"])
    push(endpoint, "latest")
    time.sleep(3)  # delivery is asynchronous; give a wrong start the time to show up
    machines = aws(endpoint, "stepfunctions").list_executions(
        stateMachineArn=state_machine(endpoint)
    )["executions"]
    assert not [e for e in machines if "latest" in e["name"]]
    after = aws(endpoint, "ecs").describe_services(cluster="demo", services=["web"])
    assert after["services"][0]["taskDefinition"] == before["services"][0]["taskDefinition"]


def test_duplicated_push_event_starts_one_execution(endpoint):
    tag = secrets.token_hex(20)
    digest = push(endpoint, tag)
    wait(lambda: executions_for(endpoint, tag), 60, "the first execution")
    event = {
        "Source": "aws.ecr",
        "DetailType": "ECR Image Action",
        "Detail": json.dumps(
            {
                "result": "SUCCESS",
                "repository-name": "demo-web",
                "image-digest": digest,
                "action-type": "PUSH",
                "image-tag": tag,
            }
        ),
    }
    aws(endpoint, "events").put_events(Entries=[event, event])
    time.sleep(3)
    assert len(executions_for(endpoint, tag)) == 1
