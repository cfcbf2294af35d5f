"""A right the flow needs, removed from a copy of template.yaml, fails where AWS would fail.

The local stack authorizes each function's calls against its own role, so a template that
would fail on AWS fails locally too, at the same step, with AWS's AccessDenied, and the
flow's own failure handling leaves the service as it was.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support import (
    approval_link,
    approve,
    executions_for,
    finished,
    history,
    http,
    production_image,
    push,
    scaling_suspended,
    serve,
    wait,
)
from tests.project_copy import copy_project

pytestmark = pytest.mark.e2e

GRANT = "                - codedeploy:CreateDeployment\n"


def test_a_missing_right_fails_its_step_with_access_denied_and_restores_the_service(
    tmp_path: Path,
) -> None:
    project = copy_project(tmp_path, GRANT, "")
    with serve("--project", str(project)) as endpoint:
        image_before, scaling_before = production_image(endpoint), scaling_suspended(endpoint)
        tag = secrets.token_hex(20)
        push(endpoint, tag)
        link = wait(lambda: approval_link(endpoint, tag), 60, "the approval email")
        assert approve(link) == 200
        (execution,) = executions_for(endpoint, tag)

        final = finished(endpoint, execution["executionArn"])

        # A step's failure: TaskFailed (the lambda:invoke integration) or LambdaFunctionFailed.
        failures = [
            e.get("taskFailedEventDetails") or e["lambdaFunctionFailedEventDetails"]
            for e in history(endpoint, execution["executionArn"])
            if {"taskFailedEventDetails", "lambdaFunctionFailedEventDetails"} & set(e)
        ]
        assert failures, "a step failed"
        cause = failures[0]["cause"]
        assert "AccessDeniedException" in cause
        assert "is not authorized to perform: codedeploy:CreateDeployment" in cause
        assert "assumed-role/bluegreen-CreateDeploymentFunctionRole/" in cause
        assert final["status"] == "FAILED"
        # The failure came after scaling was suspended: the flow restored it exactly.
        assert production_image(endpoint) == image_before
        assert scaling_suspended(endpoint) == scaling_before
        stats = wait(lambda: _denials(endpoint), 10, "the denial in /_local/stats")
        assert stats["denials"] == {"CreateDeploymentFunction codedeploy:CreateDeployment": 1}


def _denials(endpoint: str) -> dict[str, Any] | None:
    rights = json.loads(http(f"{endpoint}/_local/stats")[1])["rights"]
    return rights if rights.get("denied") else None
