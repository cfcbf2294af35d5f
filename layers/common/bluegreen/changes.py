"""One field a release changes in the task definition: what Render finds, approvers review.

Apart from the state machine's document (:mod:`bluegreen.models`, which carries it too), so
that the approval API can read approval records without building that document's models.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FieldChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    # None: the field is absent on that side (added, removed); the execution's document
    # leaves None out, so absent reads back as None.
    before: str | None = None
    after: str | None = None
