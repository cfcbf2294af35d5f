"""Promote: after a success, record what the environment runs and hand the image on.

The next environment comes from the configuration as it is now (a pipeline changed since
the push promotes along the new one). An automatic one gets the same digest at once,
through the trigger's own :func:`~bluegreen.steps.trigger.start`, named per environment:
started twice (a retried step), it is one execution. A manual one gets nothing; the
outcome says how to promote by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from bluegreen.config import ServiceCatalog
from bluegreen.domain import promotion as rules
from bluegreen.domain.promotion import EnvironmentRun
from bluegreen.errors import ServiceNotConfigured
from bluegreen.models import DeploymentState, Promotion
from bluegreen.steps.trigger import Starter, start


class Runs(Protocol):
    def record_run(self, run: EnvironmentRun) -> bool: ...


def promote(
    state: DeploymentState,
    catalog: Callable[[], ServiceCatalog],
    runs: Runs,
    executions: Starter,
    now: datetime,
) -> DeploymentState:
    """Record what this environment runs, then promote its image to the next environment.

    ``catalog`` is read only when the execution's pipeline has a next environment: the
    last one (and a service with one environment) needs no configuration here.
    """
    runs.record_run(EnvironmentRun.of(state, now))
    return state.model_copy(update={"promotion": _promotion(state, catalog, executions, now)})


def _promotion(
    state: DeploymentState,
    catalog: Callable[[], ServiceCatalog],
    executions: Starter,
    now: datetime,
) -> Promotion:
    settled = rules.nothing_to_promote(state)
    if settled is not None:
        return settled
    configured = catalog()
    try:
        current = configured.named(state.service.name, state.service.environment)
        following = configured.after(current)
    except ServiceNotConfigured as e:
        return rules.not_configured(state, str(e))
    if following is None:
        return rules.not_configured(
            state, f"{state.service.environment} is the last environment of {current.name} now"
        )
    if following.promotion == "manual":
        return rules.by_hand(state, following)
    result = start(
        following,
        state.image,
        "promotion",
        executions,
        now,
        provenance=state.provenance,
        promoted_from=state.service.environment,
        pushed_by=state.pushed_by,
    )
    assert result.execution_name is not None  # start() always names its execution
    return rules.started(state, following, result.execution_name, result.outcome == "started")
