"""Domain errors.

Their class names are part of the state machine's contract: a Lambda that raises one of
these reports ``errorType`` = the class name, and ``statemachine/deploy.asl.json`` matches
on it in ``Retry`` and ``Catch``. Rename one and the ASL must change with it.
"""


class BluegreenError(Exception):
    """Base of every error this package raises on purpose."""


class ImageRefused(BluegreenError):
    """The pushed image may not be deployed (mutable tag, no digest, wrong repository)."""


class ServiceNotConfigured(BluegreenError):
    """No entry of the service configuration matches the repository."""


class ConfigurationInvalid(BluegreenError):
    """The service configuration cannot be read or does not validate.

    Raised with the document's ``source`` and its ``problems``, each ``<where>: <what>``,
    ``where`` a path into the document (``services.checkout.timings.probe_interval_seconds``);
    or with one message.
    """

    def __init__(self, source: str, problems: list[str] | None = None) -> None:
        self.source = source
        self.problems = list(problems or [])
        super().__init__(f"{source}: " + "; ".join(self.problems) if self.problems else source)


class ServiceLocked(BluegreenError):
    """Another execution holds the service's deployment lock."""


class DeploymentAlreadyActive(BluegreenError):
    """CodeDeploy already runs a deployment in this deployment group."""


class DeploymentFailed(BluegreenError):
    """The CodeDeploy deployment ended Failed or Stopped."""


class DeploymentTimedOut(BluegreenError):
    """The CodeDeploy deployment did not reach the awaited status within its poll budget."""


class RolloutFailed(BluegreenError):
    """ECS's rolling deployment failed: its deployment circuit breaker reported FAILED (the
    message carries ECS's rolloutStateReason), or another deployment replaced it."""


class RolloutTimedOut(BluegreenError):
    """ECS's rolling deployment did not reach COMPLETED within its poll budget."""


class TestTrafficUnhealthy(BluegreenError):
    """The new version failed its checks through the test listener."""

    __test__ = False  # not a pytest test class, whatever its name says


class AwsThrottled(BluegreenError):
    """AWS asked us to slow down; the state machine retries with backoff."""


class AwsUnavailable(BluegreenError):
    """An AWS endpoint could not be reached or did not answer in time (after the SDK's own
    attempts); the state machine retries with backoff where the step is idempotent."""


class RollbackIncomplete(BluegreenError):
    """CodeDeploy's rollback failed, was stopped, or did not end within its budget."""


class RollbackInProgress(BluegreenError):
    """CodeDeploy is still rolling back: what must wait for blue (scaling, the lock) waits."""


class ImageNotRunning(BluegreenError):
    """A task definition template's placeholder stands for a repository of which the
    environment runs no image by digest: rendering would have to choose one."""


class ResourceMissing(BluegreenError):
    """A resource named by the configuration does not exist."""


class MailRefused(BluegreenError):
    """The mail service refused one message; ``reason`` says why in words fit for a user."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ApproversUnreachable(BluegreenError):
    """No approver could be sent the approval request: no email went out, no Slack post."""


class ApprovalNotFound(BluegreenError):
    """No approval request with this id."""


class ApprovalLinkInvalid(BluegreenError):
    """The approval link's signature does not verify (forged or altered)."""


class ApprovalExpired(BluegreenError):
    """The approval link or request is past its expiry."""


class ApprovalAlreadyDecided(BluegreenError):
    """The approval was already decided, or the one-time form was already used."""


class ApproverNotAllowed(BluegreenError):
    """The Slack user who clicked is not one of the service's Slack approvers."""


class SlackRequestInvalid(BluegreenError):
    """A request to the Slack interactions endpoint is not Slack's: its signature does not
    verify with the signing secret, or its timestamp is outside the five-minute window."""


class SlackFailed(BluegreenError):
    """Slack answered ``ok: false`` (its error code is the message), or could not be reached."""


class Superseded(BluegreenError):
    """A newer image of the same service replaced this one before it changed the service.

    ``by`` names the newer image (``v1.4.1 (9f8e7d6)``) when it is known.
    """

    def __init__(self, message: str, by: str | None = None) -> None:
        self.by = by
        super().__init__(message)


class ImageOutdated(BluegreenError):
    """The image is older than the one production runs (or is being deployed): a push never
    takes a service backwards; an operator's rollback does."""


class LocksNotRecovered(BluegreenError):
    """The janitor's sweep could not recover a lock whose owner has ended (it stays held)."""


class PromotionRefused(BluegreenError):
    """The image may not be promoted to that environment: it is the first one, or the
    environment before it does not run that image by our record."""
