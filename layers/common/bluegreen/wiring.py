"""Adapters built from the function's environment, once per cold start.

Handlers ask for what they need here; nothing is created at import time, so a handler
that never touches DynamoDB never needs TABLE_NAME.
"""

from __future__ import annotations

from functools import cache

from bluegreen.adapters.autoscaling import ScalableTargets
from bluegreen.adapters.aws import client
from bluegreen.adapters.codedeploy import CodeDeployDeployments
from bluegreen.adapters.ecs import EcsTaskDefinitions
from bluegreen.adapters.notifications import SesMailer, SlackWebhook, Topic
from bluegreen.adapters.secrets import Secrets
from bluegreen.adapters.stepfunctions import Executions, TaskCallbacks
from bluegreen.adapters.store import StateTable
from bluegreen.settings import TableSettings, TriggerSettings, load


@cache
def task_definitions() -> EcsTaskDefinitions:
    return EcsTaskDefinitions(client("ecs"))


@cache
def deployments() -> CodeDeployDeployments:
    return CodeDeployDeployments(client("codedeploy"))


@cache
def scalable_targets() -> ScalableTargets:
    return ScalableTargets(client("application-autoscaling"))


@cache
def state_table() -> StateTable:
    return StateTable(client("dynamodb"), load(TableSettings).TABLE_NAME)


@cache
def secrets() -> Secrets:
    return Secrets(client("secretsmanager"))


@cache
def executions() -> Executions:
    return Executions(client("stepfunctions"), load(TriggerSettings).STATE_MACHINE_ARN)


@cache
def task_callbacks() -> TaskCallbacks:
    return TaskCallbacks(client("stepfunctions"))


@cache
def mailer(sender: str) -> SesMailer:
    return SesMailer(client("ses"), sender)


@cache
def topic(arn: str) -> Topic:
    return Topic(client("sns"), arn)


def slack(secret_name: str) -> SlackWebhook | None:
    """The Slack webhook, or None when the installation has no Slack secret."""
    url = secrets().get_optional(secret_name)
    return SlackWebhook(url) if url else None


def signing_key(secret_arn: str) -> bytes:
    return secrets().get(secret_arn).encode()
