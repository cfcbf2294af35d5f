"""ECR: what the registry holds under a digest (the trigger believes ECR, not the event)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from bluegreen.adapters.aws import error_code, translated
from bluegreen.domain.image import RegistryImage
from bluegreen.domain.provenance import provenance_of

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

    from bluegreen.models import Provenance

# The manifests whose annotations may name the commit (an index's, a manifest's).
_MANIFEST_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
]

# DescribeImages' answers for "no such image here": a digest the repository does not hold
# (another repository's included), or a repository that does not exist (any more).
_NOT_THERE = frozenset({"ImageNotFoundException", "RepositoryNotFoundException"})


class EcrImages:
    def __init__(self, client: ECRClient) -> None:
        self._ecr = client

    def by_digest(self, registry_id: str, repository: str, digest: str) -> RegistryImage | None:
        """The image ``digest`` of ``repository`` in ``registry_id``; None when ECR has none."""
        with translated():
            try:
                found = self._ecr.describe_images(
                    registryId=registry_id,
                    repositoryName=repository,
                    imageIds=[{"imageDigest": digest}],
                )
            except ClientError as e:
                if error_code(e) in _NOT_THERE:
                    return None
                raise
        for detail in found.get("imageDetails", []):
            if detail.get("imageDigest") == digest:
                return RegistryImage(
                    digest=digest,
                    tags=frozenset(detail.get("imageTags", [])),
                    pushed_at=detail.get("imagePushedAt"),
                )
        return None

    def provenance(self, registry_id: str, repository: str, digest: str) -> Provenance | None:
        """The commit the image names in its manifest's OCI annotations, if it names one."""
        with translated():
            found = self._ecr.batch_get_image(
                registryId=registry_id,
                repositoryName=repository,
                imageIds=[{"imageDigest": digest}],
                acceptedMediaTypes=_MANIFEST_TYPES,
            )
        for image in found.get("images", []):
            if image.get("imageId", {}).get("imageDigest") == digest:
                return provenance_of(str(image.get("imageManifest") or ""))
        return None
