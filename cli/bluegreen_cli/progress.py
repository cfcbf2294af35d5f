"""Where a running deployment is, in words, with its counters: what `--follow` shows.

:func:`progress` reads the state the execution is in, its document as far as it got and its
history (the same facts `show` reads, see :mod:`bluegreen_cli.reading`), plus the share of
production traffic CodeDeploy reports while traffic shifts. Times are given by a clock
function: a terminal's line may say seconds, a log's says coarser steps so that a long wait
does not print a line a second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bluegreen_cli.reading import entered_at, probe_count, rollout_tasks, submitted

Clock = Callable[[float], str]


@dataclass(frozen=True)
class Progress:
    phase: str  # as the phases table names it, where the state belongs to one
    text: str  # what happens now, with its counters

    def line(self) -> str:
        return f"{self.phase}: {self.text}"


def fine(seconds: float) -> str:
    """``45 s``, ``3 min 12 s``, ``3 h 04 min``: for a line that updates in place."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def coarse(seconds: float) -> str:
    """Steps of 5 minutes, then of an hour: a log line when one is crossed, no more."""
    seconds = max(0, int(seconds))
    if seconds < 300:
        return "under 5 min"
    if seconds < 3600:
        return f"{seconds // 300 * 5} min"
    return f"{seconds // 3600} h"


def span(seconds: float) -> str:
    """A configured duration: ``24 h``, ``90 min``, ``45 s``."""
    seconds = int(seconds)
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


# Each state of the flow, and the phase it belongs to (Wait and Choice states included: a
# poll loop spends most of its time in them).
_PHASE = {
    "Admit": "admit",
    "RenderTaskDefinition": "render task definition",
    "RequestApproval": "wait for approval",
    "TakeTurn": "wait for the service",
    "IsRenderCurrent": "wait for the service",
    "ByMethod": "wait for the service",
    "SuspendScaling": "suspend scaling",
    # Method "rolling": ECS's own rolling update.
    "StartRollout": "roll out",
    "WaitForRollout": "roll out",
    "CheckRollout": "roll out",
    "IsRolledOut": "roll out",
    "ReleaseRollout": "release the service",
    "RollBackRollout": "roll back",
    "IsRolloutRolledBack": "roll back",
    "WaitForRolloutRollback": "roll back",
    "ReleaseAfterRollout": "roll back",
    "IsRolloutCleanupComplete": "roll back",
    "CreateDeployment": "green task set up",
    "WaitForReady": "green task set up",
    "CheckReady": "green task set up",
    "IsReady": "green task set up",
    "ProbeTestListener": "verify on test listener",
    "IsVerified": "verify on test listener",
    "WaitBeforeProbe": "verify on test listener",
    "ContinueDeployment": "shift production traffic",
    "WaitForCompletion": "shift production traffic",
    "CheckCompletion": "shift production traffic",
    "IsComplete": "shift production traffic",
    "ResumeScaling": "resume scaling",
    "Rollback": "roll back",
    "RollbackStarted": "roll back",
    "WaitForRollback": "roll back",
    "CheckRollback": "roll back",
    "IsRolledBack": "roll back",
    "ResumeAfterRollback": "roll back",
    "IsLiveReleaseDone": "resume scaling",
    "ResumeLiveRelease": "resume scaling",
    "NotifyDeployed": "notify",
    "NotifyRolledBack": "notify",
    "NotifyNotDeployed": "notify",
    "NotifyNeedsAttention": "notify",
    "Promote": "promote",
}

# States whose phase watches CodeDeploy shift production traffic.
SHIFTING = frozenset({"WaitForCompletion", "CheckCompletion", "IsComplete"})


def progress(
    state: str | None,
    document: dict[str, Any] | None,
    history: list[dict[str, Any]],
    now: datetime,
    clock: Clock = fine,
    traffic: float | None = None,
) -> Progress | None:
    """Where the execution is now; None in an end state (the outcome says the rest).

    ``traffic``: the share of production traffic on the new version, while it shifts.
    """
    phase = _PHASE.get(state or "")
    if state is None or phase is None:
        return None
    since = entered_at(history, _SINCE.get(state, state))
    if state in ROLLOUT_ROLLBACK:  # its loop re-enters RollBackRollout: it began earlier
        began = (((document or {}).get("rollout") or {}).get("rollback") or {}).get("started_at")
        since = datetime.fromisoformat(began) if began else since
    waited = clock((now - since).total_seconds()) if since else "?"
    return Progress(phase, _text(state, document or {}, history, traffic, waited))


# A poll loop's time counts from the state that began it.
_SINCE = {
    **dict.fromkeys(("WaitForRollback", "CheckRollback", "IsRolledBack"), "Rollback"),
    **dict.fromkeys(("WaitForRollout", "CheckRollout", "IsRolledOut"), "StartRollout"),
}
ROLLOUT_ROLLBACK = frozenset({"RollBackRollout", "IsRolloutRolledBack", "WaitForRolloutRollback"})


