"""The commit an image names: its manifest's OCI annotations, read from ECR."""

from __future__ import annotations

import json

from bluegreen.adapters.ecr import EcrImages
from bluegreen.domain.provenance import provenance_of
from bluegreen.models import Provenance

from tests.unit.builders import ACCOUNT, Aws

REVISION = "3f2c1e9b7a6d5c4b3a2918f7e6d5c4b3a2918f7e"


def annotated(annotations: dict[str, object]) -> str:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "size": 7,
                "digest": "sha256:" + "c" * 64,
            },
            "layers": [],
            "annotations": annotations,
        }
    )


def test_the_revision_source_and_build_time_are_read_from_the_annotations() -> None:
    manifest = annotated(
        {
            "org.opencontainers.image.revision": REVISION,
            "org.opencontainers.image.source": "https://github.com/acme/web",
            "org.opencontainers.image.created": "2026-03-02T09:00:00Z",
            "org.opencontainers.image.title": "web",
        }
    )

    assert provenance_of(manifest) == Provenance(
        revision=REVISION, source="https://github.com/acme/web", created="2026-03-02T09:00:00Z"
    )


def test_an_image_that_says_nothing_has_no_provenance_and_odd_values_are_bounded() -> None:
    assert provenance_of(annotated({})) is None
    assert provenance_of("not json") is None
    assert provenance_of(annotated({"org.opencontainers.image.revision": 42})) is None
    long = provenance_of(annotated({"org.opencontainers.image.revision": "x" * 5000}))
    assert long is not None
    assert long.revision == "x" * 200


def test_ecr_answers_the_pushed_manifest_and_its_annotations(aws: Aws) -> None:
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName="demo-web")
    manifest = annotated({"org.opencontainers.image.revision": REVISION})
    pushed = ecr.put_image(repositoryName="demo-web", imageManifest=manifest, imageTag="3f2c1e9")
    digest = pushed["image"]["imageId"]["imageDigest"]

    found = EcrImages(ecr).provenance(ACCOUNT, "demo-web", digest)

    assert found == Provenance(revision=REVISION)
