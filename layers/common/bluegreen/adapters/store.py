"""The state table: approval requests, one-time form nonces, service locks, history.

Single-table layout (pk, sk):
  APPROVAL#<id>      REQUEST                   the approval request, with the task token
  APPROVAL#<id>      NONCE#<nonce>             a one-time decision form, expiring
  LOCK#<cluster>/<service>  LOCK               owner execution + the scaling snapshot
  SERVICE#<cluster>/<service>  DEPLOY#<time>#<execution>   one finished deployment
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from bluegreen.adapters.aws import error_code, translated
from bluegreen.errors import ApprovalAlreadyDecided, ApprovalNotFound, ServiceLocked

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    from bluegreen.domain.approval import ApprovalRecord, Status
    from bluegreen.models import ScalingSnapshot

_ser = TypeSerializer()
_de = TypeDeserializer()


def _item(values: dict[str, Any]) -> dict[str, AttributeValueTypeDef]:
    return {k: _ser.serialize(v) for k, v in values.items() if v is not None}


def _plain(item: Mapping[str, AttributeValueTypeDef]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


def _conditional_failed(e: Exception) -> bool:
    return isinstance(e, ClientError) and error_code(e) == "ConditionalCheckFailedException"


class StateTable:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._ddb = client
        self._table = table

    # approvals ---------------------------------------------------------------------------
    def put_approval(self, record: ApprovalRecord) -> None:
        document = record.model_dump_json()
        with translated():
            self._ddb.put_item(
                TableName=self._table,
                Item=_item(
                    {
                        "pk": f"APPROVAL#{record.approval_id}",
                        "sk": "REQUEST",
                        "status": record.status,
                        "record": document,
                        # kept a week past expiry so late clicks get a clear answer
                        "expires_at": int(record.expires_at.timestamp()) + 7 * 24 * 3600,
                    }
                ),
                ConditionExpression="attribute_not_exists(pk)",
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
            }
        )

    def decide(self, approval_id: str, status: Status, by: str, at: datetime) -> None:
        """Move a pending approval to its decision; exactly one caller ever succeeds."""
        try:
            with translated():
                self._ddb.update_item(
                    TableName=self._table,
                    Key=_item({"pk": f"APPROVAL#{approval_id}", "sk": "REQUEST"}),
                    UpdateExpression="SET #s = :new, decided_by = :by, decided_at = :at",
                    ConditionExpression="#s = :pending",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues=_item(
                        {":new": status, ":by": by, ":at": at.isoformat(), ":pending": "pending"}
                    ),
                )
        except Exception as e:
            if _conditional_failed(e):
                raise ApprovalAlreadyDecided("this request was already decided") from e
            raise

    def expire(self, approval_id: str) -> None:
        with translated():
            self._ddb.update_item(
                TableName=self._table,
                Key=_item({"pk": f"APPROVAL#{approval_id}", "sk": "REQUEST"}),
                UpdateExpression="SET #s = :expired",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_item({":expired": "expired"}),
            )

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

    # locks -------------------------------------------------------------------------------
    def acquire_lock(self, key: str, owner: str, now: datetime) -> None:
        """Take the service's lock; taking it again as its owner is a no-op (retries)."""
        try:
            with translated():
                # An update, not a put: the owner's retry must keep the saved snapshot.
                self._ddb.update_item(
                    TableName=self._table,
                    Key=_item({"pk": f"LOCK#{key}", "sk": "LOCK"}),
                    UpdateExpression="SET #o = :me, since = if_not_exists(since, :now)",
                    ConditionExpression="attribute_not_exists(pk) OR #o = :me",
                    ExpressionAttributeNames={"#o": "owner"},
                    ExpressionAttributeValues=_item({":me": owner, ":now": now.isoformat()}),
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except Exception as e:
            if _conditional_failed(e):
                holder = _plain(getattr(e, "response", {}).get("Item", {})).get("owner", "?")
                raise ServiceLocked(f"{key} is being deployed by {holder}") from e
            raise

    def lock(self, key: str) -> dict[str, Any] | None:
        with translated():
            found = self._ddb.get_item(
                TableName=self._table,
                Key=_item({"pk": f"LOCK#{key}", "sk": "LOCK"}),
                ConsistentRead=True,
            )
        return _plain(found["Item"]) if "Item" in found else None

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
                Key=_item({"pk": f"LOCK#{key}", "sk": "LOCK"}),
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

    def release_lock(self, key: str, owner: str) -> bool:
        try:
            with translated():
                self._ddb.delete_item(
                    TableName=self._table,
                    Key=_item({"pk": f"LOCK#{key}", "sk": "LOCK"}),
                    ConditionExpression="attribute_not_exists(pk) OR #o = :me",
                    ExpressionAttributeNames={"#o": "owner"},
                    ExpressionAttributeValues=_item({":me": owner}),
                )
        except Exception as e:
            if _conditional_failed(e):
                return False
            raise
        return True

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
