"""Lambda's asynchronous invocation, locally: its queue, its retries, its destinations.

EventBridge, SNS and ``Invoke`` with ``InvocationType=Event`` hand an event to Lambda, which
answers at once (202) and runs the function later from its own queue. As the Lambda
Developer Guide ("Asynchronous invocation", "Error handling and automatic retries")
describes it:

- a function error is retried ``MaximumRetryAttempts`` times (default 2), one minute after
  the first attempt and two minutes after the second;
- a throttle or a service error (the runtime could not take the invocation) goes back to
  the queue, retried with a wait growing exponentially from 1 second to 5 minutes, for as
  long as the event is younger than ``MaximumEventAgeInSeconds`` (default 6 hours);
- an event that fails every attempt (``RetriesExhausted``) or grows too old
  (``EventAgeExceeded``) is discarded, and an *invocation record* goes to the function's
  ``DestinationConfig.OnFailure`` destination; a success goes to ``OnSuccess``.

Waits are Lambda's, scaled by ``time_scale`` (local seconds per AWS second) so that a
local retry comes in seconds, not minutes: at the default 1/60, Lambda's one-minute wait
is one second, and the six-hour event age six minutes.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from werkzeug.wrappers import Request, Response

from bluegreen_cli.local.template import LocalFunction

log = logging.getLogger(__name__)

DEFAULT_TIME_SCALE = 1 / 60
"""Local seconds per AWS second for the queue's waits (a minute becomes a second)."""

DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 2
DEFAULT_MAXIMUM_EVENT_AGE_SECONDS = 6 * 60 * 60
# Waits after a function error, in AWS seconds: before the 2nd attempt, before the 3rd.
_ERROR_RETRY_WAITS = (60.0, 120.0)
# Waits after a throttle: 1 s doubling up to 5 minutes (AWS seconds).
_THROTTLE_FIRST_WAIT = 1.0
_THROTTLE_LONGEST_WAIT = 300.0


class InvocationResult(Protocol):
    """What one run of the function gave (the runtime's ``Invocation``)."""

    payload: bytes
    function_error: str | None


Invoke = Callable[[LocalFunction, Any], InvocationResult]
"""Run the function on an event, synchronously; raises when it could not be run at all."""
ClientFactory = Callable[[str], Any]
FunctionClientFactory = Callable[[str, LocalFunction], Any]


@dataclass(frozen=True)
class EventInvokeConfig:
    """A function's asynchronous invocation settings (``EventInvokeConfig``)."""

    maximum_retry_attempts: int = DEFAULT_MAXIMUM_RETRY_ATTEMPTS
    maximum_event_age_seconds: int = DEFAULT_MAXIMUM_EVENT_AGE_SECONDS
    on_success: str | None = None
    on_failure: str | None = None

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any] | None) -> EventInvokeConfig:
        """From the template's ``EventInvokeConfig`` property (intrinsics resolved)."""
        properties = properties or {}
        destinations = properties.get("DestinationConfig") or {}

        def destination(condition: str) -> str | None:
            value = (destinations.get(condition) or {}).get("Destination")
            return str(value) if value else None

        return cls(
            maximum_retry_attempts=int(
                properties.get("MaximumRetryAttempts", DEFAULT_MAXIMUM_RETRY_ATTEMPTS)
            ),
            maximum_event_age_seconds=int(
                properties.get("MaximumEventAgeInSeconds", DEFAULT_MAXIMUM_EVENT_AGE_SECONDS)
            ),
            on_success=destination("OnSuccess"),
            on_failure=destination("OnFailure"),
        )


@dataclass
class _Event:
    """One event in the function's queue."""

    function: LocalFunction
    payload: Any
    config: EventInvokeConfig
    request_id: str
    queued_at: float
    invocations: int = 0
    throttles: int = 0
    last: InvocationResult | None = field(default=None, repr=False)