def _text(
    state: str,
    doc: dict[str, Any],
    history: list[dict[str, Any]],
    traffic: float | None,
    waited: str,
) -> str:
    service = doc.get("service") or {}
    timings = service.get("timings") or {}
    deployment = doc.get("deployment") or {}
    if state == "Admit":
        return "checking this is the service's newest image"
    if state == "RenderTaskDefinition":
        return "registering the task definition, the image pinned by its digest"
    if state == "RequestApproval":
        asked = submitted(history, "RequestApproval")
        if asked is None:
            return "asking for approval"
        whom = list(asked.get("emailed") or []) + (["Slack"] if asked.get("slack") else [])
        timeout = span(int(timings.get("approval_timeout_seconds", 86400)))
        return f"waiting for {', '.join(whom) or 'nobody reached'}: {waited} of {timeout}"
    if state == "TakeTurn":
        turn = submitted(history, "TakeTurn")
        behind = (turn or {}).get("behind")
        return f"waiting behind {behind} for {waited}" if behind else "taking the service's lock"
    if state in ("IsRenderCurrent", "ByMethod"):
        return "the service's lock is this deployment's"
    if state == "StartRollout":
        return "updating the ECS service to the new task definition (ECS rolling update)"
    if state in ("WaitForRollout", "CheckRollout", "IsRolledOut"):
        rollout = doc.get("rollout") or {}
        polls = f"poll {rollout.get('polls', 0)} of {timings.get('deployment_max_polls', '?')}"
        return (
            f"{rollout_tasks(rollout)}, ECS deployment {rollout.get('deployment_id', '?')} "
            f"{rollout.get('rollout_state', 'IN_PROGRESS')} ({polls}, {waited})"
        )
    if state == "ReleaseRollout":
        return "ECS completed the rollout: releasing the service's lock"
    if state in ROLLOUT_ROLLBACK:
        rollback = (doc.get("rollout") or {}).get("rollback") or {}
        if not rollback:
            return "bringing the service back to the revision it ran"
        by = "ECS's circuit breaker rolls" if rollback.get("by") == "ecs" else "rolling"
        return (
            f"{by} the service back to {rollback.get('task_definition') or 'its previous revision'}"
            f": {rollback.get('rollout_state') or 'starting'} "
            f"(check {rollback.get('checks', 0)}, {waited})"
        )
    if state in ("ReleaseAfterRollout", "IsRolloutCleanupComplete"):
        return "back on the previous revision: releasing the service's lock"
    if state == "SuspendScaling":
        return "saving Application Auto Scaling's state, then suspending it"
    if state == "CreateDeployment":
        return "creating the CodeDeploy blue/green deployment"
    if state in ("WaitForReady", "CheckReady", "IsReady"):
        polls = f"poll {deployment.get('polls', 0)} of {timings.get('deployment_max_polls', '?')}"
        return (
            f"CodeDeploy {deployment.get('status', 'Created')}, {polls}: the green task set "
            "comes up behind the test listener"
        )
    if state in ("ProbeTestListener", "IsVerified", "WaitBeforeProbe"):
        checks = probe_count(doc)
        if checks is None:
            return "first check through the test listener"
        return (
            f"probe {checks.passes_in_a_row}/{checks.required} passed "
            f"(check {checks.checks} of at most {checks.max_checks})"
        )
    if state == "ContinueDeployment":
        return "verified: CodeDeploy starts shifting production traffic"
    if state in SHIFTING:
        if traffic is None:
            return "CodeDeploy moves production traffic to the new version"
        if traffic >= 100:
            return (
                "traffic 100% on the new version; CodeDeploy finishing "
                "(blue is terminated after the group's wait)"
            )
        return f"traffic {traffic:.0f}% → 100% on the new version"
    if state in ("ResumeScaling", "ResumeAfterRollback"):
        return "restoring Application Auto Scaling exactly as it was"
    if state in ("Rollback", "RollbackStarted"):
        return "stopping the deployment with rollback: production stays on (or returns to) blue"
    if state in ("WaitForRollback", "CheckRollback", "IsRolledBack"):
        rollback = doc.get("rollback") or {}
        who = rollback.get("rollback_deployment_id") or "its rollback"
        return (
            f"CodeDeploy's rollback {who} {rollback.get('status') or 'starting'} "
            f"(check {rollback.get('checks', 0)}, {waited})"
        )
    if state in ("IsLiveReleaseDone", "ResumeLiveRelease"):
        return "live, its end not seen: restoring scaling, nothing rolled back"
    if state == "Promote":
        return "recording what the environment runs; promoting it to the next environment"
    return "announcing the outcome"
