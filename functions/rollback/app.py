"""Rollback: stop the deployment with automatic rollback, if one is running."""

from bluegreen import wiring
from bluegreen.handler import state_step
from bluegreen.steps.deployment import roll_back

lambda_handler = state_step(
    lambda state, now: roll_back(state, wiring.deployments(state.service), now)
)
