"""What IAM checks for each call, per the Service Authorization Reference."""

from __future__ import annotations

from bluegreen_cli.local.rights.calls import AwsCall
from bluegreen_cli.local.rights.needs import needs_of

ACCOUNT = "123456789012"


class Account:
    """The emulated account's answers, fixed for these cases."""

    def secret_arn(self, secret_id: str) -> str | None:
        known = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:bluegreen/signing-Ab12Cd"
        return known if secret_id in ("bluegreen/signing", known) else None

    def deployment_group_of(self, deployment_id: str) -> tuple[str, str] | None:
        return ("demo-web", "demo-web") if deployment_id == "d-KNOWN" else None

    def state_machine_of_token(self, task_token: str) -> str | None:
        return None

    def next_task_definition_revision(self, family: str) -> int:
        return 8

    def scalable_target_arn(self, namespace: str, resource_id: str, dimension: str) -> str | None:
        return None

    def verified_identities(self) -> set[str]:
        return {"example.com"}


def needs(
    service: str, operation: str, **params: object
) -> list[tuple[str, str, dict[str, object]]]:
    call = AwsCall("ASIAEXAMPLE", service, operation, dict(params))
    return [(n.action, n.resource, dict(n.context)) for n in needs_of(call, Account())]


def test_register_task_definition_with_tags_also_needs_tag_resource_on_the_new_revision() -> None:
    found = needs("ecs", "RegisterTaskDefinition", family="web", tags=[{"key": "k", "value": "v"}])
    revision = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/web:8"
    assert [(a, r) for a, r, _ in found] == [
        ("ecs:RegisterTaskDefinition", revision),
        ("ecs:TagResource", revision),
    ]
    assert found[1][2]["ecs:CreateAction"] == "RegisterTaskDefinition"
    assert found[1][2]["aws:TagKeys"] == ["k"]


def test_register_task_definition_without_tags_needs_no_tag_resource() -> None:
    assert [a for a, _, _ in needs("ecs", "RegisterTaskDefinition", family="web")] == [
        "ecs:RegisterTaskDefinition"
    ]


def test_a_secret_is_checked_by_its_full_arn_or_by_its_bare_name_when_missing() -> None:
    ((_, known, _),) = needs("secretsmanager", "GetSecretValue", SecretId="bluegreen/signing")
    assert known.endswith(":secret:bluegreen/signing-Ab12Cd")
    ((_, missing, _),) = needs("secretsmanager", "GetSecretValue", SecretId="bluegreen/slack")
    assert missing == f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:bluegreen/slack"


def test_ses_checks_the_identity_that_covers_the_sender_with_its_context() -> None:
    ((action, resource, context),) = needs(
        "ses",
        "SendEmail",
        Source="bluegreen <release@example.com>",
        **{"Destination.ToAddresses.member.1": "approver@example.com"},
    )
    assert action == "ses:SendEmail"
    # The sender's domain is the verified identity here.
    assert resource == f"arn:aws:ses:us-east-1:{ACCOUNT}:identity/example.com"
    assert context == {
        "ses:FromAddress": "release@example.com",
        "ses:Recipients": ["approver@example.com"],
    }


def test_get_deployment_is_checked_against_the_deployment_group() -> None:
    assert needs("codedeploy", "GetDeployment", deploymentId="d-KNOWN") == [
        (
            "codedeploy:GetDeployment",
            f"arn:aws:codedeploy:us-east-1:{ACCOUNT}:deploymentgroup:demo-web/demo-web",
            {},
        )
    ]


def test_an_ssm_parameter_arn_has_one_slash_before_a_hierarchical_name() -> None:
    assert needs("ssm", "GetParameter", Name="/bluegreen/services") == [
        ("ssm:GetParameter", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/bluegreen/services", {})
    ]


def test_a_call_without_a_known_resource_is_checked_on_star() -> None:
    assert needs("ecs", "ListClusters") == [("ecs:ListClusters", "*", {})]
    # sts:GetCallerIdentity needs no permission at all.
    assert needs("sts", "GetCallerIdentity") == []
