"""ECR, Application Auto Scaling and SES through the local stack, where moto alone differs
from AWS: each test names the AWS behaviour it reproduces."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from bluegreen_cli.local.sample import image_manifest
from bluegreen_cli.local.server import LocalStack
from botocore.exceptions import ClientError

from tests.unit.local.localstack_support import get_json, write_project

ACCOUNT = "123456789012"
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
FLAGS = ("DynamicScalingInSuspended", "DynamicScalingOutSuspended", "ScheduledScalingSuspended")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    root = write_project(tmp_path_factory.mktemp("mini"))
    with LocalStack(port=0, project_root=root) as running:
        yield running


def refusal(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as refused:
        call()
    error: dict[str, Any] = refused.value.response["Error"]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error


# -- ECR -----------------------------------------------------------------------------------


def test_ecr_image_digest_is_the_sha256_of_the_manifest_as_pushed(stack: LocalStack) -> None:
    """ECR PutImage: imageDigest is sha256 over the manifest's bytes, so the same layers in
    another manifest (here only formatted differently) are another image."""
    ecr = stack.client("ecr")
    ecr.create_repository(repositoryName="digests")
    compact = image_manifest("digests:1")
    spaced = json.dumps(json.loads(compact), indent=2)

    digests = [
        ecr.put_image(repositoryName="digests", imageManifest=manifest, imageTag=tag)["image"][
            "imageId"
        ]["imageDigest"]
        for manifest, tag in ((compact, "one"), (spaced, "two"))
    ]

    assert digests == [
        "sha256:" + hashlib.sha256(compact.encode()).hexdigest(),
        "sha256:" + hashlib.sha256(spaced.encode()).hexdigest(),
    ]
    (found,) = ecr.batch_get_image(
        repositoryName="digests", imageIds=[{"imageDigest": digests[0]}]
    )["images"]
    assert found["imageManifest"] == compact
    assert found["imageId"]["imageTag"] == "one"


def test_ecr_push_to_a_missing_repository_is_repository_not_found(stack: LocalStack) -> None:
    """ECR PutImage: RepositoryNotFoundException, with ECR's message, not a server error."""
    ecr = stack.client("ecr")

    error = refusal(
        lambda: ecr.put_image(
            repositoryName="nowhere", imageManifest=image_manifest("x"), imageTag="t"
        )
    )

    assert error["Code"] == "RepositoryNotFoundException"
    assert error["Message"] == (
        f"The repository with name 'nowhere' does not exist in the registry with id '{ACCOUNT}'"
    )


def test_ecr_refuses_a_manifest_that_is_not_json_or_a_wrong_digest(stack: LocalStack) -> None:
    """ECR PutImage: InvalidParameterException for a manifest that is not JSON, and
    ImageDigestDoesNotMatchException when the named digest is not the manifest's."""
    ecr = stack.client("ecr")
    ecr.create_repository(repositoryName="strict")

    not_json = refusal(
        lambda: ecr.put_image(repositoryName="strict", imageManifest="{not json", imageTag="a")
    )
    wrong = refusal(
        lambda: ecr.put_image(
            repositoryName="strict",
            imageManifest=image_manifest("strict:1"),
            imageManifestMediaType=MANIFEST_TYPE,
            imageTag="b",
            imageDigest="sha256:" + "0" * 64,
        )
    )

    assert not_json["Code"] == "InvalidParameterException"
    assert wrong["Code"] == "ImageDigestDoesNotMatchException"
    assert ecr.describe_images(repositoryName="strict")["imageDetails"] == []


def test_ecr_describe_images_by_digest_answers_only_for_the_repository_holding_it(
    stack: LocalStack,
) -> None:
    """ECR DescribeImages with imageIds: ImageNotFoundException, with ECR's message
    ("The image with imageId {imageDigest:'…', imageTag:'null'} does not exist within the
    repository with name '…' in the registry with id '…'"), for a digest the repository does
    not hold, another repository's included; the image it does hold is one detail with
    every tag and its imagePushedAt."""
    ecr = stack.client("ecr")
    for name in ("held", "other"):
        ecr.create_repository(repositoryName=name)
    digest = ecr.put_image(
        repositoryName="held", imageManifest=image_manifest("held:1"), imageTag="3f2a9c1"
    )["image"]["imageId"]["imageDigest"]
    ecr.put_image(repositoryName="held", imageManifest=image_manifest("held:1"), imageTag="v1.4.0")
    forged = "sha256:" + hashlib.sha256(b"never pushed").hexdigest()

    answers = [
        refusal(
            lambda repository=repository, wanted=wanted: ecr.describe_images(
                registryId=ACCOUNT, repositoryName=repository, imageIds=[{"imageDigest": wanted}]
            )
        )
        for repository, wanted in (("held", forged), ("other", digest))
    ]
    (detail,) = ecr.describe_images(
        registryId=ACCOUNT, repositoryName="held", imageIds=[{"imageDigest": digest}]
    )["imageDetails"]

    assert answers == [
        {
            "Code": "ImageNotFoundException",
            "Message": f"The image with imageId {{imageDigest:'{wanted}', imageTag:'null'}} "
            f"does not exist within the repository with name '{repository}' in the registry "
            f"with id '{ACCOUNT}'",
        }
        for repository, wanted in (("held", forged), ("other", digest))
    ]
    assert detail["imageDigest"] == digest
    assert sorted(detail["imageTags"]) == ["3f2a9c1", "v1.4.0"]
    assert detail["imagePushedAt"].tzinfo is not None


