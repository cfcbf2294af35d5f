"""EventBridge, locally: pattern matching, delivery to Lambda targets, and AWS's own events.

moto stores rules and targets but never delivers to Lambda or Step Functions targets, and
the AWS services it emulates emit no events. This module fills both gaps:

- :func:`matches` implements EventBridge's event pattern semantics;
- :class:`EventBus` delivers an event, on a worker thread as EventBridge does
  (asynchronously, after the producer's call returned), to every enabled rule of moto's
  events backend whose pattern matches, invoking Lambda targets in-process and starting
  executions for Step Functions targets;
- :func:`ecr_image_action` and :func:`put_events_entries` shape events exactly as AWS does
  (an ECR push, a client's PutEvents), and :class:`ExecutionWatcher` notices Step
  Functions executions changing status and emits "Step Functions Execution Status Change".
"""

from __future__ import annotations

import copy
import ipaddress
import json
import logging
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from bluegreen_cli.local.intrinsics import ACCOUNT_ID, REGION

log = logging.getLogger(__name__)

_MISSING = object()

# -- pattern matching ------------------------------------------------------------------


class InvalidEventPattern(ValueError):
    """The pattern is not one EventBridge would accept."""


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """Whether an event matches an EventBridge event pattern.

    Every field of the pattern must match (AND); the values listed for a field are
    alternatives (OR); an array in the event matches when any of its elements does; a field
    the event lacks matches only ``{"exists": false}``. ``$or`` holds alternative
    sub-patterns.
    """
    if not isinstance(pattern, dict):
        raise InvalidEventPattern("an event pattern is a JSON object")
    if not isinstance(event, dict):
        event = {}
    for key, expected in pattern.items():
        if key == "$or":
            if not isinstance(expected, list) or not expected:
                raise InvalidEventPattern("$or takes a non-empty array of patterns")
            if not any(matches(alternative, event) for alternative in expected):
                return False
            continue
        actual = event.get(key, _MISSING)
        if isinstance(expected, dict):
            if isinstance(actual, dict):
                if not matches(expected, actual):
                    return False
            elif isinstance(actual, list) and any(isinstance(a, dict) for a in actual):
                if not any(matches(expected, a) for a in actual if isinstance(a, dict)):
                    return False
            elif not matches(expected, {}):
                # A nested pattern over a field the event lacks: its leaves are all missing.
                return False
        elif isinstance(expected, list):
            if not expected:
                raise InvalidEventPattern(f"{key!r}: empty arrays are not allowed")
            if not _field_matches(expected, actual):
                return False
        else:
            raise InvalidEventPattern(f"{key!r} must be an object or an array")
    return True


def _field_matches(alternatives: list[Any], actual: Any) -> bool:
    values = actual if isinstance(actual, list) else [actual]
    for matcher in alternatives:
        if isinstance(matcher, dict) and "exists" in matcher:
            present = actual is not _MISSING
            if bool(matcher["exists"]) == present:
                return True
            continue
        if actual is _MISSING:
            continue
        if any(_value_matches(matcher, value) for value in values):
            return True
    return False


def _value_matches(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, dict):
        return _equal(matcher, value)
    if len(matcher) != 1:
        raise InvalidEventPattern(f"a content filter has one key: {matcher!r}")
    ((operator, operand),) = matcher.items()
    if operator == "prefix":
        return _text_test(operand, value, str.startswith)
    if operator == "suffix":
        return _text_test(operand, value, str.endswith)
    if operator == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == str(operand).lower()
    if operator == "wildcard":
        return isinstance(value, str) and _wildcard(str(operand)).fullmatch(value) is not None
    if operator == "anything-but":
        return _anything_but(operand, value)
    if operator == "numeric":
        return _numeric(operand, value)
    if operator == "cidr":
        try:
            return ipaddress.ip_address(str(value)) in ipaddress.ip_network(str(operand))
        except ValueError:
            return False
    raise InvalidEventPattern(f"unsupported content filter {operator!r}")


def _equal(expected: Any, value: Any) -> bool:
    if expected is None or value is None:
        return expected is None and value is None
    if isinstance(expected, bool) or isinstance(value, bool):
        return expected is value
    if isinstance(expected, int | float) and isinstance(value, int | float):
        return float(expected) == float(value)
    if isinstance(expected, str) and isinstance(value, str):
        return expected == value
    return False


