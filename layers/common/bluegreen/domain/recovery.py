"""Recovering a service lock whose owner execution ended: what was found, what was done.

A lock (``LOCK#<cluster>/<service>``) names its owner execution. While that execution runs
the lock is its own, whatever it is doing. Once it has ended (or no longer exists) and still
holds the lock, nobody will release it: its cleanup event was lost, or its cleanup failed.
Recovering it is the janitor's cleanup, run for that execution.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

# Step Functions' statuses of an execution that may still act on its service: RUNNING, and
# PENDING_REDRIVE (a redrive was asked for: it runs again from where it failed).
STILL_RUNNING = frozenset({"RUNNING", "PENDING_REDRIVE"})

MISSING = "MISSING"
"""The owner's status when Step Functions knows no such execution."""

Outcome = Literal["free", "left-alone", "recovered", "waiting", "failed"]
"""free: no lock held; left-alone: its owner still runs; recovered: rolled back, scaling
restored, released; waiting: CodeDeploy's rollback is still under way (the next attempt
finishes it); failed: an error stopped the recovery (the lock stays held)."""


@dataclass(frozen=True)
class OwnerExecution:
    """The execution a lock names, as Step Functions describes it."""

    name: str
    status: str
    input: str | None
    stopped_at: datetime | None

    @property
    def running(self) -> bool:
        return self.status in STILL_RUNNING


@dataclass
class LockReport:
    """One lock: what the janitor found and what it did (printed by ``bluegreen recover``)."""

    lock: str  # cluster/service
    outcome: Outcome
    owner: str | None = None
    since: str | None = None
    owner_status: str | None = None  # a Step Functions status, or MISSING
    actions: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def still_held_by_ended_owner(self) -> bool:
        return self.outcome in ("waiting", "failed")
