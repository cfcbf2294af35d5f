"""Which pushed images may be deployed, pinned how, under which execution name."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from bluegreen.domain.image import (
    RegistryImage,
    check_tag,
    confirmed,
    execution_name,
    pin_image,
    retry_name,
    rollback_name,
    short_digest,
)
from bluegreen.errors import ImageRefused
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.builders import ACCOUNT, COMMIT, DIGEST, REGION, demo_service, digest, image, push

SFN_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def test_a_commit_tag_is_pinned_by_digest() -> None:
    pinned = pin_image(demo_service(), push(tag=COMMIT), ACCOUNT, REGION)

    assert pinned.tag == COMMIT
    assert pinned.digest == DIGEST
    assert pinned.pinned == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/demo-web@{DIGEST}"
    assert COMMIT not in pinned.pinned  # the tag never decides what runs


@pytest.mark.parametrize("tag", ["3f2c1e9", "v1.4.2", "2.0.0-rc.1", "1.2.3+build.7"])
def test_immutable_tags_of_the_default_pattern_are_accepted(tag: str) -> None:
    assert pin_image(demo_service(), push(tag=tag), ACCOUNT, REGION).tag == tag


@pytest.mark.parametrize(
    "tag", ["latest", "LATEST", "Latest", "main", "master", "stable", "prod", "production", "edge"]
)
def test_floating_tags_are_refused_whatever_the_pattern(tag: str) -> None:
    permissive = demo_service(tag_pattern=r".+")

    with pytest.raises(ImageRefused, match="mutable"):
        pin_image(permissive, push(tag=tag), ACCOUNT, REGION)


@pytest.mark.parametrize(
    "tag",
    ["feature-login", "3f2c1e", "3F2C1E9", "v1.2", "1.2.3.4", f"{COMMIT}0", " 3f2c1e9", "dev"],
)
def test_tags_not_matching_the_pattern_are_refused(tag: str) -> None:
    with pytest.raises(ImageRefused, match="does not match"):
        pin_image(demo_service(), push(tag=tag), ACCOUNT, REGION)


def test_a_service_pattern_decides_which_tags_are_immutable() -> None:
    releases_only = demo_service(tag_pattern=r"release-\d{4}\.\d{2}\.\d{2}")

    assert pin_image(releases_only, push(tag="release-2026.03.02"), ACCOUNT, REGION)
    with pytest.raises(ImageRefused):
        pin_image(releases_only, push(tag=COMMIT), ACCOUNT, REGION)


@pytest.mark.parametrize("tag", [None, ""])
def test_an_untagged_push_is_refused(tag: str | None) -> None:
    with pytest.raises(ImageRefused, match="without a tag"):
        pin_image(demo_service(), push(tag=tag), ACCOUNT, REGION)


@pytest.mark.parametrize(
    "bad_digest",
    [
        None,
        "",
        "sha256:abc",
        "sha256:" + "A" * 64,
        "sha512:" + "a" * 64,
        "sha256:" + "a" * 65,
        "sha256:" + "g" * 64,
        "a" * 64,
    ],
)
def test_a_missing_or_invalid_digest_is_refused(bad_digest: str | None) -> None:
    with pytest.raises(ImageRefused, match="digest"):
        pin_image(demo_service(), push(image_digest=bad_digest), ACCOUNT, REGION)


def test_a_push_to_another_repository_is_refused() -> None:
    with pytest.raises(ImageRefused, match="other-app"):
        pin_image(demo_service(), push(repository="other-app"), ACCOUNT, REGION)


def test_check_tag_alone_refuses_what_pin_image_refuses() -> None:
    # The render step checks the tag again for executions started by hand.
    with pytest.raises(ImageRefused):
        check_tag(demo_service(), "latest")
    check_tag(demo_service(), COMMIT)  # and lets an immutable one through, unchanged


# --- what the registry confirms ---------------------------------------------------------

PUSHED_AT = datetime(2026, 3, 2, 9, 29, 58, tzinfo=UTC)


def test_an_image_the_registry_holds_under_the_tag_is_confirmed_with_its_push_time() -> None:
    held = RegistryImage(DIGEST, frozenset({COMMIT, "v1.4.0"}), PUSHED_AT)

    assert confirmed(image(), held) == image().model_copy(update={"pushed_at": PUSHED_AT})


def test_an_image_the_registry_does_not_hold_is_refused() -> None:
    with pytest.raises(ImageRefused, match=f"digest {DIGEST} is not an image of repository"):
        confirmed(image(), None)


def test_an_image_whose_digest_lacks_the_tag_is_refused_naming_its_tags() -> None:
    held = RegistryImage(DIGEST, frozenset({"v1.4.0"}), PUSHED_AT)

    with pytest.raises(ImageRefused, match=r"does not carry tag '3f2c.*' .*\(its tags: v1.4.0\)"):
        confirmed(image(), held)


# --- execution names ----------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,254}", fullmatch=True)
tags = st.text(min_size=1, max_size=128)
digests = st.binary(min_size=1, max_size=16).map(lambda b: digest(b.hex()))


@given(name=names, tag=tags, first=digests, second=digests)
def test_execution_names_are_valid_deterministic_and_differ_per_digest(
    name: str, tag: str, first: str, second: str
) -> None:
    service = demo_service(name=name)
    one = execution_name(service, image(tag=tag, image_digest=first))

    assert SFN_NAME.fullmatch(one), one
    assert one == execution_name(service, image(tag=tag, image_digest=first))
    other = execution_name(service, image(tag=tag, image_digest=second))
    assert (one == other) == (first == second)


@given(name=names, first=tags, second=tags)
def test_the_same_digest_under_any_tag_is_one_execution(name: str, first: str, second: str) -> None:
    """ECR sends one event per tag of an image: every one names the same execution."""
    service = demo_service(name=name)

    assert execution_name(service, image(tag=first)) == execution_name(service, image(tag=second))


@given(first=names, second=names)
def test_the_same_digest_for_two_services_gets_two_names(first: str, second: str) -> None:
    a = execution_name(demo_service(name=first), image())
    b = execution_name(demo_service(name=second), image())

    assert (a == b) == (first == second)


def test_the_execution_name_reads_as_service_and_short_digest() -> None:
    name = execution_name(demo_service(), image(tag="v1.4.2"))

    assert name == f"demo-web-{DIGEST.removeprefix('sha256:')[:12]}"
    assert short_digest(DIGEST) == DIGEST.removeprefix("sha256:")[:12]


def test_a_service_name_step_functions_would_refuse_keeps_its_readable_part() -> None:
    name = execution_name(demo_service(name="payments/eu.west"), image())

    assert name.startswith("payments-eu-west-")
    assert name.endswith(f"-{short_digest(DIGEST)}")


@given(name=names, attempt=st.integers(min_value=2, max_value=10**6))
def test_a_retry_is_named_after_the_first_execution_within_80_characters(
    name: str, attempt: int
) -> None:
    first = execution_name(demo_service(name=name), image())

    retry = retry_name(first, attempt)

    assert SFN_NAME.fullmatch(retry), retry
    assert retry == f"{first}-retry{attempt}"
    assert retry_name(retry, attempt + 1) == retry_name(first, attempt + 1)


def test_a_retry_of_a_long_name_is_cut_to_80_characters() -> None:
    """Names given before this scheme may be longer: the suffix always fits."""
    retry = retry_name("x" * 80, 12)

    assert len(retry) == 80
    assert retry.endswith("-retry12")


# --- names per environment ----------------------------------------------------------------

environments = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,254}", fullmatch=True)


def in_pipeline(name: str = "demo-web", environment: str = "prod", *others: str) -> Any:
    """``demo-web`` as one environment of a pipeline (``others`` come before it)."""
    pipeline = [*others, environment] if others else ["dev", environment]
    return demo_service(name=name, environment=environment, pipeline=pipeline)


def test_an_environment_of_a_pipeline_is_named_service_environment_digest() -> None:
    short = short_digest(DIGEST)

    assert execution_name(in_pipeline(environment="prod"), image()) == f"demo-web-prod-{short}"
    assert execution_name(in_pipeline(environment="dev"), image()) == f"demo-web-dev-{short}"


def test_a_service_with_one_environment_keeps_its_name_without_the_environment() -> None:
    """Nothing existing moves: the executions of single-environment services keep their names."""
    single = demo_service(environment="production", pipeline=["production"])

    assert execution_name(single, image()) == f"demo-web-{short_digest(DIGEST)}"
    assert execution_name(demo_service(), image()) == f"demo-web-{short_digest(DIGEST)}"


@given(name=names, first=environments, second=environments, one=digests, other=digests)
def test_names_per_environment_are_valid_and_differ_per_environment_and_digest(
    name: str, first: str, second: str, one: str, other: str
) -> None:
    a = execution_name(in_pipeline(name, first, "x"), image(image_digest=one))
    b = execution_name(in_pipeline(name, second, "x"), image(image_digest=other))

    assert SFN_NAME.fullmatch(a), a
    assert (a == b) == (first == second and one == other)


def test_services_and_environments_that_read_alike_get_names_of_their_own() -> None:
    """``web`` in ``prod-eu`` and ``web-prod`` in ``eu``: a hyphenated environment keeps a
    fingerprint, so the two never share an execution."""
    seen = {
        execution_name(in_pipeline(service, environment, "x"), image())
        for service in ("web", "web-prod", "web.prod")
        for environment in ("prod", "prod-eu", "eu", "eu.prod")
    }

    assert len(seen) == 12
    assert f"web-prod-eu-{short_digest(DIGEST)}" in seen  # web-prod in eu reads as written


def test_a_long_service_and_environment_fit_with_a_fingerprint() -> None:
    long = in_pipeline("s" * 60, "e" * 60, "x")
    shorter = in_pipeline("s" * 60, "e" * 59, "x")

    name = execution_name(long, image())

    assert SFN_NAME.fullmatch(name)
    assert len(name) <= 63
    assert name != execution_name(shorter, image())


@given(name=names, env=environments, attempt=st.integers(min_value=2, max_value=99))
def test_retries_and_rollbacks_of_an_environment_follow_its_name(
    name: str, env: str, attempt: int
) -> None:
    service = in_pipeline(name, env, "x")
    first = execution_name(service, image())

    assert retry_name(first, attempt) == f"{first}-retry{attempt}"
    rollback = rollback_name(service, image(), attempt)
    assert rollback == f"{first}-rollback{attempt}"
    assert SFN_NAME.fullmatch(rollback), rollback
