"""Adapters built from the function's environment, once per cold start.

Handlers ask for what they need here; nothing is created at import time, so a handler
that never touches DynamoDB never needs TABLE_NAME. Each adapter module is imported by the
function that builds it, so a handler loads only the adapters it uses (and their
dependencies: the store's approval records, the notifications' message templates, the
settings models), not all of them. boto3 itself is imported here, at import time, because
every handler that uses this module creates a client.

What acts on a deployment's target (ECS, CodeDeploy, Application Auto Scaling) acts where
the environment is: in another account through the role it names (see
:mod:`bluegreen.adapters.sessions`), in its region. Everything else (the state table, Step
Functions, ECR, mail, topics, secrets) is the app's own, in its own account.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3

from bluegreen.adapters.aws import SDK_CONFIG

if TYPE_CHECKING:
    from bluegreen.adapters.autoscaling import ScalableTargets
    from bluegreen.adapters.codedeploy import CodeDeployDeployments
    from bluegreen.adapters.ecr import EcrImages
    from bluegreen.adapters.ecs import EcsServices, EcsTaskDefinitions
    from bluegreen.adapters.notifications import SesMailer, Topic
    from bluegreen.adapters.parameters import Parameters
    from bluegreen.adapters.recovery import JanitorRecovery
    from bluegreen.adapters.secrets import Secrets
    from bluegreen.adapters.slack import SlackApp
    from bluegreen.adapters.stepfunctions import Executions, ExecutionStatuses, TaskCallbacks
    from bluegreen.adapters.store import StateTable
    from bluegreen.models import ServiceConfig


# Where an environment is: (role_arn, external_id, region); all None for the app's own.
Where = tuple[str | None, str | None, str | None]


def _where(service: ServiceConfig | None) -> Where:
    if service is None:
        return (None, None, None)
    return (service.role_arn, service.external_id, service.region)


@cache
def _session(role_arn: str | None, external_id: str | None, region: str | None) -> boto3.Session:
    """The session acting in an environment elsewhere: the function's own credentials in
    another region, or the role's (assumed with this function's STS client, so within the
    same SDK budget), refreshed before they expire; one per role, external id and region
    for the warm container. It shares the default session's loaded service models."""
    from bluegreen.adapters.sessions import assumed_session, regional_session, session_name

    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    base = boto3.DEFAULT_SESSION
    if role_arn is None:
        return regional_session(region, base)
    # The session's name says which function acts, in the target account's CloudTrail.
    name = session_name(os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "bluegreen"))
    sts = boto3.client("sts", config=SDK_CONFIG)
    return assumed_session(sts, role_arn, name, external_id, region, base)


def _client(service: str, where: Where) -> Any:
    """A client of ``service`` where an environment is; the app's own: the default session,
    as every other client of the function."""
    if where == (None, None, None):
        return boto3.client(service, config=SDK_CONFIG)  # type: ignore[call-overload]
    session: Any = _session(*where)  # boto3-stubs types client() per literal name
    return session.client(service, config=SDK_CONFIG)


def task_definitions(service: ServiceConfig | None = None) -> EcsTaskDefinitions:
    """ECS where ``service`` runs (none: the app's own account and region)."""
    return _task_definitions(*_where(service))


@cache
def _task_definitions(
    role_arn: str | None, external_id: str | None, region: str | None
) -> EcsTaskDefinitions:
    from bluegreen.adapters.ecs import EcsTaskDefinitions

    return EcsTaskDefinitions(_client("ecs", (role_arn, external_id, region)))


def ecs_services(service: ServiceConfig | None = None) -> EcsServices:
    """ECS services where ``service`` runs (none: the app's own account and region)."""
    return _ecs_services(*_where(service))


@cache
def _ecs_services(role_arn: str | None, external_id: str | None, region: str | None) -> EcsServices:
    from bluegreen.adapters.ecs import EcsServices

    return EcsServices(_client("ecs", (role_arn, external_id, region)))


@cache
def images() -> EcrImages:
    from bluegreen.adapters.ecr import EcrImages

    return EcrImages(boto3.client("ecr", config=SDK_CONFIG))


