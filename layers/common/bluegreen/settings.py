"""Environment of each function, read once per cold start into a typed model.

Plain pydantic models fed from ``os.environ``: each field is an environment variable of
the same name (case-sensitive), other variables are ignored. pydantic-settings did the same
here, but importing it (its dotenv, CLI and cloud-secret sources) cost every function that
reads settings ~50 ms of cold start.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TypeVar

from pydantic import BaseModel, ConfigDict


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", validate_default=True)


class TriggerSettings(_Settings):
    STATE_MACHINE_ARN: str
    SERVICES_PARAMETER_NAME: str


class TableSettings(_Settings):
    TABLE_NAME: str


class JanitorSettings(TableSettings):
    STATE_MACHINE_ARN: str


class SlackSettings(_Settings):
    """Slack, when the installation has it: the bot token's secret (empty: no Slack), and
    the Web API's base URL (the local stack's own, locally)."""

    SLACK_BOT_TOKEN_SECRET_NAME: str = ""
    SLACK_API_URL: str = "https://slack.com/api/"


class ApprovalRequestSettings(TableSettings, SlackSettings):
    APPROVAL_BASE_URL: str
    SIGNING_SECRET_ARN: str
    SENDER_EMAIL: str


class TurnSettings(TableSettings):
    JANITOR_FUNCTION_NAME: str


class ApprovalApiSettings(TableSettings, SlackSettings):
    SIGNING_SECRET_ARN: str
    # The secret Slack signs interaction requests with (empty: the endpoint refuses all).
    SLACK_SIGNING_SECRET_NAME: str = ""
    # Where a decided request's page links to follow the deployment.
    STATE_MACHINE_ARN: str = ""


class ChannelSettings(TableSettings, SlackSettings):
    """Where outcomes are told: the topic, Slack, and the history in the table."""

    TOPIC_ARN: str


class NotifySettings(ChannelSettings):
    # Approvers are told by email when a newer image withdraws their request.
    SENDER_EMAIL: str


S = TypeVar("S", bound=_Settings)


@cache
def load(kind: type[S]) -> S:
    """The settings of ``kind``, read from the environment once per cold start."""
    # Only the variables the model names: a validation error never echoes the whole
    # environment (credentials included) into the logs.
    found = {name: os.environ[name] for name in kind.model_fields if name in os.environ}
    return kind.model_validate(found)
