"""Placeholder rendering, for any template: every placeholder becomes exactly its
repository's pinned image, nothing else in the document changes, no placeholder is left,
and rendering a rendered document again changes nothing."""

from __future__ import annotations

import copy
from typing import Any

from bluegreen.domain import template
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.builders import ACCOUNT, REGION, demo_service, image

REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"

placeholders = st.from_regex(r"[A-Z][A-Z0-9_]{0,12}", fullmatch=True)
repositories = st.from_regex(r"[a-z][a-z0-9-]{1,20}", fullmatch=True)
container_names = st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True)
digests = st.from_regex(r"[0-9a-f]{64}", fullmatch=True).map(lambda hex_: f"sha256:{hex_}")
# Whatever else a document holds: any JSON, placeholder-looking text included.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
other_fields = st.dictionaries(
    st.text(min_size=1, max_size=12).filter(lambda k: k not in ("name", "image")),
    json_values,
    max_size=4,
)


@st.composite
def templates(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, str]]:
    """A template whose containers' images are placeholders, and each placeholder's repository."""
    names = draw(st.lists(placeholders, min_size=1, max_size=4, unique=True))
    repos = draw(st.lists(repositories, min_size=len(names), max_size=len(names), unique=True))
    images = dict(zip(names, repos, strict=True))
    containers = [
        {**draw(other_fields), "name": name, "image": f"<{draw(st.sampled_from(names))}>"}
        for name in draw(st.lists(container_names, min_size=1, max_size=6, unique=True))
    ]
    document = {**draw(other_fields), "family": "web", "containerDefinitions": containers}
    return document, images


def pinned_images(images: dict[str, str], draw_digest: Any) -> dict[str, str]:
    return {p: f"{REGISTRY}/{repository}@{draw_digest}" for p, repository in images.items()}


def without_images(document: dict[str, Any]) -> dict[str, Any]:
    stripped = copy.deepcopy(document)
    for container in stripped["containerDefinitions"]:
        del container["image"]
    return stripped


@given(templates(), st.data())
def test_every_placeholder_becomes_its_repositorys_pinned_image_and_nothing_else_changes(
    drawn: tuple[dict[str, Any], dict[str, str]], data: st.DataObject
) -> None:
    document, images = drawn
    pins = {p: f"{REGISTRY}/{r}@{data.draw(digests)}" for p, r in images.items()}
    kept = copy.deepcopy(document)

    rendered = template.fill(document, pins)

    for before, after in zip(
        document["containerDefinitions"], rendered["containerDefinitions"], strict=True
    ):
        assert after["image"] == pins[str(template.placeholder_of(before["image"]))]
        assert template.placeholder_of(after["image"]) is None  # no <...> left
    assert without_images(rendered) == without_images(document)
    assert template.fill(rendered, pins) == rendered  # rendering again changes nothing
    assert document == kept  # the template itself is left as it was


@settings(max_examples=50)
@given(templates(), st.data())
def test_only_the_pushed_repositorys_containers_change_the_others_keep_what_runs(
    drawn: tuple[dict[str, Any], dict[str, str]], data: st.DataObject
) -> None:
    document, images = drawn
    running = {r: f"{REGISTRY}/{r}@{data.draw(digests)}" for r in images.values()}
    # The environment runs each repository in the containers the template puts it in,
    # in any order, beside a container of another registry.
    live_containers = [
        {"name": c["name"], "image": running[images[str(template.placeholder_of(c["image"]))]]}
        for c in document["containerDefinitions"]
    ]
    live = {
        "family": "web",
        "containerDefinitions": [
            *data.draw(st.permutations(live_containers)),
            {"name": "elsewhere", "image": "public.ecr.aws/x/y@sha256:" + "e" * 64},
        ],
    }
    pushed_repository = data.draw(st.sampled_from(sorted(images.values())))
    pushed = image(repository=pushed_repository, image_digest=data.draw(digests))
    service = demo_service(repository=pushed_repository, task_definition=document, images=images)

    rendered = template.fill(document, template.pins(service, pushed, live))

    for before, after in zip(
        document["containerDefinitions"], rendered["containerDefinitions"], strict=True
    ):
        repository = images[str(template.placeholder_of(before["image"]))]
        expected = pushed.pinned if repository == pushed_repository else running[repository]
        assert after["image"] == expected
