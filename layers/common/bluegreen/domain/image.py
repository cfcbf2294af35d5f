"""Which pushed images may be deployed, and under which execution name."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bluegreen.domain.digest import short_digest
from bluegreen.errors import ImageRefused
from bluegreen.models import ImageRef, ServiceConfig

if TYPE_CHECKING:  # the trigger's model: RenderTaskDefinition only checks tags here
    from bluegreen.push import EcrImageAction

# Tags that are moved by design. Refused whatever a service's tag_pattern says.
FLOATING_TAGS = frozenset({"latest", "main", "master", "stable", "prod", "production", "edge"})
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# Step Functions' execution names: at most 80 characters; ours use only [A-Za-z0-9_-].
NAME_MAX_LENGTH = 80
_SERVICE_PART_MAX = 50  # leaves room for the digest and a retry's suffix


@dataclass(frozen=True)
class RegistryImage:
    """An image as the registry knows it: the truth the push event only claims."""

    digest: str
    tags: frozenset[str]
    pushed_at: datetime | None


def pin_image(
    service: ServiceConfig, push: EcrImageAction, registry_id: str, region: str
) -> ImageRef:
    """The image to deploy, pinned by digest, or :class:`ImageRefused` with the reason."""
    if push.repository_name not in service.repositories:
        raise ImageRefused(f"repository {push.repository_name!r} does not deploy {service.name!r}")
    check_tag(service, push.image_tag)
    digest = push.image_digest or ""
    if not _DIGEST.fullmatch(digest):
        raise ImageRefused(f"the push event carries no valid image digest ({digest or 'none'})")
    return ImageRef(
        registry_id=registry_id,
        region=region,
        repository=push.repository_name,
        tag=str(push.image_tag),
        digest=digest,
    )


def check_tag(service: ServiceConfig, tag: str | None) -> None:
    """Refuse tags that move: they make "which commit runs in prod?" unanswerable."""
    if not tag:
        raise ImageRefused("the image was pushed without a tag; push it as <repository>:<commit>")
    if tag.lower() in FLOATING_TAGS:
        raise ImageRefused(
            f"tag {tag!r} is mutable and cannot identify a release; "
            "push an immutable tag such as the commit SHA"
        )
    if not re.fullmatch(service.tag_pattern, tag):
        raise ImageRefused(
            f"tag {tag!r} does not match the immutable tag pattern of {service.name!r} "
            f"({service.tag_pattern})"
        )


def confirmed(image: ImageRef, found: RegistryImage | None) -> ImageRef:
    """``image`` as the registry confirms it, with its push time; :class:`ImageRefused` when
    the registry does not hold that digest in that repository, or the digest lacks the tag."""
    where = f"repository {image.repository!r} (registry {image.registry_id})"
    if found is None or found.digest != image.digest:
        raise ImageRefused(f"digest {image.digest} is not an image of {where}")
    if image.tag not in found.tags:
        carried = ", ".join(sorted(found.tags)) or "none"
        raise ImageRefused(
            f"digest {image.digest} does not carry tag {image.tag!r} in {where} "
            f"(its tags: {carried})"
        )
    return image.model_copy(update={"pushed_at": found.pushed_at})


def execution_name(service: ServiceConfig, image: ImageRef) -> str:
    """Deterministic per (service, environment, digest), whatever the tag: one image, one
    execution in each environment.

    ECR sends one event per tag, and EventBridge may deliver each more than once: every one
    of them names the same execution; so does a promotion started twice. Reads as
    ``<service>-<environment>-<short digest>`` for a service with several environments, and
    ``<service>-<short digest>`` for a service with one (as before environments). A name
    that had to be shortened or changed to fit Step Functions' ``[A-Za-z0-9_-]`` keeps a
    fingerprint of the original, so two services (or environments) never share a name; so
    does an environment whose name holds a ``-`` (else ``web`` in ``prod-eu`` and
    ``web-prod`` in ``eu`` would read alike).
    """
    if len(service.pipeline) > 1:
        return f"{_target_part(service.name, service.environment)}-{short_digest(image.digest)}"
    return f"{_service_part(service.name)}-{short_digest(image.digest)}"


def retry_name(name: str, attempt: int) -> str:
    """The name of an explicit retry: ``<first execution's name>-retry<attempt>`` (≤ 80)."""
    base = re.sub(r"-retry\d+$", "", name)
    suffix = f"-retry{attempt}"
    return base[: NAME_MAX_LENGTH - len(suffix)] + suffix


def rollback_name(service: ServiceConfig, image: ImageRef, attempt: int) -> str:
    """The name of an operator's rollback to ``image``: ``<execution name>-rollback<N>``.

    Apart from the image's first deployment (``execution_name``), which keeps its own for
    90 days; ``attempt`` counts the rollbacks to that image (at most 75 characters).
    """
    return f"{execution_name(service, image)}-rollback{attempt}"


def _service_part(name: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9_-]", "-", name)
    if readable == name and len(name) <= _SERVICE_PART_MAX:
        return name
    fingerprint = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{readable[: _SERVICE_PART_MAX - 9]}-{fingerprint}"


def _target_part(name: str, environment: str) -> str:
    """``<service>-<environment>``, within the service part's budget, unambiguous."""
    readable = re.sub(r"[^A-Za-z0-9_-]", "-", f"{name}-{environment}")
    plain = f"{name}-{environment}"
    if readable == plain and "-" not in environment and len(plain) <= _SERVICE_PART_MAX:
        return plain
    fingerprint = hashlib.sha256(f"{name}\n{environment}".encode()).hexdigest()[:8]
    return f"{readable[: _SERVICE_PART_MAX - 9]}-{fingerprint}"
