"""CheckDeployment: one look at the deployment's status (the state machine waits between looks)."""

from bluegreen import wiring
from bluegreen.handler import state_step
from bluegreen.steps.deployment import check

lambda_handler = state_step(lambda state, now: check(state, wiring.deployments(state.service), now))
