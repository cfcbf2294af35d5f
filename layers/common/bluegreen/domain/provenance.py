"""Where an image came from, as it says itself: the OCI annotations of its manifest.

``org.opencontainers.image.revision`` (the commit), ``.source`` (the repository's URL) and
``.created`` (when it was built), as ``docker buildx --annotation`` and most CI actions
write them. Values are untrusted: kept bounded, shown escaped.
"""

from __future__ import annotations

import json

from bluegreen.models import Provenance

_PREFIX = "org.opencontainers.image."
_BOUNDS = {"revision": 200, "source": 500, "created": 64}


def provenance_of(manifest: str) -> Provenance | None:
    """The provenance a manifest (or an image index) annotates; None when it says nothing."""
    try:
        document = json.loads(manifest)
    except ValueError:
        return None
    annotations = document.get("annotations") if isinstance(document, dict) else None
    if not isinstance(annotations, dict):
        return None
    found = {
        field: str(annotations[_PREFIX + field])[:bound]
        for field, bound in _BOUNDS.items()
        if isinstance(annotations.get(_PREFIX + field), str) and annotations[_PREFIX + field]
    }
    return Provenance(**found) if found else None