def deployments(service: ServiceConfig | None = None) -> CodeDeployDeployments:
    """CodeDeploy where ``service`` runs (none: the app's own account and region)."""
    return _deployments(*_where(service))


@cache
def _deployments(
    role_arn: str | None, external_id: str | None, region: str | None
) -> CodeDeployDeployments:
    from bluegreen.adapters.codedeploy import CodeDeployDeployments

    return CodeDeployDeployments(_client("codedeploy", (role_arn, external_id, region)))


def scalable_targets(service: ServiceConfig | None = None) -> ScalableTargets:
    """Application Auto Scaling where ``service`` runs (none: the app's own account)."""
    return _scalable_targets(*_where(service))


@cache
def _scalable_targets(
    role_arn: str | None, external_id: str | None, region: str | None
) -> ScalableTargets:
    from bluegreen.adapters.autoscaling import ScalableTargets

    return ScalableTargets(_client("application-autoscaling", (role_arn, external_id, region)))


@cache
def state_table() -> StateTable:
    from bluegreen.adapters.store import StateTable
    from bluegreen.settings import TableSettings, load

    return StateTable(boto3.client("dynamodb", config=SDK_CONFIG), load(TableSettings).TABLE_NAME)


@cache
def secrets() -> Secrets:
    from bluegreen.adapters.secrets import Secrets

    return Secrets(boto3.client("secretsmanager", config=SDK_CONFIG))


@cache
def parameters() -> Parameters:
    from bluegreen.adapters.parameters import Parameters

    return Parameters(boto3.client("ssm", config=SDK_CONFIG))


@cache
def executions() -> Executions:
    from bluegreen.adapters.stepfunctions import Executions
    from bluegreen.settings import TriggerSettings, load

    return Executions(
        boto3.client("stepfunctions", config=SDK_CONFIG), load(TriggerSettings).STATE_MACHINE_ARN
    )


@cache
def execution_statuses(state_machine_arn: str | None = None) -> ExecutionStatuses:
    """The deploy state machine's executions: the janitor names the machine in its settings;
    TakeTurn, run by it, knows it from its own execution's ARN."""
    from bluegreen.adapters.stepfunctions import ExecutionStatuses

    if state_machine_arn is None:
        from bluegreen.settings import JanitorSettings, load

        state_machine_arn = load(JanitorSettings).STATE_MACHINE_ARN
    return ExecutionStatuses(boto3.client("stepfunctions", config=SDK_CONFIG), state_machine_arn)


@cache
def task_callbacks() -> TaskCallbacks:
    from bluegreen.adapters.stepfunctions import TaskCallbacks

    return TaskCallbacks(boto3.client("stepfunctions", config=SDK_CONFIG))


@cache
def recovery() -> JanitorRecovery:
    from bluegreen.adapters.recovery import JanitorRecovery
    from bluegreen.settings import TurnSettings, load

    return JanitorRecovery(
        boto3.client("lambda", config=SDK_CONFIG), load(TurnSettings).JANITOR_FUNCTION_NAME
    )


@cache
def mailer(sender: str) -> SesMailer:
    from bluegreen.adapters.notifications import SesMailer

    return SesMailer(boto3.client("ses", config=SDK_CONFIG), sender)


@cache
def topic(arn: str) -> Topic:
    from bluegreen.adapters.notifications import Topic

    return Topic(boto3.client("sns", config=SDK_CONFIG), arn)


@cache
def slack(token_secret_name: str, api_url: str) -> SlackApp | None:
    """The Slack app's Web API client, or None when the installation has no Slack."""
    token = secrets().get_optional(token_secret_name)
    if not token:
        return None
    from bluegreen.adapters.slack import SlackApp

    return SlackApp(token.strip(), api_url)


def slack_signing_secret(secret_name: str) -> str | None:
    """The secret Slack signs its requests with; None when there is none to verify with."""
    found = secrets().get_optional(secret_name)
    return found.strip() if found else None


def signing_key(secret_arn: str) -> bytes:
    return secrets().get(secret_arn).encode()
