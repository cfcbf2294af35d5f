"""Promotion: the digest that succeeded in one environment goes on to the next.

A service's environments run in order (its pipeline). When an environment's deployment
succeeds, what it runs is recorded (:class:`EnvironmentRun`); the next environment then
receives that very image: at once when it is ``automatic``, through ``bluegreen promote``
when it is ``manual``. An operator's rollback is the environment's own: recorded, never
promoted. The approval request of a later environment says which environments run the
image already, and since when.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from bluegreen.domain.digest import short_digest
from bluegreen.errors import PromotionRefused
from bluegreen.models import ImageRef, Promotion, Provenance

if TYPE_CHECKING:
    from bluegreen.models import DeploymentState, ServiceConfig


class EnvironmentRun(BaseModel):
    """What one environment of a service runs by our record: the image its latest
    successful deployment deployed, since when, and what an approver is told of it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    service: str
    environment: str
    execution: str
    image: ImageRef
    since: datetime
    provenance: Provenance | None = None
    pushed_by: str | None = None

    @classmethod
    def of(cls, state: DeploymentState, now: datetime) -> EnvironmentRun:
        """What ``state``'s environment runs once its deployment succeeded: since the
        deployment finished, as far as the execution saw it; else since ``now``."""
        finished = state.deployment.finished_at if state.deployment else None
        return cls(
            service=state.service.name,
            environment=state.service.environment,
            execution=state.execution_name,
            image=state.image,
            since=finished or now,
            provenance=state.provenance,
            pushed_by=state.pushed_by,
        )

    @property
    def since_ms(self) -> int:
        return int(self.since.timestamp() * 1000)

    @property
    def label(self) -> str:
        """``v1.4.1 (9f8e7d6a1b2c)``: the tag people know, and the digest that identifies it."""
        return f"{self.image.tag} ({short_digest(self.image.digest)})"


def promote_command(service: str, environment: str) -> str:
    """How an operator promotes by hand."""
    return f"bluegreen promote {service} --to {environment}"


def nothing_to_promote(state: DeploymentState) -> Promotion | None:
    """Why this success promotes nothing, before any configuration is read: a rollback is
    the environment's own, and the last environment has no next one. None: look further."""
    if state.source == "rollback":
        return Promotion(
            outcome="rollback",
            detail=f"a rollback is {state.service.environment}'s own: nothing is promoted",
        )
    if state.service.next_environment is None:
        return Promotion(
            outcome="last",
            detail=f"{state.service.environment} is the last environment of "
            f"{state.service.name}: nothing to promote",
        )
    return None


def by_hand(state: DeploymentState, following: ServiceConfig) -> Promotion:
    """The next environment takes images by hand: nothing starts, the words say how."""
    command = promote_command(state.service.name, following.environment)
    return Promotion(
        outcome="manual",
        to=following.environment,
        detail=f"{following.environment} is promoted by hand: {command}",
    )


def not_configured(state: DeploymentState, why: str) -> Promotion:
    """The configuration no longer has where the execution's pipeline promoted to."""
    return Promotion(
        outcome="not_configured",
        to=state.service.next_environment,
        detail=f"nothing promoted: {why}",
    )


def started(
    state: DeploymentState, following: ServiceConfig, execution: str, new: bool
) -> Promotion:
    words = (
        f"{state.image.tag} promoted to {following.environment}: {execution}"
        if new
        else f"{following.environment} has {execution} for this image already: nothing new"
    )
    return Promotion(
        outcome="started" if new else "duplicate",
        to=following.environment,
        execution_name=execution,
        detail=words,
    )


def failed_words(state: DeploymentState, cause: str) -> str:
    """The cause of a success whose promotion could not be started (``PromotionFailed``)."""
    following = state.service.next_environment or "the next environment"
    command = promote_command(state.service.name, following)
    return (
        f"{state.image.tag} is deployed to {state.service.environment}, but its promotion to "
        f"{following} failed: {cause}; promote it by hand: {command}"
    )


def source_of(pipeline: list[ServiceConfig], to: str) -> ServiceConfig:
    """The environment an image is promoted to ``to`` from: the one before it.

    :class:`PromotionRefused` for the first environment (a push deploys it); ``to`` is one
    of ``pipeline`` (the catalog names the environments otherwise).
    """
    names = [stage.environment for stage in pipeline]
    at = names.index(to)
    if at == 0:
        service = pipeline[0].name
        raise PromotionRefused(
            f"{to} is the first environment of {service} ({' -> '.join(names)}): a push "
            f"deploys it, nothing is promoted to it; promote to {names[1]} instead"
            if len(names) > 1
            else f"{service} has one environment, {to}: a push deploys it, nothing is promoted"
        )
    return pipeline[at - 1]


def promotable(
    run: EnvironmentRun | None, source: ServiceConfig, to: str, digest: str | None = None
) -> EnvironmentRun:
    """What ``source`` runs by our record, when it is the image asked for (``digest``, if
    given); else :class:`PromotionRefused` saying what it runs."""
    if run is None:
        raise PromotionRefused(
            f"{source.environment} of {source.name} runs no image of ours (no successful "
            f"deployment recorded): deploy there first, then promote to {to}"
        )
    if digest is not None and run.image.digest != digest:
        raise PromotionRefused(
            f"{source.environment} runs {run.label}, not {short_digest(digest)}: only the "
            f"image {source.environment} runs is promoted to {to}; deploy that one to "
            f"{source.environment} first"
        )
    return run


def elsewhere(
    runs: list[EnvironmentRun], image: ImageRef, environment: str
) -> list[EnvironmentRun]:
    """The other environments that run ``image`` by our record, in the order given."""
    return [r for r in runs if r.image.digest == image.digest and r.environment != environment]
