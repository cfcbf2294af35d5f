"""The state table on moto's DynamoDB: approvals, one-time nonces, locks, history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bluegreen.adapters.store import Displaced, Queued, Released, StateTable
from bluegreen.domain import approval as rules
from bluegreen.domain.approval import ApprovalRecord
from bluegreen.domain.queue import QueuedImage
from bluegreen.errors import (
    ApprovalAlreadyDecided,
    ApprovalNotFound,
    ImageOutdated,
    ServiceLocked,
    Superseded,
)
from bluegreen.models import ScalingSnapshot
from botocore.exceptions import ClientError

from tests.unit.builders import NOW, Aws, create_state_table, rendered

KEY = "demo/web"


@pytest.fixture
def table(aws: Aws) -> StateTable:
    ddb = aws.client("dynamodb")
    return StateTable(ddb, create_state_table(ddb))


def a_record(approval_id: str = "appr-1") -> ApprovalRecord:
    return rules.record_for(rendered(), approval_id, "the-task-token", NOW)


def snap(in_suspended: bool, at_minutes: int = 0) -> ScalingSnapshot:
    return ScalingSnapshot(
        resource_id="service/demo/web",
        registered=True,
        dynamic_scaling_in_suspended=in_suspended,
        suspended_at=NOW + timedelta(minutes=at_minutes),
    )


# --- approvals ----------------------------------------------------------------------------


def test_an_approval_reads_back_as_it_was_stored(table: StateTable) -> None:
    record = a_record()
    table.put_approval(record)

    assert table.get_approval("appr-1") == record


def test_an_approval_is_never_overwritten(table: StateTable) -> None:
    table.put_approval(a_record())

    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        table.put_approval(a_record().model_copy(update={"task_token": "another token"}))
    assert table.get_approval("appr-1").task_token == "the-task-token"


def test_an_unknown_approval_is_not_found(table: StateTable) -> None:
    with pytest.raises(ApprovalNotFound):
        table.get_approval("appr-404")


def test_an_approval_is_decided_exactly_once(table: StateTable) -> None:
    table.put_approval(a_record())
    table.decide("appr-1", "approved", "a@example.com", NOW + timedelta(minutes=5))

    for status, by in (("approved", "a@example.com"), ("rejected", "b@example.com")):
        with pytest.raises(ApprovalAlreadyDecided):
            table.decide("appr-1", status, by, NOW + timedelta(minutes=6))  # type: ignore[arg-type]

    decided = table.get_approval("appr-1")
    assert decided.status == "approved"
    assert decided.decided_by == "a@example.com"
    assert decided.decided_at == NOW + timedelta(minutes=5)


def test_deciding_an_unknown_approval_creates_nothing(table: StateTable) -> None:
    with pytest.raises(ApprovalAlreadyDecided):
        table.decide("appr-404", "approved", "a@example.com", NOW)
    with pytest.raises(ApprovalNotFound):
        table.get_approval("appr-404")


# --- nonces -------------------------------------------------------------------------------


def test_a_nonce_is_consumed_once(table: StateTable) -> None:
    table.put_nonce("appr-1", "n-1", "a@example.com", NOW + timedelta(minutes=30))

    table.consume_nonce("appr-1", "n-1", "a@example.com", NOW)
    with pytest.raises(ApprovalAlreadyDecided):
        table.consume_nonce("appr-1", "n-1", "a@example.com", NOW)


def test_a_nonce_is_consumed_only_by_its_recipient(table: StateTable) -> None:
    table.put_nonce("appr-1", "n-1", "a@example.com", NOW + timedelta(minutes=30))

    with pytest.raises(ApprovalAlreadyDecided):
        table.consume_nonce("appr-1", "n-1", "b@example.com", NOW)
    table.consume_nonce("appr-1", "n-1", "a@example.com", NOW)  # still there for its owner
    with pytest.raises(ApprovalAlreadyDecided):
        table.consume_nonce("appr-1", "n-1", "a@example.com", NOW)


def test_a_nonce_belongs_to_one_approval(table: StateTable) -> None:
    table.put_nonce("appr-1", "n-1", "a@example.com", NOW + timedelta(minutes=30))

    with pytest.raises(ApprovalAlreadyDecided):
        table.consume_nonce("appr-2", "n-1", "a@example.com", NOW)


def test_a_nonce_is_not_accepted_from_its_expiry_on(table: StateTable) -> None:
    expiry = NOW + timedelta(minutes=30)
    table.put_nonce("appr-1", "n-1", "a@example.com", expiry)

    with pytest.raises(ApprovalAlreadyDecided, match="expired"):
        table.consume_nonce("appr-1", "n-1", "a@example.com", expiry)
    table.consume_nonce("appr-1", "n-1", "a@example.com", expiry - timedelta(seconds=1))


def test_an_unknown_nonce_is_refused(table: StateTable) -> None:
    with pytest.raises(ApprovalAlreadyDecided):
        table.consume_nonce("appr-1", "never-issued", "a@example.com", NOW)


# --- locks and the scaling snapshot -------------------------------------------------------


def test_a_lock_is_held_by_one_execution(table: StateTable) -> None:
    table.acquire_lock(KEY, "exec-a", NOW)

    with pytest.raises(ServiceLocked, match="demo/web is being deployed by exec-a"):
        table.acquire_lock(KEY, "exec-b", NOW)
    assert table.lock(KEY)["owner"] == "exec-a"  # type: ignore[index]


def test_taking_the_lock_again_as_its_owner_is_a_no_op(table: StateTable) -> None:
    table.acquire_lock(KEY, "exec-a", NOW)
    table.save_snapshot(KEY, "exec-a", snap(in_suspended=True))

    table.acquire_lock(KEY, "exec-a", NOW + timedelta(minutes=1))  # a retried step

    lock = table.lock(KEY)
    assert lock is not None
    assert lock["owner"] == "exec-a"
    assert lock["since"] == NOW.isoformat()
    assert table.saved_snapshot(KEY, "exec-a") == snap(in_suspended=True)


def test_locks_of_different_services_are_independent(table: StateTable) -> None:
    table.acquire_lock(KEY, "exec-a", NOW)
    table.acquire_lock("demo/api", "exec-b", NOW)

    assert table.lock("demo/api")["owner"] == "exec-b"  # type: ignore[index]


def test_the_first_snapshot_is_kept(table: StateTable) -> None:
    table.acquire_lock(KEY, "exec-a", NOW)
    table.save_snapshot(KEY, "exec-a", snap(in_suspended=True))
    table.save_snapshot(KEY, "exec-a", snap(in_suspended=False, at_minutes=2))

    assert table.saved_snapshot(KEY, "exec-a") == snap(in_suspended=True)


def test_only_the_lock_owner_saves_or_reads_a_snapshot(table: StateTable) -> None:
    table.acquire_lock(KEY, "exec-a", NOW)

    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        table.save_snapshot(KEY, "exec-b", snap(in_suspended=False))
    table.save_snapshot(KEY, "exec-a", snap(in_suspended=True))
    assert table.saved_snapshot(KEY, "exec-b") is None
    assert table.saved_snapshot(KEY, "exec-a") == snap(in_suspended=True)


def test_no_snapshot_without_a_lock(table: StateTable) -> None:
    assert table.saved_snapshot(KEY, "exec-a") is None
    assert table.lock(KEY) is None


def test_only_the_owner_releases_the_lock(table: StateTable) -> None:
    table.acquire_lock(KEY, "exec-a", NOW)

    assert table.release_lock(KEY, "exec-b", NOW) is None
    assert table.lock(KEY)["owner"] == "exec-a"  # type: ignore[index]
    assert table.release_lock(KEY, "exec-a", NOW) == Released(handed_to=None, wake=None)
    assert table.lock(KEY) is None
    assert table.release_lock(KEY, "exec-a", NOW) is None  # releasing twice is harmless
    table.acquire_lock(KEY, "exec-b", NOW)  # and the service is free again


# --- newest wins: the service's queue ------------------------------------------------------


def image(execution: str, minute: int, digit: str | None = None) -> QueuedImage:
    """An image pushed ``minute`` minutes after NOW; its digest is made of one digit."""
    return QueuedImage(
        execution=execution,
        tag=f"v1.0.{minute}",
        digest="sha256:" + (digit or str(minute % 10)) * 64,
        pushed_at=NOW + timedelta(minutes=minute),
    )


def deploy(table: StateTable, img: QueuedImage) -> None:
    """Admit, take the turn and release as deployed: production now runs ``img``."""
    table.admit(KEY, img)
    assert table.take_turn(KEY, img, "token-" + img.execution, NOW) == Queued(behind=None)
    assert table.release_lock(KEY, img.execution, NOW, deployed=True) == Released(
        handed_to=None, wake=None
    )


def test_a_newer_image_displaces_the_one_waiting_with_its_approval(table: StateTable) -> None:
    older, newer = image("exec-a", 1), image("exec-b", 2)
    assert table.admit(KEY, older) is None
    table.attach_approval(KEY, "exec-a", "appr-a")

    assert table.admit(KEY, newer) == Displaced(older, approval_id="appr-a", token=None)
    newer_label = r"v1\.0\.2 \(222222222222\)"
    with pytest.raises(Superseded, match=rf"superseded by {newer_label}$"):
        table.attach_approval(KEY, "exec-a", "appr-a2")
    with pytest.raises(Superseded, match=r"v1\.0\.2"):
        table.take_turn(KEY, older, "token-a", NOW)


def test_an_older_image_is_not_admitted_behind_a_newer_one(table: StateTable) -> None:
    table.admit(KEY, image("exec-b", 2))

    with pytest.raises(Superseded, match=r"superseded by v1\.0\.2"):
        table.admit(KEY, image("exec-a", 1))
    assert table.queue(KEY)["waiting"] == "exec-b"


def test_admitting_the_same_execution_again_changes_nothing(table: StateTable) -> None:
    img = image("exec-a", 1)
    table.admit(KEY, img)
    table.attach_approval(KEY, "exec-a", "appr-a")

    assert table.admit(KEY, img) is None  # a retried step
    assert table.queue(KEY)["waiting_approval"] == "appr-a"


def test_the_image_waiting_takes_a_free_lock(table: StateTable) -> None:
    img = image("exec-a", 1)
    table.admit(KEY, img)

    assert table.take_turn(KEY, img, "token-a", NOW) == Queued(behind=None)
    assert table.lock(KEY)["owner"] == "exec-a"  # type: ignore[index]
    assert "waiting" not in table.queue(KEY)
    assert table.take_turn(KEY, img, "token-a2", NOW) == Queued(behind=None)  # a retry


def test_an_image_waits_behind_a_deployment_and_is_handed_the_lock(
    table: StateTable,
) -> None:
    first, second = image("exec-a", 1), image("exec-b", 2)
    table.admit(KEY, first)
    table.take_turn(KEY, first, "token-a", NOW)
    table.admit(KEY, second)

    assert table.take_turn(KEY, second, "token-b", NOW) == Queued(behind=first)
    with pytest.raises(ServiceLocked):
        table.acquire_lock(KEY, "exec-b", NOW)
    assert table.release_lock(KEY, "exec-a", NOW, deployed=True) == Released(
        handed_to="exec-b", wake="token-b"
    )
    assert table.lock(KEY)["owner"] == "exec-b"  # type: ignore[index]
    assert table.take_turn(KEY, second, "token-b2", NOW) == Queued(behind=None)  # woken late


def test_a_newer_image_displaces_the_one_waiting_for_its_turn(table: StateTable) -> None:
    first, second, third = image("exec-a", 1), image("exec-b", 2), image("exec-c", 3)
    table.admit(KEY, first)
    table.take_turn(KEY, first, "token-a", NOW)
    table.admit(KEY, second)
    table.take_turn(KEY, second, "token-b", NOW)

    assert table.admit(KEY, third) == Displaced(second, approval_id=None, token="token-b")
    assert table.release_lock(KEY, "exec-a", NOW) == Released(
        handed_to=None, wake=None
    )  # exec-c: no turn asked


def test_a_push_never_takes_production_backwards(table: StateTable) -> None:
    deploy(table, image("exec-b", 2))

    with pytest.raises(ImageOutdated, match=r"before v1\.0\.2 \(2{12}\), which production"):
        table.admit(KEY, image("exec-a", 1))
    with pytest.raises(ImageOutdated, match="production runs already"):
        table.admit(KEY, image("exec-b-retry2", 2))
    table.admit(KEY, image("exec-c", 3))  # newer: admitted


def test_an_image_older_than_the_one_deploying_is_refused(table: StateTable) -> None:
    table.admit(KEY, image("exec-b", 2))
    table.take_turn(KEY, image("exec-b", 2), "token-b", NOW)

    with pytest.raises(ImageOutdated, match="which is being deployed"):
        table.admit(KEY, image("exec-a", 1))


def test_a_rolled_back_image_does_not_count_as_running(table: StateTable) -> None:
    deploy(table, image("exec-a", 1))
    table.admit(KEY, image("exec-b", 3))
    table.take_turn(KEY, image("exec-b", 3), "token-b", NOW)
    table.release_lock(KEY, "exec-b", NOW)  # rolled back: production still runs exec-a's

    table.admit(KEY, image("exec-c", 2))  # newer than what runs


def test_an_image_that_ended_waiting_is_withdrawn_and_outranks_nothing(table: StateTable) -> None:
    table.admit(KEY, image("exec-b", 2))  # then rejected: its execution ended

    assert table.withdraw(KEY, "exec-b") is True
    assert table.withdraw(KEY, "exec-b") is False  # a redelivered event: nothing left
    table.admit(KEY, image("exec-a", 1))  # an older image may be deployed again


def test_withdrawing_leaves_a_newer_image_waiting(table: StateTable) -> None:
    table.admit(KEY, image("exec-a", 1))
    table.admit(KEY, image("exec-b", 2))

    assert table.withdraw(KEY, "exec-a") is False
    assert table.queue(KEY)["waiting"] == "exec-b"


def test_an_operators_rollback_takes_production_back_to_an_older_image(
    table: StateTable,
) -> None:
    deploy(table, image("exec-a", 1))
    deploy(table, image("exec-b", 2))
    back = image("exec-a-rollback1", 1, digit="1")

    assert table.admit(KEY, back, rollback=True) is None
    assert table.take_turn(KEY, back, "token-r", NOW) == Queued(behind=None)
    table.release_lock(KEY, back.execution, NOW, deployed=True)

    assert table.queue(KEY)["current_digest"] == back.digest
    table.admit(KEY, image("exec-c", 3))  # the next push is admitted as usual


def test_a_rollback_supersedes_the_newer_image_waiting(table: StateTable) -> None:
    deploy(table, image("exec-a", 1))
    deploy(table, image("exec-b", 2))
    table.admit(KEY, image("exec-c", 3))
    table.attach_approval(KEY, "exec-c", "appr-c")
    back = image("exec-a-rollback1", 1, digit="1")

    assert table.admit(KEY, back, rollback=True) == Displaced(
        image("exec-c", 3), approval_id="appr-c", token=None
    )
    assert table.queue(KEY)["waiting"] == "exec-a-rollback1"


def test_a_rollback_waits_behind_a_newer_deployment(table: StateTable) -> None:
    deploy(table, image("exec-a", 1))
    deploy(table, image("exec-b", 2))
    table.admit(KEY, image("exec-c", 3))
    table.take_turn(KEY, image("exec-c", 3), "token-c", NOW)
    back = image("exec-a-rollback1", 1, digit="1")

    table.admit(KEY, back, rollback=True)

    assert table.take_turn(KEY, back, "token-r", NOW) == Queued(behind=image("exec-c", 3))
    assert table.release_lock(KEY, "exec-c", NOW, deployed=True) == Released(
        handed_to="exec-a-rollback1", wake="token-r"
    )


def test_a_rollback_to_the_image_production_runs_is_refused(table: StateTable) -> None:
    deploy(table, image("exec-a", 1))
    deploy(table, image("exec-b", 2))

    with pytest.raises(ImageOutdated, match=r"v1\.0\.2 \(2{12}\) is the image production runs"):
        table.admit(KEY, image("exec-b-rollback1", 2), rollback=True)
    assert "waiting" not in table.queue(KEY)


def test_admitting_the_same_rollback_again_changes_nothing(table: StateTable) -> None:
    deploy(table, image("exec-b", 2))
    back = image("exec-a-rollback1", 1)
    table.admit(KEY, back, rollback=True)

    assert table.admit(KEY, back, rollback=True) is None  # a retried step
    assert table.queue(KEY)["waiting"] == "exec-a-rollback1"


def test_without_the_flag_the_same_older_image_is_refused(table: StateTable) -> None:
    deploy(table, image("exec-b", 2))

    with pytest.raises(ImageOutdated, match="roll back on purpose instead"):
        table.admit(KEY, image("exec-a-rollback1", 1))


# --- history ------------------------------------------------------------------------------


def test_history_is_newest_first_and_per_service(table: StateTable) -> None:
    for minutes, execution in ((0, "first"), (90, "third"), (45, "second")):
        at = NOW + timedelta(minutes=minutes)
        table.record_outcome(KEY, execution, at, {"execution_name": execution, "n": minutes})
    table.record_outcome("demo/api", "elsewhere", NOW, {"execution_name": "elsewhere"})

    assert [h["execution_name"] for h in table.history(KEY)] == ["third", "second", "first"]
    assert table.history(KEY, limit=1) == [{"execution_name": "third", "n": 90}]
    assert [h["execution_name"] for h in table.history("demo/api")] == ["elsewhere"]
    assert table.history("demo/none") == []


def test_a_refusal_is_claimed_once_per_service_and_stays_out_of_the_history(
    table: StateTable,
) -> None:
    table.record_outcome(KEY, "first", NOW, {"execution_name": "first"})

    claims = [
        table.first_refusal(KEY, "latest-of-build-7", NOW),
        table.first_refusal(KEY, "latest-of-build-7", NOW + timedelta(hours=1)),
        table.first_refusal("demo/api", "latest-of-build-7", NOW),
        table.first_refusal(KEY, "latest-of-build-8", NOW),
    ]

    assert claims == [True, False, True, True]
    assert table.history(KEY) == [{"execution_name": "first"}]