class AsyncInvoker:
    """The asynchronous invocation queue of every function the stack serves."""

    def __init__(
        self,
        invoke: Invoke,
        clients: ClientFactory,
        time_scale: float = DEFAULT_TIME_SCALE,
        function_clients: FunctionClientFactory | None = None,
        workers: int = 4,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._invoke = invoke
        self._clients = clients
        # Lambda sends an invocation record with the function's own execution role.
        self._function_clients = function_clients or (lambda service, function: clients(service))
        self.time_scale = time_scale
        self._workers = workers
        self._clock = clock
        self._due: list[tuple[float, int, _Event]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._pending = 0
        self._running = False
        self._scheduler: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    # lifecycle

    def start(self) -> None:
        with self._changed:
            if self._running:
                return
            self._running = True
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="lambda-async")
        self._scheduler = threading.Thread(target=self._schedule, name="lambda-queue", daemon=True)
        self._scheduler.start()

    def stop(self) -> None:
        with self._changed:
            self._running = False
            dropped = len(self._due)
            self._due.clear()
            self._pending -= dropped
            self._changed.notify_all()
        if dropped:
            log.warning("%d asynchronous invocation(s) dropped at shutdown", dropped)
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.join(timeout=5)
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False)

    def submit(self, function: LocalFunction, payload: Any) -> str:
        """Queue an event for the function (Invoke with InvocationType=Event); its request id."""
        config = EventInvokeConfig.from_properties(function.event_invoke_config)
        event = _Event(function, payload, config, str(uuid.uuid4()), self._clock())
        with self._changed:
            self._pending += 1
        self._queue(event, after_aws_seconds=0.0)
        return event.request_id

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued event was run to its end (tests, the CLI)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._pending == 0, timeout=timeout)

    # the queue

    def _queue(self, event: _Event, after_aws_seconds: float) -> None:
        due = self._clock() + after_aws_seconds * self.time_scale
        with self._changed:
            if not self._running:
                log.warning("%s: event %s dropped (stopped)", event.function.name, event.request_id)
                self._pending -= 1
                self._changed.notify_all()
                return
            heapq.heappush(self._due, (due, next(self._order), event))
            self._changed.notify_all()

    def _schedule(self) -> None:
        while True:
            with self._changed:
                while self._running and (not self._due or self._due[0][0] > self._clock()):
                    wait = self._due[0][0] - self._clock() if self._due else None
                    self._changed.wait(timeout=wait)
                if not self._running:
                    return
                _, _, event = heapq.heappop(self._due)
            assert self._pool is not None
            self._pool.submit(self._attempt, event)

    def _age(self, event: _Event) -> float:
        """How long the event has been queued, in AWS seconds."""
        return (self._clock() - event.queued_at) / self.time_scale

    def _attempt(self, event: _Event) -> None:
        try:
            self._run(event)
        except Exception:
            log.exception("asynchronous invocation of %s failed", event.function.name)
            self._done()

    def _run(self, event: _Event) -> None:
        if self._age(event) > event.config.maximum_event_age_seconds:
            self._finish(event, "EventAgeExceeded")
            return
        try:
            result = self._invoke(event.function, event.payload)
        except Exception as e:
            # The function did not run (Lambda: throttled, or a service error): back to
            # the queue, waiting longer each time.
            event.throttles += 1
            wait = min(_THROTTLE_FIRST_WAIT * 2 ** (event.throttles - 1), _THROTTLE_LONGEST_WAIT)
            log.warning("%s could not run (%s); again in %.0f s", event.function.name, e, wait)
            self._queue(event, wait)
            return
        event.invocations += 1
        event.last = result
        if not result.function_error:
            self._finish(event, "Success")
        elif event.invocations > event.config.maximum_retry_attempts:
            self._finish(event, "RetriesExhausted")
        else:
            wait = _ERROR_RETRY_WAITS[min(event.invocations, len(_ERROR_RETRY_WAITS)) - 1]
            log.info(
                "%s failed (attempt %d); retried in %.0f s",
                event.function.name,
                event.invocations,
                wait,
            )
            self._queue(event, wait)

    def _finish(self, event: _Event, condition: str) -> None:
        try:
            destination = (
                event.config.on_success if condition == "Success" else event.config.on_failure
            )
            if condition != "Success":
                log.warning(
                    "%s: event %s discarded (%s after %d invocation(s))",
                    event.function.name,
                    event.request_id,
                    condition,
                    event.invocations,
                )
            if destination:
                self._send(destination, event, invocation_record(event, condition))
        finally:
            self._done()

    def _done(self) -> None:
        with self._changed:
            self._pending -= 1
            self._changed.notify_all()

    def _send(self, destination: str, event: _Event, record: dict[str, Any]) -> None:
        """Deliver an invocation record (Lambda's destinations, by the destination's type)."""
        body = json.dumps(record)
        parts = destination.split(":")
        service = parts[2] if len(parts) > 5 else ""
        try:
            as_function = self._function_clients
            if service == "sqs":
                # The queue's URL is the local stack's to find; the send is the function's.
                url = self._clients("sqs").get_queue_url(
                    QueueName=parts[5], QueueOwnerAWSAccountId=parts[4]
                )
                as_function("sqs", event.function).send_message(
                    QueueUrl=url["QueueUrl"], MessageBody=body
                )
            elif service == "sns":
                as_function("sns", event.function).publish(TopicArn=destination, Message=body)
            elif service == "lambda":
                as_function("lambda", event.function).invoke(
                    FunctionName=destination, InvocationType="Event", Payload=body.encode()
                )
            elif service == "events":
                outcome = (
                    "Success" if record["requestContext"]["condition"] == "Success" else ("Failure")
                )
                as_function("events", event.function).put_events(
                    Entries=[
                        {
                            "Source": "lambda",
                            "DetailType": f"Lambda Function Invocation Result - {outcome}",
                            "Detail": body,
                            "Resources": [event.function.arn, destination],
                            "EventBusName": destination,
                        }
                    ]
                )
            else:
                log.warning("%s: destination %s is not emulated", event.function.name, destination)
        except Exception:
            # Lambda counts these as DestinationDeliveryFailures.
            log.exception("%s: the record could not go to %s", event.function.name, destination)


def _timestamp() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _json_or_text(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", "replace")


def invocation_record(event: _Event, condition: str) -> dict[str, Any]:
    """The invocation record Lambda sends to a destination, in its documented shape."""
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": _timestamp(),
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": f"{event.function.arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": event.invocations,
        },
        "requestPayload": event.payload,
    }
    if event.last is not None:
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if event.last.function_error:
            response["functionError"] = event.last.function_error
        record["responseContext"] = response
        record["responsePayload"] = _json_or_text(event.last.payload)
    return record


# -- the Lambda Invoke API, InvocationType=Event ------------------------------------------


def serve_event_invoke(
    invoker: AsyncInvoker, function: LocalFunction, request: Request
) -> Response:
    """Answer ``Invoke`` with ``InvocationType=Event`` as Lambda does: queued, 202."""
    body = request.get_data()
    try:
        payload = json.loads(body) if body.strip() else {}
    except ValueError:
        return Response(
            json.dumps(
                {
                    "Type": "User",
                    "Message": "Could not parse request body into json: the payload is not "
                    "valid JSON",
                }
            ),
            status=400,
            content_type="application/json",
            headers={"x-amzn-ErrorType": "InvalidRequestContentException"},
        )
    request_id = invoker.submit(function, payload)
    return Response(
        status=202, headers={"x-amzn-RequestId": request_id, "X-Amz-Executed-Version": "$LATEST"}
    )
