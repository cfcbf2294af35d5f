"""How people tell images apart: a digest's first hex characters.

Kept apart from :mod:`bluegreen.domain.image` so the functions that only name images (the
approval API, through the service's queue) do not build the state machine's models.
"""

SHORT_DIGEST_LENGTH = 12  # hex characters, as container tools show an image id


def short_digest(digest: str) -> str:
    """The digest's first hex characters: how people (and execution names) tell images apart."""
    return digest.removeprefix("sha256:")[:SHORT_DIGEST_LENGTH]
