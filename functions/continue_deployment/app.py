"""ContinueDeployment: the new version passed its checks; shift production traffic."""

from bluegreen import wiring
from bluegreen.handler import state_step
from bluegreen.steps.deployment import proceed

lambda_handler = state_step(
    lambda state, now: proceed(state, wiring.deployments(state.service), now)
)
