"""CheckRollout: one look at ECS's rolling deployment; once a failure is recorded, roll the
service back to the revision it ran and watch until it is steady there."""

from bluegreen import wiring
from bluegreen.handler import state_step
from bluegreen.steps.rollout import look

lambda_handler = state_step(lambda state, now: look(state, wiring.ecs_services(state.service), now))
