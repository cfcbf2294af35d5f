"""ECR ``PutImage`` as ECR does it, where moto does not.

- The image digest is the SHA-256 of the manifest exactly as pushed
  (``sha256:<hex>``): a registry addresses content by the digest of its bytes. moto derives
  it from the layers' digests instead, so two manifests with the same layers (or none)
  collide.
- A push to a repository that does not exist answers ``RepositoryNotFoundException``, and a
  manifest that is not JSON ``InvalidParameterException``, instead of a server error.
- A push that names its ``imageDigest`` must name that digest
  (``ImageDigestDoesNotMatchException``).
- ``imagePushedAt`` is to the millisecond, as ECR reports it (moto keeps whole seconds, so
  two pushes within one second would look equally new): :func:`stamp_push_time`.

:func:`checked_put_image` returns the request to hand to moto, carrying the digest moto is
to store.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

from moto.ecr.models import ecr_backends

from bluegreen_cli.local.awserror import AwsError


def image_digest(manifest: str) -> str:
    """The digest ECR gives an image: the SHA-256 of its manifest's bytes."""
    return "sha256:" + hashlib.sha256(manifest.encode("utf-8")).hexdigest()


def checked_put_image(body: dict[str, Any], account_id: str, region: str) -> dict[str, Any]:
    """The ``PutImage`` request with ``imageDigest`` set; :class:`AwsError` if ECR refuses it."""
    name = body.get("repositoryName")
    registry = str(body.get("registryId") or account_id)
    repositories = ecr_backends[account_id][region].repositories
    if registry != account_id or name not in repositories:
        raise AwsError(
            "RepositoryNotFoundException",
            f"The repository with name '{name}' does not exist in the registry "
            f"with id '{registry}'",
        )
    manifest = body.get("imageManifest")
    if not isinstance(manifest, str) or not _is_json(manifest):
        raise AwsError(
            "InvalidParameterException",
            "Invalid parameter at 'ImageManifest' failed to satisfy constraint: "
            "'Invalid JSON syntax'",
        )
    digest = image_digest(manifest)
    named = body.get("imageDigest")
    if named and named != digest:
        raise AwsError(
            "ImageDigestDoesNotMatchException",
            "The specified image digest does not match the digest that Amazon ECR "
            "calculated for the image.",
        )
    return {**body, "imageDigest": digest}


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


_stamping = threading.Lock()
_STAMPED = "_local_push_time_stamped"


def stamp_push_time(account_id: str, region: str, repository: str, digest: str) -> None:
    """Give a newly pushed image its push time to the millisecond; once per image.

    Called when moto has stored the push and before its event is sent, so whoever the event
    reaches reads the precise time. A later tag of the same digest keeps the first time.
    """
    found = ecr_backends[account_id][region].repositories.get(repository)
    with _stamping:
        for image in list(found.images) if found is not None else []:
            if image.image_digest == digest and not getattr(image, _STAMPED, False):
                # moto declares whole seconds; ECR reports milliseconds.
                image.image_pushed_at = round(time.time(), 3)  # type: ignore[assignment]
                setattr(image, _STAMPED, True)
