"""The scale benchmark's safety counts, computed on what AWS says once every execution ended.

Each must be 0. The facts come from outside the app (CodeDeploy, ECS, ECR, the load
balancer, the state table), never from the app's own account of what it did. A service
with several environments (dev, then prod) is judged in each apart: the same digest
deployed to dev and then to prod is the pipeline, not a double.

``double_deployments``
    Deployments that put a digest on a service's environment where a successful deployment
    had already put it: for each (service, environment, digest), the successful deployments
    past the first.

``older_over_newer``
    The sum of two counts, kept apart in the report:

    - ``backwards``: a successful deployment whose image ECR pushed (``imagePushedAt``)
      strictly before the image of an earlier successful deployment to the same service's
      same environment. Deployments are ordered by when they completed (CodeDeploy's
      ``completeTime``, ECS's rollout reaching ``COMPLETED``), then by when they were
      created: the moment the environment took the image. It went back to an older image.
    - ``stale``: a service that, at the end, runs an image pushed strictly before the newest
      of its images whose approval was accepted (the decision form was submitted and the page
      answered 200). An approved newer image lost to an older one, or was never deployed
      although its approver was told it would be.

    Images pushed in the same millisecond are neither older nor newer than each other.

``locks_held``
    ``LOCK#`` items of the state table that still name an ``owner``.

Deployments that CodeDeploy itself creates to roll back (``creator`` ``codeDeployRollback``),
and ECS's circuit breaker rolling a service back, are not deployments of an image by the app:
they are counted as rollbacks and left out above.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# (service, digest): the same bytes pushed to two repositories are two images.
ImageKey = tuple[str, str]


@dataclass(frozen=True)
class Deployment:
    """One successful deployment of an image to a service's environment (CodeDeploy's, or
    ECS's rolling update)."""

    service: str
    digest: str
    completed_at: float  # epoch seconds
    created_at: float
    deployment_id: str
    environment: str = ""  # one of the service's environments ("": its only one)


@dataclass(frozen=True)
class SafetyCounts:
    double_deployments: int
    backwards: int
    stale: int
    locks_held: int

    @property
    def older_over_newer(self) -> int:
        return self.backwards + self.stale


def double_deployments(deployments: Iterable[Deployment]) -> int:
    per_image = Counter((d.service, d.environment, d.digest) for d in deployments)
    return sum(count - 1 for count in per_image.values())


def backwards(deployments: Iterable[Deployment], pushed_at: Mapping[ImageKey, float]) -> int:
    """Successful deployments of an image older than one the environment already took.

    An image whose push time is unknown (not in ``pushed_at``) cannot be judged: skipped.
    """
    by_target: dict[tuple[str, str], list[Deployment]] = {}
    for deployment in deployments:
        by_target.setdefault((deployment.service, deployment.environment), []).append(deployment)
    found = 0
    for (service, _), history in by_target.items():
        newest: float | None = None
        for deployment in sorted(history, key=lambda d: (d.completed_at, d.created_at)):
            pushed = pushed_at.get((service, deployment.digest))
            if pushed is None:
                continue
            if newest is not None and pushed < newest:
                found += 1
            newest = pushed if newest is None else max(newest, pushed)
    return found


def stale(
    final: Mapping[str, str | None],
    approved: Iterable[ImageKey],
    pushed_at: Mapping[ImageKey, float],
) -> int:
    """Services whose final image is older than the newest image approved for them.

    ``final`` maps each service to the digest production serves at the end (None: unknown,
    which counts as older than any approved image).
    """
    newest_approved: dict[str, float] = {}
    for service, digest in approved:
        pushed = pushed_at.get((service, digest))
        if pushed is not None:
            newest_approved[service] = max(pushed, newest_approved.get(service, pushed))
    found = 0
    for service, wanted in newest_approved.items():
        serving = final.get(service)
        running = pushed_at.get((service, serving)) if serving else None
        if running is None or running < wanted:
            found += 1
    return found


def held_locks(items: Iterable[Mapping[str, Any]]) -> list[str]:
    """The keys of the state table's lock items that still name an owner."""
    return sorted(
        str(item["pk"])
        for item in items
        if str(item.get("pk", "")).startswith("LOCK#") and item.get("owner")
    )


def count(
    deployments: Iterable[Deployment],
    pushed_at: Mapping[ImageKey, float],
    final: Mapping[str, str | None],
    approved: Iterable[ImageKey],
    lock_items: Iterable[Mapping[str, Any]],
) -> SafetyCounts:
    done = list(deployments)
    return SafetyCounts(
        double_deployments=double_deployments(done),
        backwards=backwards(done, pushed_at),
        stale=stale(final, approved, pushed_at),
        locks_held=len(held_locks(lock_items)),
    )
