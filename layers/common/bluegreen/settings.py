"""Environment of each function, read once per cold start into a typed model."""

from __future__ import annotations

from functools import cache
from typing import TypeVar

from pydantic_settings import BaseSettings, SettingsConfigDict


class _Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=True)


class TriggerSettings(_Settings):
    STATE_MACHINE_ARN: str
    BLUEGREEN_SERVICES_FILE: str | None = None


class TableSettings(_Settings):
    TABLE_NAME: str


class ApprovalRequestSettings(TableSettings):
    APPROVAL_BASE_URL: str
    SIGNING_SECRET_ARN: str
    SLACK_WEBHOOK_SECRET_NAME: str = ""
    SENDER_EMAIL: str


class ApprovalApiSettings(TableSettings):
    SIGNING_SECRET_ARN: str


class NotifySettings(TableSettings):
    TOPIC_ARN: str
    SLACK_WEBHOOK_SECRET_NAME: str = ""


S = TypeVar("S", bound=_Settings)


@cache
def load(kind: type[S]) -> S:
    """The settings of ``kind``, read from the environment once per cold start."""
    return kind()
