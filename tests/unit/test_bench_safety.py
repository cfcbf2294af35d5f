"""The scale benchmark's safety counts, on histories built by hand."""

from __future__ import annotations

from dataclasses import replace

from bench.safety import Deployment, backwards, count, double_deployments, held_locks, stale


def deployed(service: str, digest: str, at: float, created: float | None = None) -> Deployment:
    return Deployment(service, digest, at, at - 5 if created is None else created, f"d-{at}")


def in_environment(deployment: Deployment, environment: str) -> Deployment:
    return replace(deployment, environment=environment)


PUSHED = {
    ("web", "old"): 100.0,
    ("web", "mid"): 100.5,
    ("web", "new"): 101.0,
    ("api", "old"): 100.0,
    ("api", "new"): 101.0,
}


def test_one_deployment_per_image_is_no_double() -> None:
    history = [deployed("web", "old", 10), deployed("web", "new", 20), deployed("api", "old", 15)]
    assert double_deployments(history) == 0


def test_each_deployment_past_the_first_of_one_image_on_one_service_is_a_double() -> None:
    history = [
        deployed("web", "new", 10),
        deployed("web", "new", 20),
        deployed("web", "new", 30),
        deployed("api", "new", 10),  # the same digest elsewhere is another image
    ]
    assert double_deployments(history) == 2


def test_newer_images_in_push_order_never_go_backwards() -> None:
    history = [deployed("web", "old", 10), deployed("web", "mid", 20), deployed("web", "new", 30)]
    assert backwards(history, PUSHED) == 0


def test_an_older_image_deployed_after_a_newer_one_went_backwards() -> None:
    # The first case: approving both deploys the newer, then the older.
    history = [deployed("web", "new", 10), deployed("web", "old", 20)]
    assert backwards(history, PUSHED) == 1


def test_backwards_is_judged_against_the_newest_production_ever_took() -> None:
    history = [
        deployed("web", "new", 10),
        deployed("web", "old", 20),  # back from new
        deployed("web", "mid", 30),  # still older than new
    ]
    assert backwards(history, PUSHED) == 2


def test_deployments_are_ordered_by_completion_not_by_creation() -> None:
    # "new" was created first but completed last: production ends on the newer image.
    history = [deployed("web", "new", 30, created=1), deployed("web", "old", 20, created=2)]
    assert backwards(history, PUSHED) == 0


def test_services_are_judged_apart() -> None:
    history = [deployed("web", "new", 10), deployed("api", "old", 20)]
    assert backwards(history, PUSHED) == 0


def test_a_pipeline_deploying_one_image_to_dev_then_prod_is_no_double() -> None:
    history = [
        in_environment(deployed("web", "new", 10), "dev"),
        in_environment(deployed("web", "new", 20), "prod"),
    ]
    assert double_deployments(history) == 0
    assert double_deployments([*history, in_environment(deployed("web", "new", 30), "dev")]) == 1


def test_each_environment_is_judged_apart_for_going_backwards() -> None:
    # dev took new then old: backwards there; prod took old after dev's new: not backwards.
    history = [
        in_environment(deployed("web", "new", 10), "dev"),
        in_environment(deployed("web", "old", 20), "prod"),
        in_environment(deployed("web", "old", 30), "dev"),
    ]
    assert backwards(history, PUSHED) == 1


def test_images_pushed_in_the_same_millisecond_are_neither_older_nor_newer() -> None:
    pushed = {("web", "a"): 100.0, ("web", "b"): 100.0}
    assert backwards([deployed("web", "b", 10), deployed("web", "a", 20)], pushed) == 0


def test_a_service_running_its_newest_approved_image_is_not_stale() -> None:
    approved = [("web", "old"), ("web", "new"), ("api", "old")]
    assert stale({"web": "new", "api": "old"}, approved, PUSHED) == 0


def test_a_service_left_on_an_older_image_than_one_approved_is_stale() -> None:
    # The second case: approved, told "proceeds", never deployed (ServiceLocked).
    assert stale({"web": "old", "api": "new"}, [("web", "old"), ("web", "new")], PUSHED) == 1


def test_an_image_nobody_approved_does_not_make_a_service_stale() -> None:
    # A newer image whose approval was refused (superseded, rejected) need not run.
    assert stale({"web": "mid"}, [("web", "old"), ("web", "mid")], PUSHED) == 0


def test_a_service_whose_production_image_is_unknown_is_stale_once_something_was_approved() -> None:
    assert stale({"web": None}, [("web", "new")], PUSHED) == 1
    assert stale({"web": None}, [], PUSHED) == 0


def test_only_lock_items_that_still_name_an_owner_are_held() -> None:
    items = [
        {"pk": "LOCK#demo/web", "sk": "LOCK", "owner": "exec-1"},
        {"pk": "LOCK#demo-2/web", "sk": "LOCK", "current": "sha256:aa"},  # released, kept
        {"pk": "LOCK#demo-3/web", "sk": "LOCK", "owner": ""},
        {"pk": "APPROVAL#1", "sk": "REQUEST", "owner": "someone"},
    ]
    assert held_locks(items) == ["LOCK#demo/web"]


def test_count_adds_backwards_and_stale_into_older_over_newer() -> None:
    history = [
        deployed("web", "old", 5),
        deployed("web", "old", 8),  # twice
        deployed("web", "new", 10),
        deployed("web", "mid", 20),  # back from new
    ]
    counts = count(
        history,
        PUSHED,
        final={"web": "mid"},
        approved=[("web", "new"), ("web", "mid")],
        lock_items=[{"pk": "LOCK#demo/web", "owner": "exec-1"}],
    )
    assert (counts.double_deployments, counts.backwards, counts.stale, counts.locks_held) == (
        1,
        1,
        1,
        1,
    )
    assert counts.older_over_newer == 2
