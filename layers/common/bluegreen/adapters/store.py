"""The state table: approval requests, one-time form nonces, service locks, history.

Single-table layout (pk, sk):
  APPROVAL#<id>      REQUEST                   the approval request, with the task token
  APPROVAL#<id>      NONCE#<nonce>             a one-time decision form, expiring
  EXECUTION#<name>   APPROVAL                  which approval request an execution made
  LOCK#<cluster>/<service>  LOCK               the service's queue: the lock's owner (and
                                               the scaling snapshot it saved), the image
                                               waiting, and the image production runs
  SERVICE#<cluster>/<service>  DEPLOY#<time>#<execution>   one finished deployment
  SERVICE#<cluster>/<service>  REFUSED#<refusal>           a refused push, once announced
  RUNS#<service name>  ENV#<environment>        what the environment runs, and since when
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from bluegreen.adapters.aws import error_code, translated
from bluegreen.domain.queue import Displaced, Queued, QueuedImage, Released, ServiceQueue
from bluegreen.errors import (
    ApprovalAlreadyDecided,
    ApprovalNotFound,
    ImageOutdated,
    ServiceLocked,
    Superseded,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, UpdateItemInputTypeDef

    from bluegreen.domain.approval import ApprovalRecord, Status
    from bluegreen.domain.promotion import EnvironmentRun
    from bluegreen.models import ScalingSnapshot

_ser = TypeSerializer()
_de = TypeDeserializer()
_REFUSAL_REMEMBERED = timedelta(days=90)


def _item(values: dict[str, Any]) -> dict[str, AttributeValueTypeDef]:
    return {k: _ser.serialize(v) for k, v in values.items() if v is not None}


def _plain(item: Mapping[str, AttributeValueTypeDef]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


def _conditional_failed(e: Exception) -> bool:
    return isinstance(e, ClientError) and error_code(e) == "ConditionalCheckFailedException"


def _old_item(e: Exception) -> dict[str, Any]:
    """The item as it was when a condition failed (ReturnValuesOnConditionCheckFailure)."""
    return _plain(getattr(e, "response", {}).get("Item", {}))


def _image(item: Mapping[str, Any], role: str) -> QueuedImage | None:
    """The ``owner``/``waiting``/``current`` image kept on a service's queue item."""

    document = item.get(f"{role}_image")
    return QueuedImage.model_validate_json(document) if document else None


