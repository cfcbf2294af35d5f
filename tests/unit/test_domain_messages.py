"""What approvers and operators read: the approval request and the outcome."""

from __future__ import annotations

import html
import json
from typing import Any

import pytest
from bluegreen.domain import approval as rules
from bluegreen.domain.approval import ApprovalRecord
from bluegreen.domain.messages import (
    approval_email,
    failure_of,
    outcome_of,
    outcome_slack,
    outcome_text,
    refusal_text,
)
from bluegreen.domain.refusal import Refusal
from bluegreen.models import (
    ApprovalDecision,
    DeploymentProgress,
    DeploymentState,
    RollbackResult,
    RolloutProgress,
    RolloutRollback,
    ScalingSnapshot,
    StepError,
)

from tests.unit.builders import COMMIT, NOW, PREVIOUS_IMAGE, demo_service, push, rendered

LINK = "https://approvals.example.com/approvals/appr-9?r=YQ&exp=1772447400&sig=c2ln"
TOKEN = "task-token-from-step-functions"


def a_record(**changes: Any) -> ApprovalRecord:
    record = rules.record_for(rendered(), "appr-9", TOKEN, NOW)
    return record.model_copy(update=changes)


def test_the_approval_email_says_what_changes_and_carries_the_link_in_both_parts() -> None:
    record = a_record()
    email = approval_email(record, "approver@example.com", LINK, NOW)

    assert email.to == ["approver@example.com"]
    assert email.subject == f"[bluegreen] Approve demo-web {COMMIT} to local?"
    assert email.html is not None
    for fact in (
        "demo/web",
        record.new_image,
        PREVIOUS_IMAGE,
        record.previous_task_definition,
        record.task_definition,
        "containerDefinitions[web].image",
        "2026-03-02 10:30 UTC (in 1 hour)",  # expiry: an hour after the request
        "ECR push",
        "sent to approver@example.com",
    ):
        assert fact in email.text, fact
        assert fact in email.html, fact
    assert LINK in email.text
    assert f'href="{html.escape(LINK)}"' in email.html  # behind a button, not spelled out
    assert LINK not in email.html.replace(f'href="{html.escape(LINK)}"', "")
    assert TOKEN not in email.text + email.html


def test_the_approval_email_says_so_when_the_running_image_is_unknown() -> None:
    text = approval_email(
        a_record(previous_image=None, changes=[]), "a@example.com", LINK, NOW
    ).text

    assert "Production runs:  (unknown)" in text
    assert "Changes:\n  (none besides the revision number)" in text


def test_the_approval_email_html_escapes_every_value() -> None:
    hostile = a_record(pushed_by='<script>alert("x")</script>', revision="<b>3f2c</b>")

    email = approval_email(hostile, "a@example.com", LINK, NOW)

    assert email.html is not None
    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html
    assert "<b>3f2c</b>" not in email.html
    assert '<script>alert("x")</script>' in email.text  # plain text is shown as is


def test_the_review_page_says_what_approving_lets_each_method_do() -> None:
    """An approver of a rolling environment is not promised a test listener."""
    from bluegreen.pages import review_page
    from bluegreen.steps.approval import Review

    bluegreen = a_record()
    rolling = rules.record_for(
        rendered().model_copy(update={"service": demo_service(method="rolling")}), "a", TOKEN, NOW
    )

    def page(record: ApprovalRecord) -> str:
        return " ".join(review_page(Review(record, "a@example.com", "n"), "/x", NOW).split())

    assert rolling.method == "rolling"
    assert "ECS replaces the service's tasks with the new version (a rolling update)" in page(
        rolling
    )
    assert "test listener" not in page(rolling)
    assert "verified through the test listener" in page(bluegreen)


# --- outcomes -----------------------------------------------------------------------------

SCALING = ScalingSnapshot(resource_id="service/demo/web", registered=True, suspended_at=NOW)
APPROVED = ApprovalDecision(decision="approved", approver="approver@example.com", decided_at=NOW)


def finished(**sections: Any) -> DeploymentState:
    return rendered().model_copy(update=sections)