# -- Application Auto Scaling --------------------------------------------------------------


@pytest.fixture(scope="module")
def scaled_service(stack: LocalStack) -> str:
    ecs = stack.client("ecs")
    ecs.create_cluster(clusterName="scaled")
    definition = ecs.register_task_definition(
        family="scaled", containerDefinitions=[{"name": "app", "image": "app:1", "memory": 128}]
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster="scaled", serviceName="app", taskDefinition=definition, desiredCount=1
    )
    return "service/scaled/app"


def register(stack: LocalStack, resource_id: str, **options: Any) -> dict[str, Any]:
    aas = stack.client("application-autoscaling")
    aas.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId=resource_id,
        ScalableDimension="ecs:service:DesiredCount",
        **options,
    )
    (target,) = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource_id])[
        "ScalableTargets"
    ]
    return dict(target)


def test_scalable_target_without_a_role_uses_the_ecs_service_linked_role(
    stack: LocalStack, scaled_service: str
) -> None:
    """Application Auto Scaling RegisterScalableTarget without RoleARN: the service-linked
    role AWSServiceRoleForApplicationAutoScaling_ECSService, shown by Describe."""
    target = register(stack, scaled_service, MinCapacity=1, MaxCapacity=4)

    assert target["RoleARN"] == (
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_ECSService"
    )
    assert target["SuspendedState"] == dict.fromkeys(FLAGS, False)


def test_a_partial_suspended_state_keeps_the_flags_it_does_not_name(
    stack: LocalStack, scaled_service: str
) -> None:
    """AWS documents no merge for a partial SuspendedState; locally the flags a request does
    not name stay as they were (the app itself always sends all three)."""
    register(stack, scaled_service, SuspendedState=dict.fromkeys(FLAGS, True))

    target = register(stack, scaled_service, SuspendedState={"ScheduledScalingSuspended": False})

    assert target["SuspendedState"] == {
        "DynamicScalingInSuspended": True,
        "DynamicScalingOutSuspended": True,
        "ScheduledScalingSuspended": False,
    }


# -- SES -----------------------------------------------------------------------------------


@pytest.fixture
def outbox(stack: LocalStack) -> str:
    stack.outbox.clear()
    return f"{stack.endpoint_url}/_local/outbox"


NOT_VERIFIED = (
    "Email address is not verified. The following identities failed the check in region US-EAST-1: "
)


def test_ses_sandbox_refuses_mail_to_an_unverified_recipient(
    stack: LocalStack, outbox: str
) -> None:
    """SES sandbox: sends only to verified addresses; a message with an unverified recipient
    is refused whole with MessageRejected, naming the addresses that failed."""
    ses = stack.client("ses")
    ses.verify_email_identity(EmailAddress="known@example.com")
    quota = ses.get_send_quota()
    assert (quota["Max24HourSend"], quota["MaxSendRate"]) == (200.0, 1.0)  # the sandbox's

    error = refusal(
        lambda: ses.send_email(
            Source="sender@example.com",
            Destination={
                "ToAddresses": ["known@example.com", "Stranger <stranger@example.com>"],
                "BccAddresses": ["other@elsewhere.test"],
            },
            Message={"Subject": {"Data": "x"}, "Body": {"Text": {"Data": "y"}}},
        )
    )

    assert error["Code"] == "MessageRejected"
    assert error["Message"] == NOT_VERIFIED + "stranger@example.com, other@elsewhere.test"
    assert get_json(outbox) == []


def test_ses_sandbox_allows_addresses_of_a_verified_domain(stack: LocalStack, outbox: str) -> None:
    """SES sandbox: an address of a verified domain counts as verified."""
    ses = stack.client("ses")
    ses.verify_domain_identity(Domain="team.test")

    ses.send_email(
        Source="sender@example.com",
        Destination={"ToAddresses": ["anyone@team.test"]},
        Message={"Subject": {"Data": "hello"}, "Body": {"Text": {"Data": "y"}}},
    )

    assert [m["to"] for m in get_json(outbox)] == ["anyone@team.test"]


def test_ses_sandbox_checks_raw_mail_headers_and_ses_v2(stack: LocalStack, outbox: str) -> None:
    """SES sandbox, SendRawEmail and SES v2 SendEmail: recipients in the raw message's
    headers count, and v2 refuses with the same MessageRejected."""
    raw = b"From: sender@example.com\r\nTo: stranger@example.com\r\nSubject: x\r\n\r\nbody\r\n"

    raw_error = refusal(lambda: stack.client("ses").send_raw_email(RawMessage={"Data": raw}))
    v2_error = refusal(
        lambda: stack.client("sesv2").send_email(
            FromEmailAddress="sender@example.com",
            Destination={"ToAddresses": ["stranger@example.com"]},
            Content={"Raw": {"Data": raw}},
        )
    )

    assert (raw_error["Code"], raw_error["Message"]) == (
        "MessageRejected",
        NOT_VERIFIED + "stranger@example.com",
    )
    assert (v2_error["Code"], v2_error["Message"]) == (
        "MessageRejected",
        NOT_VERIFIED + "stranger@example.com",
    )
    assert get_json(outbox) == []
