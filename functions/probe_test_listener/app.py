"""ProbeTestListener: one real HTTP check of the new version through the test listener."""

from bluegreen.adapters.http_probe import check
from bluegreen.handler import state_step
from bluegreen.steps.probe import probe

lambda_handler = state_step(lambda state, now: probe(state, check, now))