@pytest.mark.parametrize(
    ("deployment", "outcome"),
    [
        (finished(approval=APPROVED, scaling=SCALING), "succeeded"),
        (
            finished(error=StepError(Error="ApprovalRejected", Cause="rejected by a")),
            "not_deployed",
        ),
        (finished(scaling=SCALING, error=StepError(Error="TestTrafficUnhealthy")), "rolled_back"),
        (
            finished(
                scaling=SCALING,
                error=StepError(Error="DeploymentFailed"),
                cleanup_error=StepError(Error="AwsThrottled"),
            ),
            "needs_attention",
        ),
        (finished(cleanup_error=StepError(Error="States.TaskFailed")), "needs_attention"),
    ],
)
def test_the_outcome_follows_from_what_the_execution_went_through(
    deployment: DeploymentState, outcome: str
) -> None:
    assert outcome_of(deployment) == outcome


def test_a_successful_outcome_names_the_image_and_who_approved() -> None:
    deployment = finished(approval=APPROVED, scaling=SCALING)
    subject, body = outcome_text(deployment)

    assert subject == f"[bluegreen] demo-web {COMMIT} deployed (local)"
    assert f"Image: {deployment.image.pinned}" in body
    assert f"Execution: {deployment.execution_name}" in body
    assert "Approved by: approver@example.com" in body
    assert "Reason" not in body


def test_a_rolled_back_outcome_gives_the_reason_and_the_rollback() -> None:
    deployment = finished(
        scaling=SCALING,
        error=StepError(Error="TestTrafficUnhealthy", Cause="8 checks, last: 503"),
        rollback=RollbackResult(deployment_stopped=True, detail="d-1 stopped", rolled_back_at=NOW),
    )
    subject, body = outcome_text(deployment)

    assert "rolled back" in subject
    assert "Reason: TestTrafficUnhealthy: 8 checks, last: 503" in body
    assert "Rollback: d-1 stopped" in body


ROLLING = demo_service(method="rolling", approvers=[])
ROLLED_OUT = RolloutProgress(
    deployment_id="ecs-svc/7",
    task_definition="arn:aws:ecs:us-east-1:123456789012:task-definition/web:2",
    previous_task_definition="arn:aws:ecs:us-east-1:123456789012:task-definition/web:1",
    rollout_state="COMPLETED",
    desired_count=1,
    running_count=1,
    completed=True,
)
BREAKER = "ECS deployment circuit breaker: tasks failed to start."


def rolling(**sections: Any) -> DeploymentState:
    return rendered().model_copy(update={"service": ROLLING, **sections})


def test_a_rolling_deployment_reads_as_ecs_s_rolling_update() -> None:
    """A rolling environment has no CodeDeploy and no test listener: the outcome says what
    ECS did, and asks nobody's approval."""
    deployment = rolling(rollout=ROLLED_OUT)

    subject, body = outcome_text(deployment)

    assert outcome_of(deployment) == "succeeded"
    assert subject == f"[bluegreen] demo-web {COMMIT} deployed (local)"
    assert (
        "Deployed by: ECS rolling update (ECS deployment ecs-svc/7 COMPLETED, 1 of 1 tasks running)"
    ) in body
    assert "Approved by" not in body
    for absent in ("CodeDeploy", "test listener", "scaling"):
        assert absent not in body


def test_a_rolling_deployment_ecs_rolled_back_gives_ecs_reason() -> None:
    failed = ROLLED_OUT.model_copy(
        update={
            "rollout_state": "FAILED",
            "reason": BREAKER,
            "running_count": 0,
            "failed_tasks": 3,
            "completed": False,
            "rollback": RolloutRollback(
                by="ecs",
                detail="ECS's deployment circuit breaker rolled the service back to web:1",
                started_at=NOW,
                finished=True,
            ),
        }
    )
    cause = json.dumps({"errorMessage": f"ECS deployment ecs-svc/7 failed: {BREAKER}"})
    deployment = rolling(rollout=failed, error=StepError(Error="RolloutFailed", Cause=cause))

    subject, body = outcome_text(deployment)

    assert outcome_of(deployment) == "rolled_back"
    assert "rolled back" in subject
    assert f"Reason: RolloutFailed: ECS deployment ecs-svc/7 failed: {BREAKER}" in body
    assert "0 of 1 tasks running, 3 failed to start" in body
    assert "Rollback: ECS's deployment circuit breaker rolled the service back to web:1" in body
    failure = failure_of(deployment)
    assert failure is not None
    assert failure.cause.endswith(BREAKER)


