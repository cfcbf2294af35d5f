"""StartRollout: take the service's lock and roll it out to the rendered revision (ECS)."""

from bluegreen import wiring
from bluegreen.handler import state_step
from bluegreen.steps.rollout import start

lambda_handler = state_step(
    lambda state, now: start(state, wiring.ecs_services(state.service), wiring.state_table(), now)
)
