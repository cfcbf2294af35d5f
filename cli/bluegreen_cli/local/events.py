"""EventBridge, locally: pattern matching, delivery to Lambda targets, and AWS's own events.

moto stores rules and targets but never delivers to Lambda or Step Functions targets, and
the AWS services it emulates emit no events. This module fills both gaps:

- :func:`pattern_refusal` answers a PutRule or TestEventPattern whose pattern EventBridge
  refuses (:func:`put_rule_refusal` also a ScheduleExpression, see
  :mod:`schedule_expressions`), and :func:`matches` (from :mod:`event_patterns`) matches as
  EventBridge does;
- :class:`EventBus` delivers an event, on a worker thread as EventBridge does
  (asynchronously, after the producer's call returned), to every enabled rule of moto's
  events backend whose pattern matches, invoking Lambda targets in-process and starting
  executions for Step Functions targets (and, with :meth:`EventBus.emit_to_rule`, a
  scheduled rule's firing to that rule's targets, see :mod:`scheduled_rules`);
- :func:`ecr_image_action` and :func:`put_events_entries` shape events exactly as AWS does
  (an ECR push, a client's PutEvents), and :class:`ExecutionWatcher` notices Step
  Functions executions changing status and emits "Step Functions Execution Status Change".
"""

from __future__ import annotations

import copy
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from bluegreen_cli.local import event_patterns, schedule_expressions
from bluegreen_cli.local.event_patterns import InvalidEventPattern as InvalidEventPattern
from bluegreen_cli.local.event_patterns import matches as matches
from bluegreen_cli.local.intrinsics import ACCOUNT_ID, REGION
from bluegreen_cli.local.periodic import Periodic

log = logging.getLogger(__name__)

# -- events as AWS shapes them -----------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _envelope(
    source: str,
    detail_type: str,
    detail: dict[str, Any],
    resources: list[str] | None = None,
    event_id: str | None = None,
    when: str | None = None,
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT_ID,
        "time": when or _now(),
        "region": REGION,
        "resources": resources or [],
        "detail": detail,
    }


def ecr_image_action(
    repository: str,
    digest: str,
    tag: str | None,
    manifest_media_type: str | None = None,
) -> dict[str, Any]:
    """The "ECR Image Action" event ECR emits after a successful push."""
    detail: dict[str, Any] = {
        "result": "SUCCESS",
        "repository-name": repository,
        "image-digest": digest,
        "action-type": "PUSH",
    }
    if tag:
        detail["image-tag"] = tag
    if manifest_media_type:
        detail["manifest-media-type"] = manifest_media_type
    return _envelope("aws.ecr", "ECR Image Action", detail)