def test_a_rolling_deployment_that_never_started_was_not_deployed() -> None:
    nothing = RolloutProgress(
        task_definition="web:2",
        previous_task_definition="web:1",
        rollback=RolloutRollback(by="nobody", detail="nothing to roll back", started_at=NOW),
    )

    assert outcome_of(rolling(rollout=nothing, error=StepError(Error="ResourceMissing"))) == (
        "not_deployed"
    )


def test_a_reason_without_a_cause_has_no_dangling_separator() -> None:
    _, body = outcome_text(finished(error=StepError(Error="ApprovalExpired")))

    assert body.splitlines()[-1] == "Reason: ApprovalExpired: no cause was given"


def test_a_failed_cleanup_needs_attention_and_says_why() -> None:
    deployment = finished(
        scaling=SCALING,
        error=StepError(Error="DeploymentFailed"),
        cleanup_error=StepError(Error="AwsThrottled", Cause="Rate exceeded"),
    )
    subject, body = outcome_text(deployment)

    assert "NEEDS ATTENTION" in subject
    assert "Reason: AwsThrottled: Rate exceeded" in body


LEFT_LIVE = RollbackResult(
    deployment_stopped=False,
    detail="not rolled back: deployment d-1 is InProgress with production traffic on the new "
    "version; CodeDeploy has yet to report Succeeded",
    rolled_back_at=NOW,
    finished=True,
    release_live=True,
)
POLL_FAILED = StepError(Error="Lambda.Unknown", Cause='{"errorMessage": "Task timed out"}')


def test_a_live_release_whose_end_was_not_seen_needs_attention_and_says_it_is_live() -> None:
    shifted = DeploymentProgress(deployment_id="d-1", status="InProgress", traffic_shifted=True)
    deployment = finished(
        scaling=SCALING, deployment=shifted, error=POLL_FAILED, rollback=LEFT_LIVE
    )

    assert outcome_of(deployment) == "needs_attention"
    failure = failure_of(deployment)
    assert failure is not None
    assert failure.error == "ReleaseLiveUnconfirmed"
    assert failure.cause == (
        f"{LEFT_LIVE.detail}; watching it failed: Lambda.Unknown: Task timed out"
    )


def test_a_release_codedeploy_reports_succeeded_is_deployed_whatever_failed_of_ours() -> None:
    done = DeploymentProgress(deployment_id="d-1", status="Succeeded", succeeded=True)
    deployment = finished(scaling=SCALING, deployment=done, error=POLL_FAILED, rollback=LEFT_LIVE)

    assert outcome_of(deployment) == "succeeded"
    assert failure_of(deployment) is None


@pytest.mark.parametrize(
    ("deployment", "icon"),
    [
        (finished(approval=APPROVED), ":white_check_mark:"),
        (finished(scaling=SCALING, error=StepError(Error="DeploymentFailed")), ":rewind:"),
        (finished(error=StepError(Error="ApprovalRejected")), ":no_entry:"),
    ],
)
def test_the_outcome_in_slack_leads_with_an_icon_and_the_subject(
    deployment: DeploymentState, icon: str
) -> None:
    payload = outcome_slack(deployment)
    subject, body = outcome_text(deployment)

    assert payload["text"] == subject
    assert payload["blocks"][0]["text"]["text"] == f"{icon} *{subject}*"
    assert body in payload["blocks"][1]["text"]["text"]


def test_a_refusal_says_what_was_pushed_why_nothing_ran_and_bounds_what_it_quotes() -> None:
    """A refused push's values come from the event: what is quoted of them is bounded."""
    long_tag = "x" * 5000
    refusal = Refusal.of_push(
        demo_service(), push(tag=long_tag), f"tag {long_tag!r} is not allowed", NOW
    )

    subject, body = refusal_text(refusal)

    assert subject.startswith("[bluegreen] demo-web push refused: demo-web:xxx")
    assert body.startswith(f"Nothing was deployed: the push of demo-web:{'x' * 300} was refused.")
    assert len(body) < 2000
    assert len(refusal.summary()["tag"]) == 300
