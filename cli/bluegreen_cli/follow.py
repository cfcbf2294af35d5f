"""Follow a deployment execution through its history: progress as it happens, phases after."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from bluegreen_cli.progress import SHIFTING, Clock, Progress, coarse, fine, progress
from bluegreen_cli.reading import latest_document, readable_cause, traffic_on_new

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})

# (label, the state whose first entry starts the phase). A phase ends where the next begins.
PHASES: tuple[tuple[str, str], ...] = (
    ("render task definition", "RenderTaskDefinition"),
    ("wait for approval", "RequestApproval"),
    ("suspend scaling", "SuspendScaling"),
    ("roll out", "StartRollout"),
    ("release the service", "ReleaseRollout"),
    ("roll back", "RollBackRollout"),
    ("green task set up", "CreateDeployment"),
    ("verify on test listener", "ProbeTestListener"),
    ("shift production traffic", "ContinueDeployment"),
    ("resume scaling", "ResumeScaling"),
    ("roll back", "Rollback"),
    ("notify", "NotifyDeployed"),
    ("notify", "NotifyRolledBack"),
    ("notify", "NotifyNotDeployed"),
    ("notify", "NotifyNeedsAttention"),
    ("promote", "Promote"),
)


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
                return sorted(events, key=lambda e: int(e.get("id", 0)))
            kwargs["nextToken"] = page["nextToken"]

    def describe(self) -> dict[str, Any]:
        return dict(self._sfn.describe_execution(executionArn=self.arn))

    def polls(self, timeout: float) -> Iterator[tuple[dict[str, Any], list[Step]]]:
        """After each look: the execution as described, and the states entered since the
        last look. Ends once the execution has ended."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            described = self.describe()
            self.history = self._fetch_history()
            entered = entered_states(self.history)
            yield described, entered[seen:]
            seen = len(entered)
            if described["status"] in TERMINAL:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.arn} still {described['status']} after {timeout:.0f} s")
            time.sleep(self._poll)

    def steps(self, timeout: float, on_idle: Callable[[str], None] | None = None) -> Iterator[Step]:
        for described, entered in self.polls(timeout):
            yield from entered
            if described["status"] not in TERMINAL and on_idle is not None and self.history:
                last = entered_states(self.history)
                if last:
                    on_idle(last[-1].state)


class ProgressView:
    """Progress on one line that updates in place in a terminal (each phase left behind as
    a line of its own); piped, one plain line per change, never the same line twice."""

    def __init__(self, console: Console, started: datetime) -> None:
        self._console = console
        self._started = started
        self._terminal = console.is_terminal
        self._status: Status | None = None
        self._last: Progress | None = None

    @property
    def clock(self) -> Clock:
        return fine if self._terminal else coarse

    def _stamp(self, now: datetime) -> str:
        return f"[dim]{max(0.0, (now - self._started).total_seconds()):7.1f}s[/]"

    def show(self, current: Progress | None, now: datetime) -> None:
        if current is None or current == self._last:
            return
        if not self._terminal:
            self._console.print(f"{self._stamp(now)}  {escape(current.line())}")
        else:
            if self._last is not None and self._last.phase != current.phase:
                self._console.print(f"{self._stamp(now)}  {escape(self._last.line())}")
            if self._status is None:
                self._status = self._console.status(escape(current.line()))
                self._status.start()
            self._status.update(escape(current.line()))
        self._last = current

    def say(self, text: str) -> None:
        """A line of its own, whatever the progress (a link, a decision made)."""
        self._console.print(text)

    def close(self, now: datetime) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
            if self._last is not None:
                self._console.print(f"{self._stamp(now)}  {escape(self._last.line())}")


def follow_execution(
    clients: Callable[[str], Any],
    arn: str,
    view: ProgressView | None,
    timeout: float,
    poll_seconds: float = 1.0,
    on_state: Callable[[str], None] | None = None,
) -> ExecutionWatcher:
    """Follow the execution to its end, showing where it is with its counters.

    ``clients(name)`` gives the AWS clients (Step Functions; CodeDeploy for the share of
    traffic while it shifts). Without a ``view``, nothing is shown. ``on_state`` hears of
    each state entered, in order. Raises ``TimeoutError`` after ``timeout`` seconds (the
    execution goes on).
    """
    watcher = ExecutionWatcher(clients("stepfunctions"), arn, poll_seconds)
    try:
        for described, entered in watcher.polls(timeout):
            for step in entered:
                if on_state is not None:
                    on_state(step.state)
            if view is not None and described["status"] not in TERMINAL:
                _show(view, clients, described, watcher.history)
    finally:
        if view is not None:
            view.close(datetime.now(UTC))
    return watcher


def _show(
    view: ProgressView,
    clients: Callable[[str], Any],
    described: dict[str, Any],
    history: list[dict[str, Any]],
) -> None:
    now = datetime.now(UTC)
    entered = entered_states(history)
    state = entered[-1].state if entered else None
    document = latest_document(described, history)
    deployment_id = ((document or {}).get("deployment") or {}).get("deployment_id")
    traffic = None
    if state in SHIFTING and deployment_id:
        traffic = traffic_on_new(clients("codedeploy"), str(deployment_id))
    view.show(progress(state, document, history, now, view.clock, traffic), now)


# How an execution ended, by its end state (or its status when no end state was reached).
_ENDINGS = {
    "Deployed": "deployed",
    "RolledBack": "rolled back",
    "NotDeployed": "not deployed",
    "NeedsAttention": "NEEDS ATTENTION",
    "Unannounced": "ended, its outcome not announced",
    "ABORTED": "stopped",
    "TIMED_OUT": "timed out",
}


def ending(described: dict[str, Any], history: list[dict[str, Any]]) -> str:
    """How the execution ended, in words: deployed, rolled back, not deployed (and why)."""
    status = str(described["status"])
    entered = entered_states(history)
    last = entered[-1].state if entered else ""
    words = _ENDINGS.get(last) or _ENDINGS.get(status) or status.lower()
    if status != "SUCCEEDED" and described.get("error"):
        cause = readable_cause(described.get("cause"))
        why = f"{described['error']}: {cause}" if cause else str(described["error"])
        words += f" ({why if len(why) <= 200 else why[:199] + '…'})"
    return words


def console_link(execution_arn: str) -> str:
    """The execution's page in the Step Functions console (its partition's console)."""
    parts = execution_arn.split(":")
    partition, region = parts[1], parts[3]
    host = {
        "aws-cn": "console.amazonaws.cn",
        "aws-us-gov": "console.amazonaws-us-gov.com",
    }.get(partition, "console.aws.amazon.com")
    return (
        f"https://{region}.{host}/states/home?region={region}"
        f"#/v2/executions/details/{execution_arn}"
    )


def wait_for_execution(sfn: Any, state_machine_arn: str, name_part: str, timeout: float) -> str:
    """The ARN of the execution whose name contains ``name_part`` (the trigger is async)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for execution in sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]:
            if name_part in execution["name"]:
                return str(execution["executionArn"])
        time.sleep(0.2)
    raise TimeoutError(f"no execution for {name_part} started within {timeout:.0f} s")
