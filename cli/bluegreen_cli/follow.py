"""Follow a deployment execution through its history: progress as it happens, phases after."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})

# (label, the state whose first entry starts the phase). A phase ends where the next begins.
PHASES: tuple[tuple[str, str], ...] = (
    ("render task definition", "RenderTaskDefinition"),
    ("wait for approval", "RequestApproval"),
    ("suspend scaling", "SuspendScaling"),
    ("green task set up", "CreateDeployment"),
    ("verify on test listener", "ProbeTestListener"),
    ("shift production traffic", "ContinueDeployment"),
    ("resume scaling", "ResumeScaling"),
    ("roll back", "Rollback"),
    ("notify", "NotifyDeployed"),
    ("notify", "NotifyRolledBack"),
    ("notify", "NotifyNotDeployed"),
    ("notify", "NotifyNeedsAttention"),
)


# What each state means to someone watching the deployment ({approvers}: who is asked).
PROGRESS: dict[str, str] = {
    "RenderTaskDefinition": "rendering the task definition (image pinned by digest)",
    "RequestApproval": "waiting for approval by {approvers}",
    "SuspendScaling": "suspending Application Auto Scaling (prior state saved)",
    "CreateDeployment": "creating the CodeDeploy blue/green deployment",
    "CheckReady": "waiting for the green task set behind the test listener",
    "ProbeTestListener": "checking the new version through the test listener",
    "ContinueDeployment": "verified: shifting production traffic",
    "CheckCompletion": "waiting for CodeDeploy to finish",
    "ResumeScaling": "restoring scaling exactly as it was",
    "Rollback": "rolling back: production stays on blue",
    "CheckRollback": "waiting for CodeDeploy's rollback: blue serves again",
    "ResumeAfterRollback": "restoring scaling exactly as it was",
    "ResumeLiveRelease": "live, not seen to finish: restoring scaling, nothing rolled back",
    "Deployed": "deployed",
    "RolledBack": "rolled back",
    "NotDeployed": "not deployed",
    "NeedsAttention": "NEEDS ATTENTION: see the cause",
}


@dataclass(frozen=True)
class Step:
    state: str
    entered_at: datetime


@dataclass(frozen=True)
class Phase:
    label: str
    seconds: float


def entered_states(history: list[dict[str, Any]]) -> list[Step]:
    return [
        Step(e["stateEnteredEventDetails"]["name"], e["timestamp"])
        for e in history
        if "stateEnteredEventDetails" in e
    ]


def phases(history: list[dict[str, Any]], finished_at: datetime | None) -> list[Phase]:
    """How long each phase took, in the order they happened."""
    starts = {state: label for label, state in PHASES}
    marks: list[tuple[str, datetime]] = []
    for step in entered_states(history):
        if step.state in starts and all(step.state != seen for seen, _ in marks):
            marks.append((step.state, step.entered_at))
    ends = [at for _, at in marks[1:]] + [finished_at or (marks[-1][1] if marks else None)]
    return [
        Phase(starts[state], max(0.0, (end - start).total_seconds()))
        for (state, start), end in zip(marks, ends, strict=True)
        if end is not None
    ]


class ExecutionWatcher:
    """Polls one execution; yields each newly entered state until the execution ends."""

    def __init__(self, sfn: Any, execution_arn: str, poll_seconds: float = 0.3) -> None:
        self._sfn = sfn
        self.arn = execution_arn
        self._poll = poll_seconds
        self.history: list[dict[str, Any]] = []

    def _fetch_history(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": self.arn, "maxResults": 1000}
        while True:
            page = self._sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def describe(self) -> dict[str, Any]:
        return dict(self._sfn.describe_execution(executionArn=self.arn))

    def steps(self, timeout: float, on_idle: Callable[[str], None] | None = None) -> Iterator[Step]:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            status = self.describe()["status"]
            self.history = self._fetch_history()
            entered = entered_states(self.history)
            yield from entered[seen:]
            seen = len(entered)
            if status in TERMINAL:
                return
            if on_idle is not None and entered:
                on_idle(entered[-1].state)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.arn} still {status} after {timeout:.0f} s")
            time.sleep(self._poll)


def wait_for_execution(sfn: Any, state_machine_arn: str, name_part: str, timeout: float) -> str:
    """The ARN of the execution whose name contains ``name_part`` (the trigger is async)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for execution in sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]:
            if name_part in execution["name"]:
                return str(execution["executionArn"])
        time.sleep(0.2)
    raise TimeoutError(f"no execution for {name_part} started within {timeout:.0f} s")
