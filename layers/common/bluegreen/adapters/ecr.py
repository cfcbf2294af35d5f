"""ECR: what the registry holds under a digest (the trigger believes ECR, not the event)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from bluegreen.adapters.aws import error_code, translated
from bluegreen.domain.image import RegistryImage

if TYPE_CHECKING:
    from mypy_boto3_ecr import ECRClient

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
