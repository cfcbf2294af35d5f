"""Newest wins: admit an image, give way to a newer one, wait for the turn, wake the next.

See :mod:`bluegreen.domain.queue` for the rules; the store applies them atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from bluegreen.domain.queue import Displaced, Queued, QueuedImage, Released, queued_image
from bluegreen.domain.rerender import is_stale
from bluegreen.errors import ApprovalExpired
from bluegreen.models import DeploymentState, Turn, TurnTask

if TYPE_CHECKING:
    from bluegreen.domain.approval import ApprovalRecord
    from bluegreen.domain.recovery import OwnerExecution


class Queue(Protocol):
    def admit(self, key: str, image: QueuedImage, rollback: bool = False) -> Displaced | None: ...
    def take_turn(self, key: str, image: QueuedImage, token: str, now: datetime) -> Queued: ...


class Approvals(Protocol):
    def supersede_approval(self, approval_id: str, by: str, at: datetime) -> bool: ...
    def get_approval(self, approval_id: str) -> ApprovalRecord: ...


class Callbacks(Protocol):
    def succeed(self, token: str, output: dict[str, Any]) -> None: ...
    def fail(self, token: str, error: str, cause: str) -> None: ...


class Owners(Protocol):
    def describe(self, name: str) -> OwnerExecution | None: ...


class Recovery(Protocol):
    def request(self, lock_key: str) -> None: ...


class LiveRevisions(Protocol):
    def live(self, cluster: str, service: str) -> str: ...


def admit(
    state: DeploymentState,
    queue: Queue,
    approvals: Approvals,
    callbacks: Callbacks,
    now: datetime,
) -> DeploymentState:
    """Make this image the service's next, superseding the one that waited; or refuse it
    (``Superseded``, ``ImageOutdated``) before anything is registered or sent.

    An operator's rollback is admitted whatever its image's push time."""
    image = queued_image(state)
    rollback = state.source == "rollback"
    displaced = queue.admit(state.service.lock_key, image, rollback=rollback)
    if displaced is not None:
        supersede(displaced, image, approvals, callbacks, now, rollback=rollback)
    return state


def supersede(
    displaced: Displaced,
    by: QueuedImage,
    approvals: Approvals,
    callbacks: Callbacks,
    now: datetime,
    rollback: bool = False,
) -> None:
    """End the displaced execution's wait at once: its approval (whose links then accept no
    decision), or its turn. One approved and on its way to the queue finds out there."""
    cause = (
        f"superseded by a rollback to {by.label}"
        if rollback
        else f"superseded by {by.label}, pushed later"
    )
    tokens = []
    if displaced.approval_id and approvals.supersede_approval(displaced.approval_id, by.label, now):
        tokens.append(approvals.get_approval(displaced.approval_id).task_token)
    if displaced.token:
        tokens.append(displaced.token)
    for token in tokens:
        _answer(callbacks.fail, token, "Superseded", cause)


def take_turn(
    task: TurnTask,
    queue: Queue,
    callbacks: Callbacks,
    owners: Owners,
    recovery: Recovery,
    revisions: Callable[[], LiveRevisions],
    now: datetime,
) -> Queued:
    """Take the lock now (answer our own token), or wait behind its owner.

    The releaser hands the lock over and wakes us (``$.turn.acquired``); a lock whose owner
    has ended (stopped while its cleanup event was lost) goes to the janitor's recovery,
    which releases it so. A lost wake-up is made good when the wait times out and the
    state machine asks again: the lock is ours by then.

    Answering ourselves, we say whether the render is stale (the service runs another
    revision than the one it was made on: see :mod:`bluegreen.domain.rerender`); a
    releaser does not look, and the state machine asks us again to. ``revisions`` reaches
    the environment's ECS, only then (a wait needs no client, nor a role's session).
    """
    state = task.state
    service = state.service
    key = service.lock_key
    queued = queue.take_turn(key, queued_image(state), task.task_token, now)
    if queued.behind is None:
        behind = state.turn.behind if state.turn else None
        live = revisions().live(service.cluster, service.service)
        stale = state.render is not None and is_stale(state.render, live)
        turn = Turn(acquired=True, behind=behind, at=now, stale=stale)
        callbacks.succeed(task.task_token, turn.model_dump(mode="json", exclude_none=True))
        return queued
    owner = owners.describe(queued.behind.execution)
    if owner is None or not owner.running:
        recovery.request(key)
    return queued


class Locks(Protocol):
    def release_lock(
        self, key: str, owner: str, now: datetime, deployed: bool = False
    ) -> Released | None: ...


def release(
    key: str, owner: str, locks: Locks, callbacks: Callbacks, now: datetime, deployed: bool
) -> None:
    """Release ``owner``'s lock; the execution waiting for its turn gets it and is woken.

    One that no longer waits (stopped, timed out) gives the lock straight back.
    """
    released = locks.release_lock(key, owner, now, deployed)
    while released is not None and released.handed_to and released.wake:
        turn = Turn(acquired=True, behind=owner, at=now)
        try:
            callbacks.succeed(released.wake, turn.model_dump(mode="json", exclude_none=True))
            return
        except ApprovalExpired:
            owner = released.handed_to
            released = locks.release_lock(key, owner, now)


def _answer(send: Callable[..., None], token: str, *args: Any) -> None:
    # An execution that no longer waits (stopped, timed out) has nothing to be told.
    with suppress(ApprovalExpired):
        send(token, *args)
