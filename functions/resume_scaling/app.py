"""ResumeScaling: restore exactly the saved SuspendedState and release the lock."""

from bluegreen import wiring
from bluegreen.handler import state_step
from bluegreen.steps.scaling import resume

lambda_handler = state_step(
    lambda state, now: resume(
        state,
        wiring.scalable_targets(state.service),
        wiring.state_table(),
        wiring.task_callbacks(),
        now,
    )
)
