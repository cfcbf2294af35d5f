"""What a deployment of an image would change in the service's task definition, field by field.

The revision is rendered as Render renders it (:func:`bluegreen.steps.render.planned`) over the
revision production runs (or from the service's template), and nothing is registered. Both are
flattened into fields named by their path (lists of named things by name:
``containerDefinitions[web].image``, ``tags[bluegreen:execution]``), and compared; what ECS fills
in by default when a revision leaves it out is no change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bluegreen.domain import taskdef
from bluegreen.domain.image import execution_name
from bluegreen.models import DeploymentState, ImageRef, ServiceConfig
from bluegreen.steps.render import planned


@dataclass(frozen=True)
class Change:
    path: str
    before: Any  # absent from one side: None, and ``added``/``removed`` say so
    after: Any
    added: bool = False
    removed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "before": self.before,
            "after": self.after,
            "added": self.added,
            "removed": self.removed,
        }


@dataclass(frozen=True)
class TaskDefinitionDiff:
    running: str  # the revision production runs (its ARN)
    family: str
    changes: list[Change]


# A described revision as RegisterTaskDefinition takes it back; every leaf by its path.
registrable = taskdef.registrable
fields = taskdef.leaves


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    old, new = fields(before), fields(after)
    changes = []
    for path in sorted(old.keys() | new.keys()):
        if path not in new:
            changes.append(Change(path, old[path], None, removed=True))
        elif path not in old:
            changes.append(Change(path, None, new[path], added=True))
        elif old[path] != new[path]:
            changes.append(Change(path, old[path], new[path]))
    return changes


def deployment_diff(
    service: ServiceConfig, image: ImageRef, current: dict[str, Any], now: datetime
) -> TaskDefinitionDiff:
    """What a deployment of ``image`` (as a push would start it) registers over ``current``."""
    state = DeploymentState(
        execution_name=execution_name(service, image),
        service=service,
        image=image,
        source="cli",
        requested_at=now,
    )
    definition, _ = planned(state, current)
    return TaskDefinitionDiff(
        running=str(current.get("taskDefinitionArn")),
        family=str(current.get("family")),
        changes=diff(taskdef.comparable(registrable(current)), taskdef.comparable(definition)),
    )


def unified(found: TaskDefinitionDiff, tag: str) -> list[str]:
    """The changed fields as a unified diff reads: a hunk per field, - before, + after."""
    lines = [
        f"--- {found.running} (production runs it)",
        f"+++ {found.family} (the revision a deployment of {tag} registers)",
    ]
    for change in found.changes:
        lines.append(f"@@ {change.path} @@")
        if not change.added:
            lines.append(f"-{json.dumps(change.before)}")
        if not change.removed:
            lines.append(f"+{json.dumps(change.after)}")
    return lines
