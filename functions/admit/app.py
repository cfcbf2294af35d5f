"""Admit: make the pushed image the service's next, superseding an older one still waiting."""

from bluegreen import wiring
from bluegreen.handler import state_step
from bluegreen.steps.queue import admit

lambda_handler = state_step(
    lambda state, now: admit(
        state, wiring.state_table(), wiring.state_table(), wiring.task_callbacks(), now
    )
)
