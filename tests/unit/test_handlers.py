"""The thin handlers, invoked in-process the way Lambda calls them, on the sample events.

Each ``functions/<dir>/app.py`` is loaded fresh (a cold start) with the environment its
template entry gives it; AWS is moto.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from bluegreen.adapters.autoscaling import ScalableTargets
from bluegreen.adapters.store import StateTable
from bluegreen.domain import approval as rules
from bluegreen.domain.queue import queued_image
from bluegreen.errors import ConfigurationInvalid, ServiceLocked
from bluegreen.models import DeploymentState
from bluegreen.steps.scaling import suspend
from bluegreen_cli.local.outbox import links_in

from tests.unit.builders import (
    NOW,
    SERVICES_FILE,
    SIGNING_KEY,
    ApprovalMachine,
    Aws,
    SlackServer,
    create_deployment_group,
    create_ecs_service,
    create_pass_machine,
    create_state_table,
    demo_service,
    ecr_digest,
    event,
    mail_parts,
    push_image,
    register_scalable_target,
    rendered,
    sent_emails,
    slack_server,
    suspended_state,
)
from tests.unit.conftest import LambdaContext

Loader = Callable[[str], ModuleType]
# Handlers that add no metric of their own (RequestApproval) make Powertools say so.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
SERVICE = demo_service()
SERVICES_PARAMETER = "/bluegreen/services"


def emitted_metrics(output: str) -> dict[str, Any]:
    """Metric name -> value, from the EMF documents Powertools printed."""
    found: dict[str, Any] = {}
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            assert directive["Namespace"] == "bluegreen"
            for metric in directive["Metrics"]:
                found[metric["Name"]] = document[metric["Name"]]
    return found


# --- trigger ------------------------------------------------------------------------------


@pytest.fixture
def trigger(aws: Aws, monkeypatch: pytest.MonkeyPatch, load_handler: Loader) -> ModuleType:
    machine = create_pass_machine(aws.client("stepfunctions"))
    monkeypatch.setenv("STATE_MACHINE_ARN", machine)
    monkeypatch.setenv("SERVICES_PARAMETER_NAME", SERVICES_PARAMETER)
    put_services(aws, SERVICES_FILE.read_text())
    push_image(aws.client("ecr"), tag=event("ecr-push.json")["detail"]["image-tag"])
    return load_handler("trigger")


def ecr_push() -> dict[str, Any]:
    """The sample push event, naming the image the ``trigger`` fixture pushed."""
    pushed = event("ecr-push.json")
    pushed["detail"]["image-digest"] = ecr_digest()
    return pushed


def use_slack(aws: Aws, monkeypatch: pytest.MonkeyPatch, slack: SlackServer) -> None:
    """The installation's Slack app: its secrets, and the (local) workspace's Web API."""
    sm = aws.client("secretsmanager")
    sm.create_secret(Name="bluegreen/slack-bot-token", SecretString=slack.workspace.token)
    sm.create_secret(
        Name="bluegreen/slack-signing-secret", SecretString=slack.workspace.signing_secret
    )
    monkeypatch.setenv("SLACK_BOT_TOKEN_SECRET_NAME", "bluegreen/slack-bot-token")
    monkeypatch.setenv("SLACK_SIGNING_SECRET_NAME", "bluegreen/slack-signing-secret")
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)


def put_services(aws: Aws, text: str, kind: str = "String") -> None:
    aws.client("ssm").put_parameter(Name=SERVICES_PARAMETER, Value=text, Type=kind, Overwrite=True)


def executions(aws: Aws) -> list[dict[str, Any]]:
    sfn = aws.client("stepfunctions")
    (machine,) = sfn.list_state_machines()["stateMachines"]
    listed: list[dict[str, Any]] = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])[
        "executions"
    ]
    return listed


def test_the_sample_push_starts_one_deployment(
    aws: Aws,
    trigger: ModuleType,
    lambda_context: LambdaContext,
    capsys: pytest.CaptureFixture[str],
) -> None:
    push = ecr_push()

    result = trigger.lambda_handler(push, lambda_context)

    assert result["outcome"] == "started"
    (execution,) = executions(aws)
    assert execution["name"] == result["execution_name"]
    document = aws.client("stepfunctions").describe_execution(
        executionArn=execution["executionArn"]
    )["input"]
    deployment = DeploymentState.model_validate(json.loads(document))
    assert deployment.image.digest == push["detail"]["image-digest"]
    assert deployment.image.tag == push["detail"]["image-tag"]
    assert deployment.image.registry_id == push["account"]
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["PushStarted"] == [1.0]
    assert "ColdStart" in metrics


def test_the_same_sample_event_delivered_twice_starts_nothing_new(
    aws: Aws, trigger: ModuleType, lambda_context: LambdaContext
) -> None:
    first = trigger.lambda_handler(ecr_push(), lambda_context)
    again = trigger.lambda_handler(ecr_push(), LambdaContext())

    assert again["outcome"] == "duplicate"
    assert again["execution_arn"] == first["execution_arn"]
    assert len(executions(aws)) == 1


def test_a_push_of_latest_is_refused_starts_nothing_and_is_told_once(
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    trigger: ModuleType,
    lambda_context: LambdaContext,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ddb = aws.client("dynamodb")
    table = StateTable(ddb, create_state_table(ddb))
    monkeypatch.setenv("TABLE_NAME", "bluegreen-state")
    topic = aws.client("sns").create_topic(Name="bluegreen-notifications")["TopicArn"]
    monkeypatch.setenv("TOPIC_ARN", topic)
    push = ecr_push()
    push["detail"]["image-tag"] = "latest"

    with slack_server() as slack:
        use_slack(aws, monkeypatch, slack)
        result = trigger.lambda_handler(push, lambda_context)
        again = trigger.lambda_handler(push, LambdaContext())  # EventBridge delivered it twice

    assert result["outcome"] == again["outcome"] == "refused"
    assert "mutable" in result["reason"]
    assert (result["announced"], again["announced"]) == (True, False)
    assert executions(aws) == []
    (entry,) = table.history(SERVICE.lock_key)
    assert (entry["outcome"], entry["tag"]) == ("refused", "latest")
    (posted,) = slack.sent("chat.postMessage")
    assert posted["to"] == "C0DEPLOYS"
    assert "demo-web push refused: demo-web:latest" in posted["text"]
    assert "PushRefused" in emitted_metrics(capsys.readouterr().out)


def test_a_push_to_an_unconfigured_repository_is_ignored(
    aws: Aws, trigger: ModuleType, lambda_context: LambdaContext
) -> None:
    push = ecr_push()
    push["detail"]["repository-name"] = "billing"

    assert trigger.lambda_handler(push, lambda_context)["outcome"] == "ignored"
    assert executions(aws) == []


def test_an_event_that_is_not_eventbridge_is_rejected(
    trigger: ModuleType, lambda_context: LambdaContext
) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        trigger.lambda_handler({"detail": ecr_push()["detail"]}, lambda_context)


def test_an_invalid_configuration_fails_the_push_naming_the_field_until_it_is_fixed(
    aws: Aws, trigger: ModuleType, lambda_context: LambdaContext
) -> None:
    broken = SERVICES_FILE.read_text().replace(
        "probe_interval_seconds = 1", "probe_interval_seconds = 0"
    )
    put_services(aws, broken)

    with pytest.raises(ConfigurationInvalid) as raised:
        trigger.lambda_handler(ecr_push(), lambda_context)

    assert str(raised.value).startswith(f"SSM parameter {SERVICES_PARAMETER}: ")
    assert "services.demo-web.timings.probe_interval_seconds: " in str(raised.value)
    assert executions(aws) == []
    # A failed read is not kept: the same warm function reads the fixed parameter.
    put_services(aws, SERVICES_FILE.read_text())
    assert trigger.lambda_handler(ecr_push(), lambda_context)["outcome"] == "started"


def test_a_missing_configuration_parameter_is_named(
    aws: Aws, trigger: ModuleType, lambda_context: LambdaContext
) -> None:
    aws.client("ssm").delete_parameter(Name=SERVICES_PARAMETER)

    with pytest.raises(ConfigurationInvalid, match=f"{SERVICES_PARAMETER}: does not exist"):
        trigger.lambda_handler(ecr_push(), lambda_context)


def test_a_secure_string_configuration_is_refused_not_parsed_as_ciphertext(
    aws: Aws, trigger: ModuleType, lambda_context: LambdaContext
) -> None:
    put_services(aws, SERVICES_FILE.read_text(), kind="SecureString")

    with pytest.raises(ConfigurationInvalid, match=r"is a SecureString; store .* as a String"):
        trigger.lambda_handler(ecr_push(), lambda_context)


# --- request approval and the approval API ------------------------------------------------


@dataclass
class Approvals:
    aws: Aws
    machine: ApprovalMachine
    table: StateTable
    api: ModuleType
    context: LambdaContext
    execution: str = ""
    token: str = ""

    def request(self, request_handler: ModuleType) -> str:
        """Run RequestApproval for a waiting execution; the link mailed to the approver."""
        deployment = rendered()
        self.execution, self.token = self.machine.start(deployment.dump())
        self.table.admit(deployment.service.lock_key, queued_image(deployment))  # as Admit did
        answer = request_handler.lambda_handler(
            {"state": deployment.dump(), "task_token": self.token}, self.context
        )
        (mail,) = sent_emails()
        to, text, html_part = mail_parts(mail)
        assert to == ["approver@example.com"]
        assert self.token not in text + (html_part or "")
        (link,) = [w for w in text.split() if "/approvals/" in w]
        assert f"/approvals/{answer['approval_id']}?" in link
        return str(link)

    def call(self, method: str, link: str, form: dict[str, str] | None = None) -> dict[str, Any]:
        split = urlsplit(link)
        request = event("approval-get.json" if method == "GET" else "approval-post.json")
        approval_id = split.path.rsplit("/", 1)[-1]
        request["rawPath"] = request["requestContext"]["http"]["path"] = split.path
        request["pathParameters"] = {"approval_id": approval_id}
        request["rawQueryString"] = split.query
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        if query:
            request["queryStringParameters"] = query
        else:
            request.pop("queryStringParameters", None)
        if form is not None:
            request["body"] = base64.b64encode(urlencode(form).encode()).decode()
        response: dict[str, Any] = self.api.lambda_handler(request, self.context)
        return response


@pytest.fixture
def approvals(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, load_handler: Loader, lambda_context: LambdaContext
) -> Approvals:
    ddb = aws.client("dynamodb")
    table = create_state_table(ddb)
    key = aws.client("secretsmanager").create_secret(
        Name="bluegreen/approval-signing", SecretString=SIGNING_KEY.decode()
    )["ARN"]
    aws.client("ses").verify_email_identity(EmailAddress="bluegreen@example.com")
    monkeypatch.setenv("TABLE_NAME", table)
    monkeypatch.setenv("SIGNING_SECRET_ARN", key)
    monkeypatch.setenv(
        "APPROVAL_BASE_URL", "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
    )
    monkeypatch.setenv("SENDER_EMAIL", "bluegreen@example.com")
    monkeypatch.setenv("SLACK_BOT_TOKEN_SECRET_NAME", "bluegreen/slack-bot-token")  # not created
    return Approvals(
        aws=aws,
        machine=ApprovalMachine.create(aws.client("stepfunctions"), aws.client("sqs")),
        table=StateTable(ddb, table),
        api=load_handler("approval_api"),
        context=lambda_context,
    )


@pytest.fixture
def link(approvals: Approvals, load_handler: Loader) -> str:
    return approvals.request(load_handler("request_approval"))


NONCE = re.compile(r'<input type="hidden" name="nonce" value="([^"]+)">')


def page_nonce(response: dict[str, Any]) -> str:
    found = NONCE.search(response["body"])
    assert found, response["body"]
    return found.group(1)


def assert_html_page(response: dict[str, Any], status: int) -> str:
    assert response["statusCode"] == status, response["body"]
    headers = {k.lower(): v for k, v in response["headers"].items()}
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer"
    body: str = response["body"]
    assert body.startswith("<!doctype html>")
    return body


def test_get_shows_the_request_with_a_one_time_form(approvals: Approvals, link: str) -> None:
    response = approvals.call("GET", link)

    body = assert_html_page(response, 200)
    assert '<form method="post"' in body
    split = urlsplit(link)
    assert f'action="{html.escape(split.path + "?" + split.query)}"' in body
    assert page_nonce(response)
    assert 'value="approve"' in body
    assert 'value="reject"' in body
    deployment = rendered()
    assert html.escape(deployment.image.pinned) in body
    assert deployment.render.task_definition in body  # type: ignore[union-attr]
    assert approvals.token not in body
    approval_id = split.path.rsplit("/", 1)[-1]
    assert approvals.table.get_approval(approval_id).status == "pending"
    assert approvals.machine.status(approvals.execution) == "RUNNING"


def test_post_approve_returns_200_and_the_execution_moves_on(
    approvals: Approvals, link: str, capsys: pytest.CaptureFixture[str]
) -> None:
    nonce = page_nonce(approvals.call("GET", link))

    response = approvals.call("POST", link, {"nonce": nonce, "decision": "approve"})

    body = assert_html_page(response, 200)
    assert f"<h1>Approved: demo-web {rendered().image.tag} (local)</h1>" in body
    assert "approved; the deployment starts now." in body  # nothing deploys before it
    described = approvals.machine.finished(approvals.execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["approval"]["approver"] == "approver@example.com"
    assert "ApprovalApproved" in emitted_metrics(capsys.readouterr().out)


def test_an_approval_behind_another_deployment_says_it_deploys_after_that_one(
    approvals: Approvals, link: str
) -> None:
    # Another execution took the lock while ours waited for its approval.
    approvals.table.acquire_lock(rendered().service.lock_key, "demo-web-older", NOW)
    nonce = page_nonce(approvals.call("GET", link))

    response = approvals.call("POST", link, {"nonce": nonce, "decision": "approve"})

    body = assert_html_page(response, 200)
    assert "approved; it deploys after demo-web-older finishes." in body


def test_post_reject_fails_the_execution_as_rejected(approvals: Approvals, link: str) -> None:
    nonce = page_nonce(approvals.call("GET", link))

    response = approvals.call("POST", link, {"nonce": nonce, "decision": "reject"})

    assert "<h1>Rejected: demo-web " in assert_html_page(response, 200)
    described = approvals.machine.finished(approvals.execution)
    assert described["status"] == "FAILED"
    assert described["error"] == "ApprovalRejected"


def test_a_replayed_post_is_a_409_page(approvals: Approvals, link: str) -> None:
    form = {"nonce": page_nonce(approvals.call("GET", link)), "decision": "approve"}
    approvals.call("POST", link, form)

    body = assert_html_page(approvals.call("POST", link, form), 409)

    assert "Already used" in body
    assert "already used or has expired" not in body  # the exception's own text
    assert "ApprovalAlreadyDecided" not in body


@pytest.mark.parametrize("signature", ["A" * 43, "%C3%A9" * 43], ids=["ascii", "non-ascii"])
def test_a_forged_link_is_a_403_page_without_the_reason(
    approvals: Approvals, link: str, signature: str
) -> None:
    forged = re.sub(r"sig=[^&]+", "sig=" + signature, link)

    body = assert_html_page(approvals.call("GET", forged), 403)

    assert "This approval link is not valid." in body
    assert "signature does not match" not in body
    assert "ApprovalLinkInvalid" not in body


def test_an_expired_link_is_a_410_page(approvals: Approvals, link: str) -> None:
    approval_id = urlsplit(link).path.rsplit("/", 1)[-1]
    record = approvals.table.get_approval(approval_id)
    # The handler reads the real clock: the link lapsed a minute before it.
    lapsed = record.model_copy(update={"expires_at": datetime.now(UTC) - timedelta(minutes=1)})
    expired_link = rules.link("https://x", SIGNING_KEY, lapsed, "approver@example.com")

    body = assert_html_page(approvals.call("GET", expired_link), 410)

    assert "expired; nothing was changed" in body
    assert approvals.machine.status(approvals.execution) == "RUNNING"


def test_a_well_signed_link_to_no_request_is_a_404_page(approvals: Approvals, link: str) -> None:
    approval_id = urlsplit(link).path.rsplit("/", 1)[-1]
    record = approvals.table.get_approval(approval_id)
    ghost = record.model_copy(update={"approval_id": "no-such-approval"})
    ghost_link = rules.link("https://x", SIGNING_KEY, ghost, "approver@example.com")

    body = assert_html_page(approvals.call("GET", ghost_link), 404)

    assert "There is no such approval request." in body


def test_a_link_without_its_signature_is_a_400_page(approvals: Approvals, link: str) -> None:
    bare = link.split("?", 1)[0]

    body = assert_html_page(approvals.call("GET", bare), 400)

    assert "The link or form is incomplete." in body
    assert "validation error" not in body.lower()


@pytest.mark.parametrize(
    "form", [{"decision": "approve"}, {"nonce": "x", "decision": "yes"}, {}], ids=str
)
def test_a_post_without_nonce_or_decision_is_a_400_page(
    approvals: Approvals, link: str, form: dict[str, str]
) -> None:
    body = assert_html_page(approvals.call("POST", link, form), 400)

    assert "Choose approve or reject." in body
    assert approvals.machine.status(approvals.execution) == "RUNNING"


def test_an_internal_failure_is_a_500_page_without_details(
    approvals: Approvals, link: str, monkeypatch: pytest.MonkeyPatch, load_handler: Loader
) -> None:
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    approvals.api = load_handler("approval_api")  # a cold start with the broken setting

    body = assert_html_page(approvals.call("GET", link), 500)

    assert "Something went wrong" in body
    assert "ResourceNotFound" not in body
    assert "no-such-table" not in body
    assert "Traceback" not in body


# --- step handlers ------------------------------------------------------------------------


def test_a_step_handler_returns_the_whole_state_with_its_section(
    aws: Aws, load_handler: Loader, lambda_context: LambdaContext
) -> None:
    create_ecs_service(aws.client("ecs"), SERVICE)
    document = rendered().model_copy(update={"render": None}).dump()

    answer = load_handler("render").lambda_handler(document, lambda_context)

    rendered_state = DeploymentState.model_validate(answer)
    assert rendered_state.render is not None
    assert rendered_state.render.task_definition.endswith(":task-definition/web:2")
    assert {k: v for k, v in answer.items() if k != "render"} == document


def test_a_step_handler_raises_the_domain_error_the_state_machine_catches(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, load_handler: Loader, lambda_context: LambdaContext
) -> None:
    create_ecs_service(aws.client("ecs"), SERVICE)
    ddb = aws.client("dynamodb")
    table = StateTable(ddb, create_state_table(ddb))
    table.acquire_lock(SERVICE.lock_key, "another-execution", NOW)
    monkeypatch.setenv("TABLE_NAME", "bluegreen-state")

    with pytest.raises(ServiceLocked) as raised:
        load_handler("suspend_scaling").lambda_handler(rendered().dump(), lambda_context)

    assert type(raised.value).__name__ == "ServiceLocked"  # the Lambda errorType


def test_the_janitor_cleans_up_after_the_sample_aborted_execution(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, load_handler: Loader, lambda_context: LambdaContext
) -> None:
    aborted = event("janitor-execution-aborted.json")
    deployment = DeploymentState.model_validate(json.loads(aborted["detail"]["input"]))
    create_ecs_service(aws.client("ecs"), deployment.service)
    create_deployment_group(aws.client("codedeploy"), deployment.service)
    aas = aws.client("application-autoscaling")
    partly = {
        "DynamicScalingInSuspended": False,
        "DynamicScalingOutSuspended": True,
        "ScheduledScalingSuspended": False,
    }
    register_scalable_target(aas, deployment.service, partly)
    ddb = aws.client("dynamodb")
    table = StateTable(ddb, create_state_table(ddb))
    suspend(deployment, ScalableTargets(aas), table, NOW)  # what the execution did before
    monkeypatch.setenv("TABLE_NAME", "bluegreen-state")

    answer = load_handler("janitor").lambda_handler(aborted, lambda_context)

    assert answer["execution_name"] == aborted["detail"]["name"]
    assert "lock of demo/web released" in answer["actions"]
    assert suspended_state(aas, deployment.service) == partly
    assert table.lock(deployment.service.lock_key) is None


def test_request_approval_also_posts_to_slack_with_buttons_and_a_view_only_link(
    approvals: Approvals, load_handler: Loader, monkeypatch: pytest.MonkeyPatch
) -> None:
    with slack_server() as slack:
        use_slack(approvals.aws, monkeypatch, slack)
        approvals.request(load_handler("request_approval"))

    (posted,) = slack.sent("chat.postMessage")
    assert posted["to"] == "C0DEPLOYS"
    assert approvals.token not in json.dumps(posted)
    (actions,) = [b for b in posted["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == ["approve", "reject"]
    assert all("url" not in e for e in actions["elements"])  # buttons decide, links do not
    (details,) = links_in(posted["blocks"])
    body = assert_html_page(approvals.call("GET", details), 200)
    assert 'name="nonce"' not in body
    assert "only shows the request" in body
    assert "Signed in as" not in body


def test_notify_records_the_outcome_and_hands_the_state_back(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, load_handler: Loader, lambda_context: LambdaContext
) -> None:
    ddb = aws.client("dynamodb")
    table = StateTable(ddb, create_state_table(ddb))
    topic = aws.client("sns").create_topic(Name="bluegreen-notifications")["TopicArn"]
    monkeypatch.setenv("TABLE_NAME", "bluegreen-state")
    monkeypatch.setenv("TOPIC_ARN", topic)
    monkeypatch.setenv("SLACK_BOT_TOKEN_SECRET_NAME", "bluegreen/slack-bot-token")  # not created
    monkeypatch.setenv("SENDER_EMAIL", "bluegreen@example.com")
    document = rendered().dump()

    answer = load_handler("notify").lambda_handler(document, lambda_context)

    assert answer == document
    (entry,) = table.history(SERVICE.lock_key)
    assert entry["outcome"] == "succeeded"