def put_events_entries(
    request: dict[str, Any], response: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """(event bus name, event) for each entry of a PutEvents call that was accepted."""
    accepted: list[tuple[str, dict[str, Any]]] = []
    for entry, result in zip(
        request.get("Entries") or [], response.get("Entries") or [], strict=False
    ):
        if "EventId" not in result:
            continue
        try:
            detail = json.loads(entry.get("Detail") or "{}")
        except ValueError:
            continue
        when = entry.get("Time")
        if isinstance(when, int | float):
            when = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        bus = str(entry.get("EventBusName") or "default").split("/")[-1]
        accepted.append(
            (
                bus,
                _envelope(
                    str(entry.get("Source")),
                    str(entry.get("DetailType")),
                    detail if isinstance(detail, dict) else {},
                    resources=[str(r) for r in entry.get("Resources") or []],
                    event_id=str(result["EventId"]),
                    when=str(when) if when else None,
                ),
            )
        )
    return accepted


def _epoch_millis(moment: Any) -> int | None:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    if isinstance(moment, int | float):
        return int(moment * 1000)
    return None


def execution_status_change(execution: Any, status: str) -> dict[str, Any]:
    """The "Step Functions Execution Status Change" event for a moto execution."""
    terminal = status != "RUNNING"
    output = getattr(execution, "output", None)
    detail = {
        "executionArn": execution.execution_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": status,
        "startDate": _epoch_millis(execution.start_date),
        "stopDate": _epoch_millis(execution.stop_date) if terminal else None,
        "input": json.dumps(getattr(execution, "input_data", None)),
        "output": json.dumps(output) if status == "SUCCEEDED" and output is not None else None,
        "inputDetails": {"included": True},
        "outputDetails": {"included": True} if status == "SUCCEEDED" else None,
        "error": getattr(execution, "error", None) if terminal else None,
        "cause": getattr(execution, "cause", None) if terminal else None,
    }
    return _envelope(
        "aws.states",
        "Step Functions Execution Status Change",
        detail,
        resources=[execution.execution_arn],
    )


# -- what EventBridge refuses ------------------------------------------------------------


def pattern_refusal(text: str, quota: int | None = None) -> tuple[int, dict[str, Any]] | None:
    """EventBridge's error answer for an EventPattern it refuses, or None when accepted.

    ``quota`` is the "Event pattern size" quota, which PutRule applies (TestEventPattern
    only has the API's own length limit).
    """
    if len(text) > event_patterns.MAX_PATTERN_LENGTH:
        return 400, {
            "__type": "ValidationException",
            "message": f"1 validation error detected: Value '{text}' at 'eventPattern' failed "
            "to satisfy constraint: Member must have length less than or equal to "
            f"{event_patterns.MAX_PATTERN_LENGTH}",
        }
    if quota is not None and len(text) > quota:
        # The quota is documented (2048 by default); the exact error is not. PutRule's error
        # for a request beyond a service quota is LimitExceededException.
        return 400, {
            "__type": "LimitExceededException",
            "message": f"The event pattern is {len(text)} characters long, beyond the "
            f"Event pattern size quota of {quota} characters.",
        }
    try:
        event_patterns.parse_pattern(text)
    except InvalidEventPattern as e:
        return 400, {
            "__type": "InvalidEventPatternException",
            "message": event_patterns.aws_message(str(e)),
        }
    return None


def put_rule_refusal(request: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """EventBridge's error answer to a PutRule it refuses (its EventPattern, its
    ScheduleExpression, or neither given), or None."""
    text = request.get("EventPattern")
    schedule = request.get("ScheduleExpression")
    if not text and not schedule:
        return 400, {
            "__type": "ValidationException",
            "message": "Parameter(s) EventPattern or ScheduleExpression must be specified.",
        }
    if schedule:
        try:
            schedule_expressions.parse(str(schedule))
        except schedule_expressions.InvalidSchedule as e:
            return 400, {"__type": "ValidationException", "message": str(e)}
    if not text:
        return None
    return pattern_refusal(str(text), quota=event_patterns.PATTERN_SIZE_QUOTA)


# -- delivery --------------------------------------------------------------------------

LambdaTarget = Callable[[str, dict[str, Any]], bool]
"""Hand an event to the function with this ARN (Lambda's asynchronous invocation);
False when no such function is served locally."""
StateMachineTarget = Callable[[str, dict[str, Any]], None]
DeadLetterSender = Callable[[str, str, dict[str, str]], None]
"""Send (queue ARN, message body, string message attributes) to an SQS queue."""


class TargetFailure(Exception):
    """EventBridge could not hand an event to a target.

    ``code`` is the ERROR_CODE a dead-letter message carries (the User Guide lists them:
    NO_RESOURCE, NO_PERMISSIONS, THROTTLING, ...).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# Failures EventBridge does not retry: they go straight to the dead-letter queue.
_NOT_RETRIED = frozenset({"NO_RESOURCE", "NO_PERMISSIONS", "INVALID_PARAMETER"})


def _failure_of(error: Exception) -> TargetFailure:
    """The dead-letter ERROR_CODE for an error a target's service answered."""
    if isinstance(error, TargetFailure):
        return error
    details = getattr(error, "response", None) or {}
    code = str(details.get("Error", {}).get("Code", "")) if isinstance(details, dict) else ""
    message = str(details.get("Error", {}).get("Message", "")) if code else str(error)
    if code in ("ResourceNotFoundException", "StateMachineDoesNotExist", "StateMachineDeleting"):
        return TargetFailure("NO_RESOURCE", message)
    if code.startswith("AccessDenied"):
        return TargetFailure("NO_PERMISSIONS", message)
    if code in ("InvalidExecutionInput", "ValidationException", "InvalidParameterValueException"):
        return TargetFailure("INVALID_PARAMETER", message)
    if "Throttl" in code or code == "TooManyRequestsException":
        return TargetFailure("THROTTLING", message)
    return TargetFailure("UNKNOWN", message or type(error).__name__)


def _event_buses() -> dict[str, Any]:
    from moto.events.models import events_backends

    return dict(events_backends[ACCOUNT_ID][REGION].event_buses)


def _rules(bus_name: str) -> list[Any]:
    bus = _event_buses().get(bus_name)
    return list(bus.rules.values()) if bus is not None else []


def _lambda_exists(arn: str) -> bool:
    from moto.awslambda.models import lambda_backends

    try:
        lambda_backends[ACCOUNT_ID][REGION].get_function(arn)
    except Exception:
        return False
    return True


def _moto_delivery(rule: Any, targets: list[dict[str, Any]], event: dict[str, Any]) -> None:
    """Targets moto delivers itself (SQS, CloudWatch Logs, archives, other buses)."""
    from moto.events.models import EventPattern

    own = copy.copy(rule)
    own.targets = targets
    # The rule matched by EventBridge's rules (checked here already); moto's own matcher,
    # which send_to_targets consults, does not always agree.
    own.event_pattern = EventPattern(None, {})
    # moto's own event messages carry epoch seconds.
    moment = datetime.strptime(str(event["time"]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    message = {**event, "time": moment.timestamp(), "ingestion-time": time.time()}
    own.send_to_targets(message)


def _moto_dead_letter(queue_arn: str, body: str, attributes: dict[str, str]) -> None:
    from moto.sqs.models import sqs_backends

    _, _, _, region, account, name = queue_arn.split(":", 5)
    sqs_backends[account][region].send_message(
        queue_name=name,
        message_body=body,
        message_attributes={
            key: {"DataType": "String", "StringValue": value} for key, value in attributes.items()
        },
    )


def _put_events_error(entry: dict[str, Any]) -> dict[str, str] | None:
    """The per-entry error PutEvents reports, as EventBridge words it."""
    for field in ("Source", "DetailType", "Detail"):
        if not entry.get(field):
            return {
                "ErrorCode": "InvalidArgument",
                "ErrorMessage": (
                    f"Parameter {field} is not valid. Reason: {field} is a required argument."
                ),
            }
    if str(entry["Source"]).startswith("aws."):
        # The aws. prefix is reserved for the events AWS services emit themselves.
        return {
            "ErrorCode": "NotAuthorizedForSourceException",
            "ErrorMessage": "Not authorized for the source.",
        }
    try:
        detail = json.loads(str(entry["Detail"]))
    except ValueError:
        detail = None
    if not isinstance(detail, dict):
        return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    return None


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """What EventBridge sends a target: the event, or Input / InputPath / InputTransformer."""
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        return _json_path(event, str(target["InputPath"]))
    transformer = target.get("InputTransformer")
    if transformer:
        values = {
            name: _json_path(event, path)
            for name, path in (transformer.get("InputPathsMap") or {}).items()
        }
        text = str(transformer.get("InputTemplate", ""))
        for name, value in values.items():
            replacement = value if isinstance(value, str) else json.dumps(value)
            text = text.replace(f"<{name}>", replacement)
        try:
            return json.loads(text)
        except ValueError:
            return text
    return event


def _json_path(document: Any, path: str) -> Any:
    current = document
    for part in [p for p in path.lstrip("$").split(".") if p]:
        current = current.get(part) if isinstance(current, dict) else None
    return current


class EventBus:
    """Delivers events to matching rules' targets from one worker thread."""

    def __init__(
        self,
        invoke_lambda: LambdaTarget,
        start_execution: StateMachineTarget,
        rules: Callable[[str], Iterable[Any]] = _rules,
        other_targets: Callable[[Any, list[dict[str, Any]], dict[str, Any]], None] = _moto_delivery,
        dead_letter: DeadLetterSender = _moto_dead_letter,
        lambda_exists: Callable[[str], bool] = _lambda_exists,
    ) -> None:
        self._invoke_lambda = invoke_lambda
        self._start_execution = start_execution
        self._rules = rules
        self._other_targets = other_targets
        self._dead_letter = dead_letter
        self._lambda_exists = lambda_exists
        # (rule ARN, pattern) already reported as not evaluable: said once, not per event.
        self._reported: set[tuple[str, str]] = set()
        # (bus, event, the one rule it is for: a scheduled rule's firing; None: all rules)
        self._queue: queue.Queue[tuple[str, dict[str, Any], Any] | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._idle = threading.Condition()
        self._pending = 0
        self.emitted = 0
        self.delivered = 0

    def start(self) -> None:
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="eventbridge", daemon=True)
            self._worker.start()

    def stop(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            self._queue.put(None)
            worker.join(timeout=10)

    def emit(self, event: dict[str, Any], bus: str = "default") -> None:
        """Queue an event for delivery; returns at once, as PutEvents does."""
        with self._idle:
            self._pending += 1
            self.emitted += 1
        log.info("event %s / %s", event.get("source"), event.get("detail-type"))
        self._queue.put((bus, event, None))

    def emit_to_rule(self, rule: Any, event: dict[str, Any]) -> None:
        """Queue an event for one rule's targets only: a scheduled rule's firing, which
        EventBridge hands its own targets and matches against no other rule."""
        with self._idle:
            self._pending += 1
            self.emitted += 1
        self._queue.put((str(rule.event_bus_name), event, rule))

    def put_events(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer a PutEvents call: accept valid entries, queue them, report the rest.

        Answered here rather than by moto, whose PutEvents fails on a matching rule with a
        Lambda target.
        """
        entries = request.get("Entries") or []
        if not 1 <= len(entries) <= 10:
            return 400, {
                "__type": "ValidationException",
                "message": "1 validation error detected: Value at 'entries' failed to satisfy "
                "constraint: Member must have length between 1 and 10",
            }
        buses = _event_buses()
        for entry in entries:
            bus = str(entry.get("EventBusName") or "default").split("/")[-1]
            if bus not in buses:
                return 400, {
                    "__type": "ResourceNotFoundException",
                    "message": f"Event bus {bus} does not exist.",
                }
        results: list[dict[str, Any]] = [
            _put_events_error(entry) or {"EventId": str(uuid.uuid4())} for entry in entries
        ]
        for bus, event in put_events_entries(request, {"Entries": results}):
            self.emit(event, bus=bus)
        failed = sum(1 for result in results if "ErrorCode" in result)
        return 200, {"FailedEntryCount": failed, "Entries": results}

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued event was delivered (for tests and the CLI)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            bus, event, rule = item
            try:
                if rule is None:
                    self._deliver(bus, event)
                else:
                    self._deliver_to_rule(rule, event)
            except Exception:
                log.exception("delivering %s failed", event.get("detail-type"))
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _deliver(self, bus: str, event: dict[str, Any]) -> None:
        # Each rule matches and delivers on its own: one that fails stops no other.
        for rule in self._rules(bus):
            try:
                if self._rule_matches(rule, event):
                    self._deliver_to_rule(rule, event)
            except Exception:
                log.exception("rule %s: delivering %s failed", rule.name, event.get("detail-type"))

    def _rule_matches(self, rule: Any, event: dict[str, Any]) -> bool:
        if getattr(rule, "state", "ENABLED") != "ENABLED":
            return False
        pattern = rule.event_pattern.get_pattern() if rule.event_pattern else {}
        if not pattern:
            return False
        try:
            return matches(pattern, event)
        except InvalidEventPattern as e:
            key = (str(getattr(rule, "arn", rule.name)), json.dumps(pattern, sort_keys=True))
            if key not in self._reported:
                self._reported.add(key)
                log.error(
                    "rule %s is skipped: EventBridge would not accept its pattern (%s)",
                    rule.name,
                    e,
                )
            return False

    def _deliver_to_rule(self, rule: Any, event: dict[str, Any]) -> None:
        others: list[dict[str, Any]] = []
        for target in list(rule.targets):
            arn = str(target.get("Arn", ""))
            service = arn.split(":")[2] if arn.count(":") >= 5 else ""
            if service not in ("lambda", "states"):
                others.append(target)
                continue
            try:
                if self._deliver_to_target(service, arn, _target_input(target, event)):
                    self.delivered += 1
                else:
                    log.warning("rule %s: target %s is not served locally", rule.name, arn)
            except Exception as e:
                self._failed(rule, target, event, _failure_of(e))
        if others:
            try:
                self._other_targets(rule, others, event)
                self.delivered += len(others)
            except Exception:
                log.exception("rule %s: delivery to its other targets failed", rule.name)

    def _deliver_to_target(self, service: str, arn: str, payload: Any) -> bool:
        if service == "states":
            self._start_execution(arn, payload)
            return True
        if self._invoke_lambda(arn, payload):
            return True
        if not self._lambda_exists(arn):
            raise TargetFailure("NO_RESOURCE", f"Function not found: {arn}")
        return False

    def _failed(
        self, rule: Any, target: dict[str, Any], event: dict[str, Any], failure: TargetFailure
    ) -> None:
        """A target EventBridge could not deliver to: its dead-letter queue gets the event.

        EventBridge sends failures it does not retry (a missing target, missing rights)
        straight to the queue. Others it retries per the target's RetryPolicy; locally no
        target answers those (they are the local stack's own errors), so they are logged.
        """
        queue_arn = str((target.get("DeadLetterConfig") or {}).get("Arn") or "")
        arn = str(target.get("Arn", ""))
        if failure.code not in _NOT_RETRIED:
            log.error("rule %s: delivery to %s failed: %s", rule.name, arn, failure.message)
            return
        log.warning("rule %s: %s for %s: %s", rule.name, failure.code, arn, failure.message)
        if not queue_arn:
            return
        attributes = {
            "RULE_ARN": str(getattr(rule, "arn", "")),
            "TARGET_ARN": arn,
            "ERROR_CODE": failure.code,
            "ERROR_MESSAGE": failure.message,
            "RETRY_ATTEMPTS": "0",
        }
        try:
            self._dead_letter(queue_arn, json.dumps(event), attributes)
        except Exception:
            # EventBridge counts these as InvocationsFailedToBeSentToDLQ.
            log.exception(
                "rule %s: the dead-letter queue %s refused the event", rule.name, queue_arn
            )


class ExecutionWatcher:
    """Emits "Step Functions Execution Status Change" when an execution's status moves.

    Polls moto's Step Functions backend, so it sees executions however they were started.
    """

    def __init__(self, emit: Callable[[dict[str, Any]], None], interval: float = 0.5) -> None:
        self._emit = emit
        self._seen: dict[str, str] = {}
        self._watch = Periodic("sfn-watcher", interval, self.poll)

    def start(self) -> None:
        self._watch.start()

    def stop(self) -> None:
        self._watch.stop()

    def poll(self) -> None:
        for execution in executions():
            status_value = getattr(execution, "exec_status", None)
            if status_value is None:
                continue
            status = str(getattr(status_value, "value", status_value))
            previous = self._seen.get(execution.execution_arn)
            if previous == status:
                continue
            if previous is None and status != "RUNNING":
                # Finished between two polls: AWS would have said RUNNING first.
                self._emit(execution_status_change(execution, "RUNNING"))
            self._seen[execution.execution_arn] = status
            self._emit(execution_status_change(execution, status))


def executions() -> list[Any]:
    """Every execution moto's Step Functions interpreter knows, in every account and region."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    found: list[Any] = []
    for account_backends in list(stepfunctions_parser_backends.values()):
        for backend in list(account_backends.values()):
            for state_machine in list(backend.state_machines):
                found.extend(list(getattr(state_machine, "executions", [])))
    return found


def state_transitions() -> int:
    """States entered by all executions so far (what Step Functions bills as transitions)."""
    total = 0
    for execution in executions():
        worker = getattr(execution, "exec_worker", None)
        env = getattr(worker, "env", None)
        if env is None:
            continue
        history = env.event_manager.get_event_history()
        total += sum(1 for e in history if str(e.get("type", "")).endswith("StateEntered"))
    return total
