"""The sample's development account, from outside: `bluegreen local serve --sample`, boto3.

A step whose function may assume the development account's role acts there (STS
AssumeRole: the credentials are the role's session, in the role's account); the app's own
account is left as it was. An operator looks into the development account the same way:
by assuming the role.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.support import DEV_ACCOUNT, DEV_ROLE, aws, dev_client, http

pytestmark = pytest.mark.e2e

APP_ACCOUNT = "123456789012"


def dev_deployment(tag: str, digest: str) -> dict[str, Any]:
    """An execution document for the development environment, as the state machine hands
    it to Render: the service through its role, an image of the app's registry."""
    service = {
        "name": "demo-web",
        "repository": "demo-web",
        "environment": "dev",
        "pipeline": ["dev", "prod"],
        "role_arn": DEV_ROLE,
        "cluster": "demo-dev",
        "service": "web",
        "method": "rolling",
        "container": "web",
        "container_port": 8080,
        "approvers": [],
    }
    return {
        "execution_name": f"demo-web-{digest[7:19]}",
        "service": service,
        "image": {
            "registry_id": APP_ACCOUNT,
            "region": "us-east-1",
            "repository": "demo-web",
            "tag": tag,
            "digest": digest,
        },
        "requested_at": datetime.now(UTC).isoformat(),
    }


def test_render_through_the_dev_role_registers_the_revision_in_the_dev_account_only(
    endpoint: str,
) -> None:
    """Cross-account: the app's Render assumes the environment's role (its policy allows
    sts:AssumeRole on exactly that role, which trusts the app's account) and registers the
    revision in the development account; the app account's demo/web is untouched."""
    app_ecs = aws(endpoint, "ecs")
    (production,) = app_ecs.describe_services(cluster="demo", services=["web"])["services"]
    app_revisions = app_ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"]
    dev_ecs = dev_client(endpoint, "ecs")
    (dev_service,) = dev_ecs.describe_services(cluster="demo-dev", services=["web"])["services"]
    tag = secrets.token_hex(20)
    digest = "sha256:" + hashlib.sha256(tag.encode()).hexdigest()
    render = json.loads(http(f"{endpoint}/_local/app")[1])["functions"]["RenderFunction"]

    invoked = aws(endpoint, "lambda").invoke(
        FunctionName=render, Payload=json.dumps(dev_deployment(tag, digest))
    )
    answer = json.loads(invoked["Payload"].read())

    assert "FunctionError" not in invoked, answer
    rendered = answer["render"]
    assert rendered["previous_task_definition"] == dev_service["taskDefinition"]
    assert rendered["task_definition"].startswith(
        f"arn:aws:ecs:us-east-1:{DEV_ACCOUNT}:task-definition/web:"
    )
    described = dev_ecs.describe_task_definition(
        taskDefinition=rendered["task_definition"], include=["TAGS"]
    )
    (container,) = described["taskDefinition"]["containerDefinitions"]
    image = f"{APP_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/demo-web@{digest}"
    assert container["image"] == image
    assert {"key": "bluegreen:image-tag", "value": tag} in described["tags"]
    # The app's account: the production service and its family as they were.
    (after,) = app_ecs.describe_services(cluster="demo", services=["web"])["services"]
    assert after["taskDefinition"] == production["taskDefinition"]
    assert app_ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"] == app_revisions


def test_the_administrator_reaches_the_dev_account_only_through_its_role(endpoint: str) -> None:
    """Resources are per account: the app account's credentials do not see demo-dev; the
    role's session sees it, and is refused what the role's policy does not allow."""
    from botocore.exceptions import ClientError

    assert aws(endpoint, "ecs").describe_clusters(clusters=["demo-dev"])["clusters"] == []
    dev_ecs = dev_client(endpoint, "ecs", "e2e-reader")

    assert dev_ecs.describe_services(cluster="demo-dev", services=["web"])["services"]
    with pytest.raises(ClientError) as raised:
        dev_ecs.delete_service(cluster="demo-dev", service="web")
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert raised.value.response["Error"]["Message"].startswith(
        f"User: arn:aws:sts::{DEV_ACCOUNT}:assumed-role/bluegreen-deploy/e2e-reader is not "
        "authorized to perform: ecs:DeleteService"
    )
