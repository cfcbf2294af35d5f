"""One function's execution environment: a process that loads its handler once and runs it.

Started by the local runtime (``runtime.py``) as ``python -I worker.py [LAYER_DIR ...]`` with
exactly the function's environment (``_HANDLER``, ``LAMBDA_TASK_ROOT``, its variables and
credentials), the way Lambda's runtime starts in a sandbox of its own. Standard library only:
the function's code directory comes first on ``sys.path`` (``/var/task``), then its layers
(``/opt/python``); the interpreter's site-packages stay, standing in for the runtime's boto3.

Protocol, one JSON document per line:

- worker → runtime, once: ``{"ready": true}`` after the handler loaded (the cold start), or
  ``{"init_error": {...}}`` (then the worker exits, as Lambda's runtime does);
- runtime → worker, per invocation: ``{"request_id", "event", "invoked_function_arn",
  "deadline_ms"}``;
- worker → runtime, per invocation: ``{"payload": "<JSON text>", "error_type": null | str}``.

The protocol has file descriptors of its own: what the function prints, on stdout or stderr,
goes to the worker's stderr (its "CloudWatch log", which the runtime relays), and its stdin
is empty. The worker exits when its input closes, even mid-invocation, so no worker
outlives the runtime that started it.
"""

from __future__ import annotations

import decimal
import importlib
import json
import logging
import math
import os
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import IO, Any

Handler = Callable[[Any, Any], Any]

_request_id = ""


class LambdaContext:
    """The attributes and method of Lambda's Python context object."""

    def __init__(self, request_id: str, invoked_function_arn: str, deadline_ms: int) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        # A string, as Lambda's runtime gives it (read from the environment).
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


class _InitError(Exception):
    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.trace = trace or []


def error_document(
    error_type: str, message: str, request_id: str, trace: list[str]
) -> dict[str, Any]:
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": trace,
    }


def load_handler(setting: str) -> Handler:
    """The handler named by ``module.function`` (Lambda's ``Handler``), imported once."""
    module_name, _, attribute = setting.rpartition(".")
    if not module_name:
        raise _InitError("Runtime.MalformedHandlerName", f"Bad handler '{setting}'")
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise _InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {e}"
        ) from e
    except SyntaxError as e:
        raise _InitError(
            "Runtime.UserCodeSyntaxError",
            f"Syntax error in module '{module_name}': {e}",
            [f'  File "{e.filename}" Line {e.lineno}\n    {e.text}'],
        ) from e
    handler = getattr(module, attribute, None)
    if not callable(handler):
        # Lambda's runtime starts anyway and fails each invocation with this error.
        message = f"Handler '{attribute}' missing on module '{module_name}'"

        def missing(event: Any, context: Any) -> Any:
            raise _InitError("Runtime.HandlerNotFound", message)

        return missing
    return handler  # type: ignore[no-any-return]


def _user_frames(error: BaseException) -> list[str]:
    """The traceback without this file's own frames, as Lambda's runtime filters its own."""
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if f.filename != __file__ and not f.filename.startswith("<frozen importlib")
    ]
    return traceback.format_list(frames)


def _lambda_json(value: Any) -> Any:
    # Lambda's runtime writes a Decimal (DynamoDB's numbers) as a JSON number.
    if isinstance(value, decimal.Decimal):
        if value.is_nan():
            return math.nan
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def invoke(handler: Handler, request: dict[str, Any]) -> dict[str, Any]:
    """One invocation: the answer line for a request line."""
    global _request_id
    request_id = str(request["request_id"])
    _request_id = request_id
    context = LambdaContext(
        request_id, str(request["invoked_function_arn"]), int(request["deadline_ms"])
    )
    try:
        result = handler(request["event"], context)
    except _InitError as e:
        return _error_answer(e.error_type, str(e), request_id, e.trace)
    except Exception as e:
        return _error_answer(type(e).__name__, str(e), request_id, _user_frames(e))
    finally:
        _request_id = ""
    try:
        payload = json.dumps(result, default=_lambda_json, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError) as e:
        return _error_answer(
            "Runtime.MarshalError", f"Unable to marshal response: {e}", request_id, []
        )
    return {"payload": payload, "error_type": None}


def _error_answer(
    error_type: str, message: str, request_id: str, trace: list[str]
) -> dict[str, Any]:
    document = error_document(error_type, message, request_id, trace)
    log_error(document)
    return {"payload": json.dumps(document), "error_type": error_type}


def log_error(document: dict[str, Any]) -> None:
    """The function's log entry for an error, as Lambda's runtime writes it."""
    lines = [f"[ERROR] {document['errorType']}: {document['errorMessage']}"]
    if document["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(line for frame in document["stackTrace"] for line in frame.splitlines())
    sys.stderr.write("\n".join(lines) + "\n")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _request_id
        return True


def _lambda_logging() -> None:
    """The root logger handler Lambda's runtime installs (level stays WARNING)."""
    logging.Formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.addFilter(_RequestIdFilter())
    logging.getLogger().addHandler(handler)


def _protocol_streams() -> tuple[IO[bytes], IO[bytes]]:
    """Private copies of stdin and stdout for the protocol; the function gets the rest."""
    requests = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    return requests, answers


def _read_requests(requests: IO[bytes], inbox: queue.Queue[bytes]) -> None:
    for line in requests:
        inbox.put(line)
    # The runtime is gone (closed, or its process died): so is this environment, whatever
    # the handler is doing.
    os._exit(0)


def _send(answers: IO[bytes], document: dict[str, Any]) -> None:
    answers.write(json.dumps(document).encode("utf-8") + b"\n")
    answers.flush()


def main(layer_dirs: list[str]) -> None:
    requests, answers = _protocol_streams()
    inbox: queue.Queue[bytes] = queue.Queue()
    threading.Thread(
        target=_read_requests, args=(requests, inbox), name="requests", daemon=True
    ).start()
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    sys.path[:0] = [task_root, *layer_dirs]
    _lambda_logging()
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except _InitError as e:
        failure = error_document(e.error_type, str(e), "", e.trace)
    except Exception as e:
        # Anything else raised at import is reported under its own class name.
        failure = error_document(type(e).__name__, str(e), "", _user_frames(e))
    else:
        _send(answers, {"ready": True})
        while True:
            _send(answers, invoke(handler, json.loads(inbox.get())))
    log_error(failure)
    _send(answers, {"init_error": failure})
    sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
