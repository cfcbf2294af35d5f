"""Which pushed images may be deployed, and under which execution name."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from bluegreen.errors import ImageRefused
from bluegreen.models import ImageRef, ServiceConfig

if TYPE_CHECKING:  # the trigger's model: RenderTaskDefinition only checks tags here
    from bluegreen.push import EcrImageAction

# Tags that are moved by design. Refused whatever a service's tag_pattern says.
FLOATING_TAGS = frozenset({"latest", "main", "master", "stable", "prod", "production", "edge"})
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def pin_image(
    service: ServiceConfig, push: EcrImageAction, registry_id: str, region: str
) -> ImageRef:
    """The image to deploy, pinned by digest, or :class:`ImageRefused` with the reason."""
    if push.repository_name != service.repository:
        raise ImageRefused(f"repository {push.repository_name!r} does not deploy {service.name!r}")
    check_tag(service, push.image_tag)
    digest = push.image_digest or ""
    if not _DIGEST.fullmatch(digest):
        raise ImageRefused(f"the push event carries no valid image digest ({digest or 'none'})")
    return ImageRef(
        registry_id=registry_id,
        region=region,
        repository=service.repository,
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


def execution_name(service: ServiceConfig, image: ImageRef) -> str:
    """Deterministic per (service, digest): a duplicated push event names the same execution.

    Step Functions allows 80 characters of ``[A-Za-z0-9_-]``; the digest part stays unique.
    """
    readable = re.sub(r"[^A-Za-z0-9_-]", "-", f"{service.name}-{image.tag}")[:50]
    fingerprint = hashlib.sha256(f"{service.name}|{image.digest}".encode()).hexdigest()[:16]
    return f"{readable}-{fingerprint}"