def _text_test(operand: Any, value: Any, test: Callable[[str, str], bool]) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(operand, dict) and "equals-ignore-case" in operand:
        return test(value.lower(), str(operand["equals-ignore-case"]).lower())
    return test(value, str(operand))


def _wildcard(pattern: str) -> re.Pattern[str]:
    pieces = re.split(r"(?<!\\)\*", pattern)
    return re.compile(".*".join(re.escape(piece.replace("\\*", "*")) for piece in pieces))


def _anything_but(operand: Any, value: Any) -> bool:
    if isinstance(operand, list):
        return not any(_equal(item, value) for item in operand)
    if isinstance(operand, dict):
        return not _value_matches(operand, value)
    return not _equal(operand, value)


def _numeric(operand: Any, value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    checks = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        "=": lambda a, b: a == b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    if not isinstance(operand, list) or len(operand) % 2:
        raise InvalidEventPattern(f"numeric takes operator/value pairs: {operand!r}")
    for index in range(0, len(operand), 2):
        check = checks.get(str(operand[index]))
        if check is None:
            raise InvalidEventPattern(f"unknown numeric operator {operand[index]!r}")
        if not check(float(value), float(operand[index + 1])):
            return False
    return True


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


# -- delivery --------------------------------------------------------------------------

LambdaTarget = Callable[[str, dict[str, Any]], bool]
"""Invoke the function with this ARN on an event; False when no such function is served."""
StateMachineTarget = Callable[[str, dict[str, Any]], None]


def _event_buses() -> dict[str, Any]:
    from moto.events.models import events_backends

    return dict(events_backends[ACCOUNT_ID][REGION].event_buses)


def _rules(bus_name: str) -> list[Any]:
    bus = _event_buses().get(bus_name)
    return list(bus.rules.values()) if bus is not None else []


def _moto_delivery(rule: Any, targets: list[dict[str, Any]], event: dict[str, Any]) -> None:
    """Targets moto delivers itself (SQS, CloudWatch Logs, archives, other buses)."""
    own = copy.copy(rule)
    own.targets = targets
    # moto's own event messages carry epoch seconds.
    moment = datetime.strptime(str(event["time"]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    message = {**event, "time": moment.timestamp(), "ingestion-time": time.time()}
    own.send_to_targets(message)


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
    ) -> None:
        self._invoke_lambda = invoke_lambda
        self._start_execution = start_execution
        self._rules = rules
        self._other_targets = other_targets
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
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
        self._queue.put((bus, event))

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
            bus, event = item
            try:
                self._deliver(bus, event)
            except Exception:
                log.exception("delivering %s failed", event.get("detail-type"))
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _deliver(self, bus: str, event: dict[str, Any]) -> None:
        for rule in self._rules(bus):
            if getattr(rule, "state", "ENABLED") != "ENABLED":
                continue
            pattern = rule.event_pattern.get_pattern() if rule.event_pattern else {}
            if not pattern or not matches(pattern, event):
                continue
            others: list[dict[str, Any]] = []
            for target in list(rule.targets):
                arn = str(target.get("Arn", ""))
                service = arn.split(":")[2] if arn.count(":") >= 5 else ""
                if service == "lambda":
                    if self._invoke_lambda(arn, _target_input(target, event)):
                        self.delivered += 1
                    else:
                        log.warning("rule %s: target %s is not served locally", rule.name, arn)
                elif service == "states":
                    self._start_execution(arn, _target_input(target, event))
                    self.delivered += 1
                else:
                    others.append(target)
            if others:
                try:
                    self._other_targets(rule, others, event)
                    self.delivered += len(others)
                except Exception:
                    log.exception("rule %s: delivery to its other targets failed", rule.name)


class ExecutionWatcher:
    """Emits "Step Functions Execution Status Change" when an execution's status moves.

    Polls moto's Step Functions backend, so it sees executions however they were started.
    """

    def __init__(self, emit: Callable[[dict[str, Any]], None], interval: float = 0.5) -> None:
        self._emit = emit
        self._interval = interval
        self._seen: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="sfn-watcher", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.poll()
            except Exception:
                log.exception("watching executions failed")

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
