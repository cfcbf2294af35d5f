"""SuspendScaling: take the service's lock, save its SuspendedState, suspend scaling."""

from bluegreen import wiring
from bluegreen.handler import state_step
from bluegreen.steps.scaling import suspend

lambda_handler = state_step(
    lambda state, now: suspend(
        state, wiring.scalable_targets(state.service), wiring.state_table(), now
    )
)
