"""RenderTaskDefinition: register a revision with the pushed image, pinned by digest."""

from bluegreen import wiring
from bluegreen.handler import state_step
from bluegreen.steps.render import render

lambda_handler = state_step(
    lambda state, _now: render(state, wiring.task_definitions(state.service))
)
