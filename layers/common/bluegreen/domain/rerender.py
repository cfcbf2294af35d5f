"""Rendering again when the turn comes: a render made before it may be built on a revision
the service no longer runs.

Render runs before the approval and before the execution's turn. Meanwhile another
deployment of the service may finish: deploying the revision rendered before would put back
what that one replaced (another repository's older digest, from a template; the live
revision's older fields). So once the lock is this execution's, a stale render is made
again on the live revision: the pushed image stays the approved one, nothing else is asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bluegreen.models import RenderResult

# Render runs at most twice in an execution: before the approval, and once more when the
# turn came (the state machine then deploys: the lock is held, nothing of ours changes the
# service). TakeTurn too: the wait, and a look after a release handed the lock over.
# scripts/check_limits.py counts the history with it.
RENDERS_PER_EXECUTION = 2


def is_stale(render: RenderResult, live_task_definition: str) -> bool:
    """Whether ``render`` was made on another revision than the one the service runs now."""
    return live_task_definition != render.previous_task_definition


def revision_name(task_definition: str) -> str:
    """``web:9`` for a task definition's ARN (or its family:revision)."""
    return task_definition.rsplit("/", 1)[-1]


def rendered_again_words(render: RenderResult) -> str | None:
    """What people read of a render made again (None when it was not): on which revision,
    and whose deployment it was."""
    again = render.rendered_again
    if again is None:
        return None
    live = revision_name(render.previous_task_definition)
    first = revision_name(again.first_task_definition)
    whose = (
        f"which {again.registered_by} deployed while this one waited"
        if again.registered_by
        else "which the service ran by the time this one's turn came"
    )
    return f"rendered again on {live}, {whose} (approved as {first}; the same image)"
