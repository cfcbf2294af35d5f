"""CreateDeployment: start the CodeDeploy blue/green deployment of the rendered revision."""

from bluegreen import wiring
from bluegreen.handler import state_step
from bluegreen.steps.deployment import create

lambda_handler = state_step(
    lambda state, now: create(state, wiring.deployments(state.service), now)
)