class StateTable:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._ddb = client
        self._table = table

    # approvals ---------------------------------------------------------------------------
    def put_approval(self, record: ApprovalRecord) -> None:
        document = record.model_dump_json()
        # Kept a week past expiry (the table's TTL attribute) so late clicks get a clear answer.
        kept_until = int(record.expires_at.timestamp()) + 7 * 24 * 3600
        with translated():
            self._ddb.put_item(
                TableName=self._table,
                Item=_item(
                    {
                        "pk": f"APPROVAL#{record.approval_id}",
                        "sk": "REQUEST",
                        "status": record.status,
                        "record": document,
                        "expires_at": kept_until,
                    }
                ),
                ConditionExpression="attribute_not_exists(pk)",
            )
            # Notify finds the request of its execution here (to answer in its Slack thread,
            # to mark it expired); a retried request points to the newest one.
            self._ddb.put_item(
                TableName=self._table,
                Item=_item(
                    {
                        "pk": f"EXECUTION#{record.execution_name}",
                        "sk": "APPROVAL",
                        "approval_id": record.approval_id,
                        "expires_at": kept_until,
                    }
                ),
            )

    def approval_of(self, execution_name: str) -> ApprovalRecord | None:
        """The approval request ``execution_name`` made; None if it made none."""
        with translated():
            found = self._ddb.get_item(
                TableName=self._table,
                Key=_item({"pk": f"EXECUTION#{execution_name}", "sk": "APPROVAL"}),
                ConsistentRead=True,
            )
        if "Item" not in found:
            return None
        try:
            return self.get_approval(str(_plain(found["Item"])["approval_id"]))
        except ApprovalNotFound:
            return None

    def set_slack_message(self, approval_id: str, channel: str, ts: str) -> None:
        """Where the request was posted in Slack: its decision and outcome go there."""
        with translated():
            self._ddb.update_item(
                TableName=self._table,
                Key=_item({"pk": f"APPROVAL#{approval_id}", "sk": "REQUEST"}),
                UpdateExpression="SET slack_channel = :c, slack_ts = :ts",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=_item({":c": channel, ":ts": ts}),
            )

    def get_approval(self, approval_id: str) -> ApprovalRecord:
        with translated():
            found = self._ddb.get_item(
                TableName=self._table,
                Key=_item({"pk": f"APPROVAL#{approval_id}", "sk": "REQUEST"}),
                ConsistentRead=True,
            )
        if "Item" not in found:
            raise ApprovalNotFound(approval_id)
        item = _plain(found["Item"])
        # Imported here: the functions that use the table only for locks and history
        # (scaling, janitor, notify) never build the approval models at their cold start.
        from bluegreen.domain.approval import ApprovalRecord

        record = ApprovalRecord.model_validate_json(item["record"])
        return record.model_copy(
            update={
                "status": item.get("status", record.status),
                "decided_by": item.get("decided_by"),
                "decided_at": datetime.fromisoformat(item["decided_at"])
                if item.get("decided_at")
                else None,
                "reason": item.get("reason"),
                "slack_channel": item.get("slack_channel"),
                "slack_ts": item.get("slack_ts"),
            }
        )

    def decide(
        self, approval_id: str, status: Status, by: str, at: datetime, reason: str | None = None
    ) -> None:
        """Move a pending approval to its decision; exactly one caller ever succeeds."""
        update = "SET #s = :new, decided_by = :by, decided_at = :at"
        values = {":new": status, ":by": by, ":at": at.isoformat(), ":pending": "pending"}
        if reason:
            update += ", reason = :why"
            values[":why"] = reason
        try:
            with translated():
                self._ddb.update_item(
                    TableName=self._table,
                    Key=_item({"pk": f"APPROVAL#{approval_id}", "sk": "REQUEST"}),
                    UpdateExpression=update,
                    ConditionExpression="#s = :pending",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues=_item(values),
                )
        except Exception as e:
            if _conditional_failed(e):
                raise ApprovalAlreadyDecided("this request was already decided") from e
            raise

    def supersede_approval(self, approval_id: str, by: str, at: datetime) -> bool:
        """Close a pending request for a newer image; False if it was decided already."""
        try:
            self.decide(approval_id, "superseded", by, at)
        except ApprovalAlreadyDecided:
            return False
        return True

    def expire(self, approval_id: str, only_pending: bool = False) -> bool:
        """Mark the request expired; ``only_pending``: unless it was decided (False then).

        Unconditional when a decision reached an execution that had stopped waiting: the
        record must not claim a decision that changed nothing.
        """
        condition = {"ConditionExpression": "#s = :pending"} if only_pending else {}
        values = {":expired": "expired"} | ({":pending": "pending"} if only_pending else {})
        try:
            with translated():
                self._ddb.update_item(
                    TableName=self._table,
                    Key=_item({"pk": f"APPROVAL#{approval_id}", "sk": "REQUEST"}),
                    UpdateExpression="SET #s = :expired",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues=_item(values),
                    **condition,  # type: ignore[arg-type]
                )
        except Exception as e:
            if _conditional_failed(e):
                return False
            raise
        return True

    def put_nonce(self, approval_id: str, nonce: str, recipient: str, expires: datetime) -> None:
        with translated():
            self._ddb.put_item(
                TableName=self._table,
                Item=_item(
                    {
                        "pk": f"APPROVAL#{approval_id}",
                        "sk": f"NONCE#{nonce}",
                        "recipient": recipient,
                        "expires_at": int(expires.timestamp()),
                    }
                ),
            )

    def consume_nonce(self, approval_id: str, nonce: str, recipient: str, now: datetime) -> None:
        """Delete the one-time form token; a second use, or someone else's, fails."""
        try:
            with translated():
                self._ddb.delete_item(
                    TableName=self._table,
                    Key=_item({"pk": f"APPROVAL#{approval_id}", "sk": f"NONCE#{nonce}"}),
                    ConditionExpression="recipient = :r AND expires_at > :now",
                    ExpressionAttributeValues=_item(
                        {":r": recipient, ":now": int(now.timestamp())}
                    ),
                )
        except Exception as e:
            if _conditional_failed(e):
                raise ApprovalAlreadyDecided(
                    "this form was already used or has expired; open the link again"
                ) from e
            raise

    # the service's queue: who deploys, who waits, what runs ---------------------------
    def admit(self, key: str, image: QueuedImage, rollback: bool = False) -> Displaced | None:
        """Make ``image`` the one waiting, if it is newer than every image that counts.

        Newer than the one waiting (which it displaces), the one deploying and the one
        production runs by our record; else :class:`Superseded` (a newer one waits) or
        :class:`ImageOutdated`. Admitting the same execution again (a retry) is a no-op.

        ``rollback``: an operator's rollback, admitted whatever its image's push time (it
        displaces the image waiting, newer or not); it is still refused when production
        runs that very image by our record.
        """
        values = {":me": image.execution, ":t": image.pushed_ms, ":d": image.digest}
        newest = (
            "(attribute_not_exists(waiting) OR waiting_pushed_ms <= :t) "
            "AND (attribute_not_exists(owner_pushed_ms) OR owner_pushed_ms <= :t OR #o = :me) "
            "AND (attribute_not_exists(current_pushed_ms) OR current_pushed_ms < :t "
            "OR (current_pushed_ms = :t AND current_digest <> :d)) "
        )
        not_running = "(attribute_not_exists(current_digest) OR current_digest <> :d) "
        request: UpdateItemInputTypeDef = {
            "TableName": self._table,
            "Key": self._queue_key(key),
            "UpdateExpression": (
                "SET waiting = :me, waiting_pushed_ms = :t, waiting_image = :img "
                "REMOVE waiting_approval, waiting_token"
            ),
            "ConditionExpression": (not_running if rollback else newest)
            + "AND NOT (waiting = :me)",
            "ExpressionAttributeValues": _item({**values, ":img": image.model_dump_json()}),
            "ReturnValues": "ALL_OLD",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if not rollback:  # DynamoDB refuses a name the expressions do not use
            request["ExpressionAttributeNames"] = {"#o": "owner"}
        try:
            with translated():
                old = self._ddb.update_item(**request)
        except Exception as e:
            if not _conditional_failed(e):
                raise
            item = _old_item(e)
            if item.get("waiting") == image.execution:
                return None  # admitted already: this is a retry
            if rollback:
                raise ImageOutdated(f"{image.label} is the image production runs already") from e
            raise _refusal(item, image) from e
        item = _plain(old.get("Attributes", {}))
        displaced = _image(item, "waiting")
        if displaced is None:
            return None
        return Displaced(displaced, item.get("waiting_approval"), item.get("waiting_token"))

    def withdraw(self, key: str, execution: str) -> bool:
        """Take ``execution``'s image off the queue (it ended before its turn: rejected,
        expired, failed, stopped), so it outranks nothing; False if it was not waiting."""
        try:
            with translated():
                self._ddb.update_item(
                    TableName=self._table,
                    Key=self._queue_key(key),
                    UpdateExpression=(
                        "REMOVE waiting, waiting_pushed_ms, waiting_image, waiting_approval, "
                        "waiting_token"
                    ),
                    ConditionExpression="waiting = :me",
                    ExpressionAttributeValues=_item({":me": execution}),
                )
        except Exception as e:
            if _conditional_failed(e):
                return False
            raise
        return True

    def attach_approval(self, key: str, execution: str, approval_id: str) -> None:
        """Note the waiting image's approval request, so a newer image can close it."""
        self._while_waiting(key, execution, "SET waiting_approval = :v", approval_id)

    def take_turn(self, key: str, image: QueuedImage, token: str, now: datetime) -> Queued:
        """Take the lock if it is free and we are the image waiting; else wait behind it.

        Waiting keeps ``token``: whoever releases the lock wakes us with it. Raises
        :class:`Superseded` when a newer image took our place.
        """
        for _ in range(5):  # the lock may be released between our two writes: look again
            try:
                with translated():
                    self._ddb.update_item(
                        TableName=self._table,
                        Key=self._queue_key(key),
                        UpdateExpression=(
                            "SET #o = :me, since = :now, owner_pushed_ms = :t, owner_image = :img "
                            "REMOVE waiting, waiting_pushed_ms, waiting_image, waiting_approval, "
                            "waiting_token, #snap"
                        ),
                        ConditionExpression="waiting = :me AND attribute_not_exists(#o)",
                        ExpressionAttributeNames={"#o": "owner", "#snap": "snapshot"},
                        ExpressionAttributeValues=_item(
                            {
                                ":me": image.execution,
                                ":now": now.isoformat(),
                                ":t": image.pushed_ms,
                                ":img": image.model_dump_json(),
                            }
                        ),
                        ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    )
                return Queued(behind=None)
            except Exception as e:
                if not _conditional_failed(e):
                    raise
                item = _old_item(e)
            if item.get("owner") == image.execution:
                return Queued(behind=None)  # a retry of a turn already taken
            if item.get("waiting") != image.execution:
                raise _displaced_by(item)
            try:
                self._while_waiting(
                    key, image.execution, "SET waiting_token = :v", token, held=True
                )
            except ServiceLocked:
                continue  # released in between: take it
            return Queued(behind=_image(item, "owner"))
        raise ServiceLocked(f"{key}: the lock changed hands five times while we looked")

    def service_queue(self, key: str) -> ServiceQueue:
        item = self.queue(key)
        return ServiceQueue(
            owner=item.get("owner"),
            deploying=_image(item, "owner"),
            waiting=_image(item, "waiting"),
            running=_image(item, "current"),
        )

    def queue(self, key: str) -> dict[str, Any]:
        """The service's queue item as stored (empty when nothing was ever queued)."""
        with translated():
            found = self._ddb.get_item(
                TableName=self._table, Key=self._queue_key(key), ConsistentRead=True
            )
        return _plain(found.get("Item", {}))

    def _while_waiting(
        self, key: str, execution: str, update: str, value: str, held: bool = False
    ) -> None:
        # Waiting for the turn: only while someone else holds the lock.
        held_by = "attribute_exists(#o) AND #o <> :me" if held else "NOT #o = :me"
        condition = f"waiting = :me AND {held_by}"
        try:
            with translated():
                self._ddb.update_item(
                    TableName=self._table,
                    Key=self._queue_key(key),
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#o": "owner"},
                    ExpressionAttributeValues=_item({":me": execution, ":v": value}),
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except Exception as e:
            if not _conditional_failed(e):
                raise
            item = _old_item(e)
            if item.get("waiting") != execution:
                raise _displaced_by(item) from e
            raise ServiceLocked(f"{key} is free again") from e

    @staticmethod
    def _queue_key(key: str) -> dict[str, AttributeValueTypeDef]:
        return _item({"pk": f"LOCK#{key}", "sk": "LOCK"})

    # locks -------------------------------------------------------------------------------
    def acquire_lock(self, key: str, owner: str, now: datetime) -> None:
        """Take the service's lock; taking it again as its owner is a no-op (retries)."""
        try:
            with translated():
                # An update, not a put: the owner's retry must keep the saved snapshot.
                self._ddb.update_item(
                    TableName=self._table,
                    Key=self._queue_key(key),
                    UpdateExpression="SET #o = :me, since = if_not_exists(since, :now)",
                    ConditionExpression="attribute_not_exists(#o) OR #o = :me",
                    ExpressionAttributeNames={"#o": "owner"},
                    ExpressionAttributeValues=_item({":me": owner, ":now": now.isoformat()}),
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except Exception as e:
            if _conditional_failed(e):
                holder = _old_item(e).get("owner", "?")
                raise ServiceLocked(f"{key} is being deployed by {holder}") from e
            raise

    def lock(self, key: str) -> dict[str, Any] | None:
        """The service's lock while someone holds it; None when it is free."""
        item = self.queue(key)
        return item if item.get("owner") else None

    def held_locks(self) -> list[dict[str, Any]]:
        """Every lock item, each with its ``key`` (cluster/service); read-only.

        A scan: locks have no index of their own, and the janitor's sweep reads them every
        few minutes. Only the lock items come back (the filter), the rest is read and paid for.
        """
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "sk = :lock AND begins_with(pk, :prefix)",
            "ExpressionAttributeValues": _item({":lock": "LOCK", ":prefix": "LOCK#"}),
        }
        while True:
            with translated():
                page = self._ddb.scan(**request)
            for found in page.get("Items", []):
                item = _plain(found)
                items.append({**item, "key": str(item["pk"]).removeprefix("LOCK#")})
            if "LastEvaluatedKey" not in page:
                return sorted(items, key=lambda i: str(i["key"]))
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def save_snapshot(self, key: str, owner: str, snap: ScalingSnapshot) -> None:
        with translated():
            self._ddb.update_item(
                TableName=self._table,
                Key=self._queue_key(key),
                # SNAPSHOT is a DynamoDB reserved word: it must go through a name placeholder.
                UpdateExpression="SET #snap = if_not_exists(#snap, :s)",
                ConditionExpression="#o = :me",
                ExpressionAttributeNames={"#o": "owner", "#snap": "snapshot"},
                ExpressionAttributeValues=_item({":s": snap.model_dump_json(), ":me": owner}),
            )

    def saved_snapshot(self, key: str, owner: str) -> ScalingSnapshot | None:
        lock = self.lock(key)
        if not lock or lock.get("owner") != owner or "snapshot" not in lock:
            return None
        # Imported here: the approval functions use the table too, and never build the
        # state machine's models for it.
        from bluegreen.models import ScalingSnapshot

        return ScalingSnapshot.model_validate_json(lock["snapshot"])

    def release_lock(
        self, key: str, owner: str, now: datetime, deployed: bool = False
    ) -> Released | None:
        """Release the lock held by ``owner``, handing it to the image waiting for its turn
        if one waits; None if ``owner`` does not hold it (so it is safe to repeat).

        ``deployed``: the owner's image is now what production runs.
        """
        for _ in range(5):  # the image waiting may change between our read and our write
            item = self.queue(key)
            if item.get("owner") != owner:
                return None
            sets = ["current_image = :mine, current_pushed_ms = :mine_t, current_digest = :d"]
            values: dict[str, Any] = {":me": owner}
            if deployed and (mine := _image(item, "owner")) is not None:
                values |= {":mine": mine.model_dump_json(), ":mine_t": mine.pushed_ms}
                values[":d"] = mine.digest
            else:
                sets = []
            removed = ["#snap"]
            token = item.get("waiting_token")
            if token:  # the lock goes straight to it: nobody can take it in between
                sets += [
                    "#o = waiting, since = :now, owner_image = waiting_image",
                    "owner_pushed_ms = waiting_pushed_ms",
                ]
                removed += ["waiting", "waiting_pushed_ms", "waiting_image"]
                removed += ["waiting_approval", "waiting_token"]
                values |= {":now": now.isoformat(), ":tok": token}
                condition = "#o = :me AND waiting_token = :tok"
            else:
                removed += ["#o", "since", "owner_pushed_ms", "owner_image"]
                condition = "#o = :me AND attribute_not_exists(waiting_token)"
            update = (f"SET {', '.join(sets)} " if sets else "") + f"REMOVE {', '.join(removed)}"
            try:
                with translated():
                    self._ddb.update_item(
                        TableName=self._table,
                        Key=self._queue_key(key),
                        UpdateExpression=update,
                        ConditionExpression=condition,
                        ExpressionAttributeNames={"#o": "owner", "#snap": "snapshot"},
                        ExpressionAttributeValues=_item(values),
                    )
            except Exception as e:
                if not _conditional_failed(e):
                    raise
                continue
            if token:
                return Released(handed_to=str(item["waiting"]), wake=str(token))
            return Released(handed_to=None, wake=None)
        raise ServiceLocked(f"{key}: the image waiting changed five times while we released")

    # history -----------------------------------------------------------------------------
    def record_outcome(
        self, key: str, execution: str, at: datetime, summary: dict[str, Any]
    ) -> None:
        with translated():
            self._ddb.put_item(
                TableName=self._table,
                Item=_item(
                    {
                        "pk": f"SERVICE#{key}",
                        "sk": f"DEPLOY#{at.isoformat()}#{execution}",
                        "summary": json.dumps(summary, sort_keys=True),
                    }
                ),
            )

    def first_refusal(self, key: str, refusal: str, at: datetime) -> bool:
        """Claim the announcement of a refused push; False when it was claimed before.

        ``refusal`` identifies the push (service, tag, digest): a redelivered event, or the
        same image pushed again under the same tag, is told to the channel once. The claim
        expires, as Step Functions forgets execution names, after 90 days.
        """
        return self._put_unless(
            {
                "pk": f"SERVICE#{key}",
                "sk": f"REFUSED#{refusal}",
                "refused_at": at.isoformat(),
                "expires_at": int((at + _REFUSAL_REMEMBERED).timestamp()),
            },
            "attribute_not_exists(pk)",
        )

    def history(self, key: str, limit: int = 20) -> list[dict[str, Any]]:
        with translated():
            found = self._ddb.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :d)",
                ExpressionAttributeValues=_item({":pk": f"SERVICE#{key}", ":d": "DEPLOY#"}),
                ScanIndexForward=False,
                Limit=limit,
            )
        return [json.loads(_plain(i)["summary"]) for i in found.get("Items", [])]

    # what each environment runs ---------------------------------------------------------
    def record_run(self, run: EnvironmentRun) -> bool:
        """Keep what ``run``'s environment runs now; False (nothing written) when a
        deployment that ended later is recorded there already (a late retry of ours)."""
        return self._put_unless(
            {
                "pk": f"RUNS#{run.service}",
                "sk": f"ENV#{run.environment}",
                "run": run.model_dump_json(),
                "since_ms": run.since_ms,
            },
            "attribute_not_exists(pk) OR since_ms <= :t",
            {":t": run.since_ms},
        )

    def _put_unless(
        self, item: dict[str, Any], condition: str, values: dict[str, Any] | None = None
    ) -> bool:
        """Put ``item`` if ``condition`` holds; False (nothing written) when it does not."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "Item": _item(item),
            "ConditionExpression": condition,
        }
        if values:
            request["ExpressionAttributeValues"] = _item(values)
        try:
            with translated():
                self._ddb.put_item(**request)
        except Exception as e:
            if _conditional_failed(e):
                return False
            raise
        return True

    def runs(self, service: str) -> list[EnvironmentRun]:
        """What each environment of ``service`` runs by our record (those with a record)."""
        from bluegreen.domain.promotion import EnvironmentRun

        with translated():
            found = self._ddb.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :env)",
                ExpressionAttributeValues=_item({":pk": f"RUNS#{service}", ":env": "ENV#"}),
                ConsistentRead=True,
            )
        return [EnvironmentRun.model_validate_json(_plain(item)["run"]) for item in found["Items"]]


def _displaced_by(item: Mapping[str, Any], why: str = "") -> Superseded:
    """The image waiting now took our place: a newer push, or an operator's rollback."""
    newer = _image(item, "waiting")
    if newer is None:
        return Superseded("no longer the image waiting for this service")
    return Superseded(f"superseded by {newer.label}{why}", by=newer.label)


def _refusal(item: Mapping[str, Any], image: QueuedImage) -> Exception:
    """Why ``image`` was not admitted: a newer image waits, deploys, or runs."""
    waiting = _image(item, "waiting")
    if waiting is not None and int(item.get("waiting_pushed_ms", 0)) > image.pushed_ms:
        return _displaced_by(item, ", pushed later")
    for role, where in (("owner", "is being deployed"), ("current", "production runs")):
        other = _image(item, role)
        if other is not None and other.pushed_ms >= image.pushed_ms:
            if other.digest == image.digest:
                return ImageOutdated(f"{image.label} is the image production runs already")
            return ImageOutdated(
                f"{image.label} was pushed before {other.label}, which {where}; "
                "a push never takes a service backwards (roll back on purpose instead)"
            )
    return Superseded("a newer image took its place")
