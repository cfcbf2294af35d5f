"""The local stack: one threaded HTTP server that is the app's whole AWS account.

Requests are dispatched on one port:

- ``/_local/...``: control routes (health, outbox, the Slack workspace's Web API and its
  signing secret, sample switch, stats, firing a scheduled rule now);
- the HTTP API routes of the template (``/approvals/{approval_id}``): the API's function,
  with an API Gateway payload format 2.0 event;
- ``POST /2015-03-31/functions/<name>/invocations``: the function's handler, in a worker process;
- everything else: moto's server app, after the local interceptors that fill moto's gaps
  (CodeDeploy deployments and ECS guards by the simulator, ECR pushes and PutEvents
  delivered to EventBridge rules, the Step Functions calls of ``stepfunctions.py``) and the
  checks that refuse or complete a request the way AWS does (ECR PutImage,
  RegisterScalableTarget, the SES sandbox).

moto's Step Functions interpreter calls Lambda over HTTP on ``localhost:$MOTO_PORT``; the
server sets ``MOTO_PORT`` to its own port so those calls come back here.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

import boto3
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import get_input_stream

from bluegreen_cli.local import events as eventbridge
from bluegreen_cli.local import ses as ses_sandbox
from bluegreen_cli.local import stepfunctions
from bluegreen_cli.local.apigw import http_api_event, http_api_response
from bluegreen_cli.local.async_invoke import AsyncInvoker, serve_event_invoke
from bluegreen_cli.local.autoscaling import completed_register_scalable_target
from bluegreen_cli.local.awserror import AwsError
from bluegreen_cli.local.ecr import checked_put_image, stamp_push_time
from bluegreen_cli.local.intrinsics import ACCOUNT_ID, REGION
from bluegreen_cli.local.outbox import Outbox
from bluegreen_cli.local.rights import Rights
from bluegreen_cli.local.rights.account import MotoAccount
from bluegreen_cli.local.rights.assumed import MotoSessions
from bluegreen_cli.local.rights.calls import (
    AwsCall,
    access_key_of,
    denial_response,
    parse_call,
    signing_service,
)
from bluegreen_cli.local.rights.identity import function_credentials
from bluegreen_cli.local.runtime import (
    FunctionRuntime,
    Invocation,
    Throttled,
    invoke_function_name,
    serve_invoke,
)
from bluegreen_cli.local.sandbox import FunctionLog, stderr_log
from bluegreen_cli.local.scheduled_rules import NotScheduled, RuleNotFound, ScheduledRules
from bluegreen_cli.local.slack import SlackWorkspace
from bluegreen_cli.local.template import (
    LocalApp,
    LocalFunction,
    create_app,
    match_route,
    read_template,
)

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

ECR_PUT_IMAGE = "AmazonEC2ContainerRegistry_V20150921.PutImage"
AAS_REGISTER_TARGET = "AnyScaleFrontendService.RegisterScalableTarget"
PUT_EVENTS = "AWSEvents.PutEvents"
PUT_RULE = "AWSEvents.PutRule"
TEST_EVENT_PATTERN = "AWSEvents.TestEventPattern"
CODEDEPLOY_PREFIX = "CodeDeploy_20141006."
ECS_PREFIX = "AmazonEC2ContainerServiceV20141113."
SLACK_API_PATH = "/_local/slack/api/"
# Names, not values: the secrets the local installation keeps its Slack app's in.
LOCAL_SLACK_TOKEN_SECRET = "bluegreen/slack-bot-token"  # noqa: S105
LOCAL_SLACK_SIGNING_SECRET = "bluegreen/slack-signing-secret"  # noqa: S105
SLACK_INTERACTIONS_PATH = "/slack/interactions"

_READ_ACTIONS = ("Describe", "Get", "List", "BatchGet", "Receive")

# Requests completed or refused (AwsError) the way AWS would, before moto answers them.
_REQUEST_CHECKS: dict[str, Callable[[dict[str, Any], str, str], dict[str, Any]]] = {
    ECR_PUT_IMAGE: checked_put_image,
    AAS_REGISTER_TARGET: completed_register_scalable_target,
}

# moto's state (and MOTO_PORT) belong to the process: stacks in one process share them.
_running: list[LocalStack] = []


def default_project_root() -> Path:
    """The directory holding template.yaml: the working directory, else this checkout's root."""
    for candidate in (Path.cwd(), *Path.cwd().parents):
        if (candidate / "template.yaml").is_file():
            return candidate
    return Path(__file__).resolve().parents[3]


def _json_response(document: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(document, default=str), status=status, content_type="application/json"
    )


def _aws_json(document: dict[str, Any], status: int = 200) -> Response:
    """A response of the AWS JSON protocols; an error names its type in ``__type``."""
    headers = {}
    if status >= 400 and "__type" in document:
        headers["x-amzn-ErrorType"] = str(document["__type"])
    return Response(
        json.dumps(document, default=_aws_json_default),
        status=status,
        content_type="application/x-amz-json-1.1",
        headers=headers,
    )


def _aws_json_error(status: int, error_type: str, message: str) -> Response:
    return _aws_json({"__type": error_type, "message": message}, status)


def _read_body(environ: dict[str, Any]) -> bytes:
    """The request body, with the stream rewound for whoever reads it next."""
    data = get_input_stream(environ).read()
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    environ.pop("wsgi.input_terminated", None)
    return data


def _replace_body(environ: dict[str, Any], data: bytes) -> None:
    """Hand the next reader ``data`` as the request body."""
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))


def _call_wsgi(app: WsgiApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run a WSGI app to completion and keep its whole response."""
    captured: dict[str, Any] = {}
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"], captured["headers"] = status, headers
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return str(captured["status"]), list(captured["headers"]), b"".join(chunks)


class LocalStack:
    """The emulated account with the app from ``template.yaml`` in it, served on one port.

    Usable in-process (tests) and from ``bluegreen local serve``::

        with LocalStack(port=0, sample=True) as stack:
            stack.client("ecr").put_image(...)
    """

    def __init__(
        self,
        port: int = 4566,
        host: str = "127.0.0.1",
        sample: bool = False,
        project_root: Path | str | None = None,
        parameters: dict[str, Any] | None = None,
        sample_ports: tuple[int, int] = (0, 0),
        sample_count: int = 1,
        function_environment: dict[str, str] | None = None,
        function_log: FunctionLog | None = None,
        codedeploy_timing: Any = None,
        function_workers: int | None = None,
        ecs_rollout_timing: Any = None,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.with_sample = sample
        self.project_root = Path(project_root) if project_root else default_project_root()
        self.parameters = dict(parameters or {})
        # Added to every function's environment (e.g. a quieter POWERTOOLS_LOG_LEVEL).
        self.function_environment = dict(function_environment or {})
        # Where the functions' own output goes (their CloudWatch log): stderr by default.
        self.function_log = function_log or stderr_log()
        # Execution environments per function at most (None: the runtime's default).
        self.function_workers = function_workers
        # How long the local CodeDeploy's work takes (codedeploy.Timing; None: its defaults).
        self.codedeploy_timing = codedeploy_timing
        # How long ECS's rolling deployments take (ecs_rollouts.RolloutTiming; None: defaults).
        self.ecs_rollout_timing = ecs_rollout_timing
        # The sample ALB's production and test listener ports (0: any free port); the
        # sample's service configuration probes whichever port the test listener got.
        self.sample_ports = sample_ports
        # How many sample targets (``sample.SampleNames``): the first is the contract's.
        self.sample_count = sample_count
        self._sample_sockets: list[Any] = []
        self.port = port
        self.ready = False
        self.app: LocalApp | None = None
        self.runtime: FunctionRuntime | None = None
        self.rights: Rights | None = None
        self.outbox = Outbox()
        self.slack = SlackWorkspace(self._record_slack)
        self.sample: Any = None  # sample.SampleResources when started with sample=True
        # sample.DevResources: the sample's development environment, in its own account.
        self.dev: Any = None
        # Which account a request acts in, and whose session its keys are (moto's view).
        self._sessions = MotoSessions()
        self.samples: list[Any] = []  # every sample target, the first being ``sample``
        self.sample_target: Any = None
        self.sample_targets: list[Any] = []
        self.started_in: float | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._session = boto3.session.Session(
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the emulator accepts any
            region_name=REGION,
        )
        # Clients are made once per service: building one loads its service model.
        self._clients: dict[str, Any] = {}
        self._function_clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()
        self._moto: WsgiApp | None = None
        self._saved_moto_port: str | None = None
        self._simulator: Any = None
        self._rollouts: Any = None  # ecs_rollouts.EcsRollouts, while started
        self._load_balancers: list[Any] = []
        # Lambda's asynchronous invocations (EventBridge targets, Invoke with Event).
        self.async_invocations = AsyncInvoker(
            self._run_function, self.client, function_clients=self.function_client
        )
        self.events = eventbridge.EventBus(self._invoke_target, self._start_execution_target)
        self._watcher = eventbridge.ExecutionWatcher(self.events.emit)
        self.schedules = ScheduledRules(self.events.emit_to_rule)

    # -- public API ------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """Where AWS clients point (also the base URL of approval links)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.endpoint_url

    def client(self, service: str) -> Any:
        """A boto3 client for the emulated account (fixed local credentials, us-east-1)."""
        with self._clients_lock:
            if service not in self._clients:
                # boto3-stubs types client() per literal service name; this takes any.
                session: Any = self._session
                self._clients[service] = session.client(service, endpoint_url=self.endpoint_url)
            return self._clients[service]

    def function_client(self, service: str, function: LocalFunction) -> Any:
        """A client that signs as ``function`` (its calls are authorized as its role)."""
        key = (service, function.logical_id)
        with self._clients_lock:
            if key not in self._function_clients:
                credentials = function_credentials(function.logical_id)
                session: Any = boto3.session.Session(
                    aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
                    aws_session_token=credentials["AWS_SESSION_TOKEN"],
                    region_name=REGION,
                )
                self._function_clients[key] = session.client(
                    service, endpoint_url=self.endpoint_url
                )
            return self._function_clients[key]

    def start(self) -> LocalStack:
        """Serve, create the app's resources (and the sample), then report ready."""
        began = time.monotonic()
        if _running:
            log.warning(
                "another local stack is running in this process (%s); starting this one "
                "empties the emulated account they share",
                _running[0].endpoint_url,
            )
        self._prepare_moto()
        # A fresh account: nothing sent, no executions seen.
        self.outbox = Outbox()
        self.slack = SlackWorkspace(self._record_slack)
        self._watcher = eventbridge.ExecutionWatcher(self.events.emit)
        self.schedules = ScheduledRules(self.events.emit_to_rule)
        self._bind()
        self._simulator = self._make_simulator()
        if self._simulator is not None:
            self._simulator.start()
        self._rollouts = self._make_rollouts()
        self._rollouts.start()
        self.async_invocations.start()
        self.events.start()
        try:
            if self.with_sample:
                self._provision_sample()
                # The sample's first push must reach no rule of the app (they do not exist
                # yet): let its event be delivered before the rules are created.
                self.events.wait_idle()
            self.app = create_app(
                self.project_root / "template.yaml",
                self.client,
                self.base_url,
                parameter_overrides=self._parameter_overrides(),
            )
            self.rights = Rights.for_app(
                self.app,
                MotoAccount(self._simulator.deployments if self._simulator else None),
                self._sessions,
            )
            self.runtime = FunctionRuntime(
                self.app.functions,
                self.endpoint_url,
                extra_environment=self.function_environment,
                log=self.function_log,
                **({"max_workers": self.function_workers} if self.function_workers else {}),
            )
            self._local_account_setup()
            if self.with_sample:
                self._serve_sample()
            self._watcher.start()
            self.schedules.start()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        self.ready = True
        _running.append(self)
        log.info("local stack ready in %.1f s at %s", self.started_in, self.endpoint_url)
        return self

    def stop(self) -> None:
        self.ready = False
        if self in _running:
            _running.remove(self)
        self._watcher.stop()
        self.schedules.stop()
        self.events.stop()
        self.async_invocations.stop()
        for part in (*self._load_balancers, self._simulator, self._rollouts):
            if part is not None:
                try:
                    part.stop()
                except Exception:
                    log.exception("stopping %s failed", type(part).__name__)
        self._load_balancers = []
        for sock in self._sample_sockets:  # reserved, never served (start-up failed)
            sock.close()
        self._sample_sockets = []
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.runtime is not None:
            self.runtime.close()
        if os.environ.get("MOTO_PORT") == str(self.port):
            if self._saved_moto_port is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = self._saved_moto_port

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def codedeploy(self) -> Any:
        """The local CodeDeploy (``codedeploy.CodeDeploySimulator``), for observers."""
        return self._simulator

    def stats(self) -> dict[str, Any]:
        runtime = self.runtime.stats() if self.runtime else {"invocations": 0, "functions": {}}
        executions: dict[str, int] = {}
        for execution in eventbridge.executions():
            status = getattr(execution, "exec_status", None)
            name = str(getattr(status, "value", status))
            executions[name] = executions.get(name, 0) + 1
        return {
            **runtime,
            "state_transitions": eventbridge.state_transitions(),
            "executions": executions,
            "events": {
                "emitted": self.events.emitted,
                "delivered": self.events.delivered,
                "scheduled": self.schedules.fired,
            },
            "rights": self.rights.stats() if self.rights else {},
        }

    # -- start-up --------------------------------------------------------------------------

    def _prepare_moto(self) -> None:
        from moto.moto_api._internal.models import moto_api_backend
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        # EC2's default AMI catalogue is the slowest part of a fresh EC2 backend, and nothing
        # here launches instances.
        os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        # moto's state is per process: a stack starts from an empty account.
        moto_api_backend.reset()
        moto_api_backend.set_config({"stepfunctions": {"execute_state_machine": True}})
        stepfunctions.install()
        self._moto = DomainDispatcherApplication(create_backend_app)

    def _bind(self) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler

        class QuietHandler(MotoRequestHandler):
            # Requests are logged once, by the dispatcher, with what they were.
            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                pass

        said = io.StringIO()
        try:
            # werkzeug prints why it cannot listen, then ends the process: callers get an
            # error to report their own way instead.
            with contextlib.redirect_stderr(said):
                self._server = make_server(
                    self.host,
                    self.requested_port,
                    self,
                    threaded=True,
                    request_handler=QuietHandler,
                )
        except SystemExit as e:
            why = (said.getvalue().splitlines() or ["Address already in use"])[0]
            code = errno.EACCES if "ermission" in why else errno.EADDRNOTAVAIL
            if "in use" in why:
                code, why = errno.EADDRINUSE, "address already in use"
            raise OSError(code, why) from e
        self.port = int(self._server.server_port)
        # They point at the endpoint, which may have changed.
        self._clients.clear()
        self._function_clients.clear()
        # moto's Step Functions interpreter reaches Lambda at localhost:$MOTO_PORT.
        self._saved_moto_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(self.port)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},  # how soon stop() is noticed
            name="local-stack",
            daemon=True,
        )
        self._thread.start()

    def _make_simulator(self) -> Any:
        try:
            from bluegreen_cli.local.codedeploy import CodeDeploySimulator
        except ImportError:  # pragma: no cover - only while the simulator is missing
            log.warning("CodeDeploy simulator unavailable: deployments stay Created")
            return None
        return CodeDeploySimulator(
            account_id=ACCOUNT_ID, region=REGION, timing=self.codedeploy_timing
        )

    def _make_rollouts(self) -> Any:
        from bluegreen_cli.local.ecs_rollouts import EcsRollouts

        return EcsRollouts(self.ecs_rollout_timing)

    @property
    def rollouts(self) -> Any:
        """The local ECS rolling deployments (``ecs_rollouts.EcsRollouts``), for observers."""
        return self._rollouts

    def _provision_sample(self) -> None:
        from bluegreen_cli.local.loadbalancer import reserve_ports
        from bluegreen_cli.local.sample import provision_dev_account, provision_samples
        from bluegreen_cli.local.target_account import role_template

        # The listeners' ports are bound before the listeners exist (see reserve_ports); the
        # first sample's may be asked for, the others take free ports.
        wanted = [*self.sample_ports, *(0, 0) * (self.sample_count - 1)]
        self._sample_sockets = reserve_ports("127.0.0.1", wanted)
        ports = [int(s.getsockname()[1]) for s in self._sample_sockets]
        self.samples = provision_samples(
            self.endpoint_url,
            session=self._session,
            listener_ports=list(zip(ports[::2], ports[1::2], strict=True)),
        )
        self.sample = self.samples[0]
        self.dev = provision_dev_account(
            self.endpoint_url,
            self.sample,
            role_template(self.project_root),
            session=self._session,
        )

    def _serve_sample(self) -> None:
        from bluegreen_cli.local.loadbalancer import LoadBalancerPlane
        from bluegreen_cli.local.sample import SampleTarget

        sockets = {int(s.getsockname()[1]): s for s in self._sample_sockets}
        self._sample_sockets = []
        self.sample_targets = []
        for sample in self.samples:
            target = SampleTarget(
                sample.production_listener_arn, account_id=ACCOUNT_ID, region=REGION
            )
            self.sample_targets.append(target)
            plane = LoadBalancerPlane(
                sample.load_balancer_name,
                target,
                account_id=ACCOUNT_ID,
                region=REGION,
                sockets={p: sockets.pop(p) for p in (sample.production_port, sample.test_port)},
            )
            self._load_balancers.append(plane)
            plane.start()
        self.sample_target = self.sample_targets[0]

    def _parameter_overrides(self) -> dict[str, Any]:
        """The caller's parameters; the local account has Slack unless told otherwise.

        A template whose Slack secrets default to empty (no Slack, on AWS) gets the local
        account's, and the Slack Web API of the local workspace. With the sample, the app may
        assume the development account's role (as an installation lists its target
        accounts' roles in TargetRoleArns).
        """
        declared = read_template(self.project_root / "template.yaml").get("Parameters") or {}
        local: dict[str, Any] = {}
        for name, secret in (
            ("SlackBotTokenSecretName", LOCAL_SLACK_TOKEN_SECRET),
            ("SlackSigningSecretName", LOCAL_SLACK_SIGNING_SECRET),
        ):
            given = declared.get(name)
            if isinstance(given, dict) and not given.get("Default"):
                local[name] = secret
        if "SlackApiUrl" in declared:
            local["SlackApiUrl"] = self.base_url + SLACK_API_PATH
        if self.dev is not None and "TargetRoleArns" in declared:
            local["TargetRoleArns"] = self.dev.role_arn
        return {**local, **self.parameters}

    def _local_account_setup(self) -> None:
        """What an operator does once per account outside the stack, done for them."""
        assert self.app is not None
        sender = str(self.app.parameters.get("SenderEmail") or "")
        if sender:
            # SES refuses to send from an unverified address, locally as on AWS.
            self.client("ses").verify_email_identity(EmailAddress=sender)
        if self.sample is not None:
            self._put_sample_configuration()
        # The local Slack workspace's app: the installation keeps its token and signing
        # secret in Secrets Manager, as on AWS.
        for parameter, value, what in (
            ("SlackBotTokenSecretName", self.slack.token, "Slack app bot token"),
            ("SlackSigningSecretName", self.slack.signing_secret, "Slack app signing secret"),
        ):
            name = str(self.app.parameters.get(parameter) or "")
            if name:
                self.client("secretsmanager").create_secret(
                    Name=name, SecretString=value, Description=f"{what} (local workspace)"
                )

    def _put_sample_configuration(self) -> None:
        """The installation's service configuration, as an operator puts it: the sample's."""
        from bluegreen_cli.local.sample import sample_configuration

        assert self.app is not None
        name = str(self.app.parameters.get("ServicesParameterName") or "")
        if name:
            self.client("ssm").put_parameter(
                Name=name,
                Value=sample_configuration(*self.samples, dev=self.dev),
                Type="String",
                Description="bluegreen service configuration: the local sample",
            )

    # -- event targets ---------------------------------------------------------------------

    def _invoke_target(self, arn: str, event: dict[str, Any]) -> bool:
        # EventBridge invokes Lambda targets asynchronously.
        function = self.app.function(arn) if self.app else None
        if function is None:
            return False
        self.async_invocations.submit(function, event)
        return True

    def _run_function(self, function: LocalFunction, event: Any) -> Invocation:
        if self.runtime is None:
            raise Throttled("the runtime is not started")
        return self.runtime.invoke(function, event)

    def _start_execution_target(self, arn: str, event: dict[str, Any]) -> None:
        self.client("stepfunctions").start_execution(stateMachineArn=arn, input=json.dumps(event))

    # -- the WSGI application --------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        began = time.monotonic()
        path = str(environ.get("PATH_INFO", ""))
        method = str(environ.get("REQUEST_METHOD", "GET"))
        label = f"{method} {path}"
        quiet = False
        try:
            if path.startswith("/_local/"):
                quiet = method == "GET"
                response = self._control(Request(environ), path)
            elif (api := self._api(environ, path, method)) is not None:
                response = api
            elif (invoke := self._invoke(environ, path)) is not None:
                label = f"lambda Invoke {invoke_function_name(path)}"
                quiet = True  # the runtime logs each invocation with its outcome
                response = invoke
            else:
                label = self._aws_label(environ)
                # Reads (a CLI following an execution polls) are logged at DEBUG only.
                quiet = label.split(" ")[-1].startswith(_READ_ACTIONS) or method == "GET"
                denied = self._authorize(environ)
                local = denied if denied is not None else self._aws(environ)
                if local is None:
                    assert self._moto is not None
                    status, headers, body = _call_wsgi(self._moto, environ)
                    # An SES or SNS call may have sent mail: stamp it while it is new.
                    self.outbox.sync()
                    start_response(status, headers)
                    self._log(label, int(status.split()[0]), began, quiet)
                    return [body]
                response = local
        except Exception:
            log.exception("%s failed", label)
            response = _json_response({"message": "local stack error"}, 500)
        self._log(label, response.status_code, began, quiet)
        return response(environ, start_response)

    def _log(self, label: str, status: int, began: float, quiet: bool) -> None:
        level = logging.DEBUG if quiet else logging.INFO
        log.log(level, "%s %d %.0f ms", label, status, (time.monotonic() - began) * 1000)

    def _aws_label(self, environ: dict[str, Any]) -> str:
        """``ecr PutImage``, ``iam CreateRole``: what an AWS call was, for the log."""
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        service = signing_service(environ) or "aws"
        if target:
            return f"{service} {target.split('.')[-1]}"
        if str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded"):
            # Query-protocol services (IAM, SES, SNS, STS) name the action in the body.
            action = parse_qs(_read_body(environ).decode("utf-8", "replace")).get("Action")
            if action:
                return f"{service} {action[0]}"
        return f"{service} {environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"

    # control routes

    def _control(self, request: Request, path: str) -> Response:
        if path == "/_local/health":
            if self.ready:
                return _json_response({"status": "ready", "endpoint": self.endpoint_url})
            return _json_response({"status": "starting"}, 503)
        if path == "/_local/outbox":
            if request.method == "DELETE":
                self.outbox.clear()
                return Response(status=204)
            return _json_response(self.outbox.entries())
        if path.startswith(SLACK_API_PATH):
            return self.slack.handle(request, path.removeprefix(SLACK_API_PATH))
        if path == "/_local/slack":
            return _json_response(
                {
                    "signing_secret": self.slack.signing_secret,
                    "interactions_url": self.base_url + SLACK_INTERACTIONS_PATH,
                }
            )
        if path == "/_local/sample":
            return self._sample_switch(request)
        if path == "/_local/stats":
            return _json_response(self.stats())
        if path.startswith("/_local/rules/") and path.endswith("/fire"):
            return self._fire_rule(request, path.removeprefix("/_local/rules/")[: -len("/fire")])
        if path == "/_local/app" and self.app is not None:
            return _json_response(
                {
                    "endpoint": self.endpoint_url,
                    "functions": {f.logical_id: f.name for f in self.app.functions.values()},
                    "state_machines": self.app.state_machines,
                    "rules": [r.name for r in self.app.rules],
                    "routes": [r.route_key for r in self.app.routes],
                    "outputs": self.app.outputs,
                    "roles": self.rights.describe() if self.rights else {},
                }
            )
        return _json_response({"message": f"no local route {path}"}, 404)

    def _fire_rule(self, request: Request, name: str) -> Response:
        """Run a scheduled rule's next firing now (its targets get the event at once)."""
        if request.method != "POST":
            return _json_response({"message": "use POST"}, 405)
        try:
            event = self.schedules.fire_now(name)
        except RuleNotFound as e:
            return _json_response({"message": str(e)}, 404)
        except NotScheduled as e:
            return _json_response({"message": str(e)}, 409)
        return _json_response({"rule": name, "event": event})

    def _record_slack(self, call: dict[str, Any]) -> None:
        self.outbox.add_slack(call)

    def _sample_switch(self, request: Request) -> Response:
        if self.sample_target is None:
            return _json_response({"message": "no sample target (serve with --sample)"}, 404)
        from bluegreen_cli.local.sample import DEV_ACCOUNT_ID, DEV_CLUSTER, DEV_SERVICE

        # The development environment's service: its new tasks start, or fail to.
        dev = (DEV_ACCOUNT_ID, REGION, DEV_CLUSTER, DEV_SERVICE)
        if request.method == "GET":
            return _json_response(
                {
                    "healthy": self.sample_target.healthy,
                    "dev_healthy": not self._rollouts.new_tasks_fail(*dev),
                    "production_url": self.sample.production_url,
                    "test_url": self.sample.test_url,
                }
            )
        if request.method != "POST":
            return _json_response({"message": "use GET or POST"}, 405)
        document = request.get_json(force=True, silent=True)
        switches = ("healthy", "dev_healthy")
        given = dict(document) if isinstance(document, dict) else {}
        if (
            not given
            or set(given) - set(switches)
            or not all(isinstance(v, bool) for v in given.values())
        ):
            return _json_response(
                {"message": 'expected {"healthy": true|false} and/or {"dev_healthy": true|false}'},
                400,
            )
        if "healthy" in given:
            for target in self.sample_targets:
                target.set_healthy(given["healthy"])
        if "dev_healthy" in given:
            self._rollouts.fail_new_tasks(*dev, failing=not given["dev_healthy"])
        return _json_response(given)

    # the approval API (and any other HTTP API route of the template)

    def _api(self, environ: dict[str, Any], path: str, method: str) -> Response | None:
        if self.app is None or self.runtime is None:
            return None
        routes = [r for r in self.app.routes if r.path != "$default"]
        found = match_route(routes, method, path)
        if found is None:
            prefixes = {"/" + r.path.strip("/").split("/")[0] for r in routes}
            if any(path == p or path.startswith(p + "/") for p in prefixes):
                # Under the API's own paths, API Gateway answers for a missing route.
                return _json_response({"message": "Not Found"}, 404)
            return None
        route, parameters = found
        function = self.app.functions[route.function]
        event = http_api_event(Request(environ), route, parameters)
        try:
            invocation = self.runtime.invoke(function, event)
        except Throttled:
            return _json_response({"message": "Too Many Requests"}, 429)
        return http_api_response(invocation)

    # Lambda's Invoke API

    def _invoke(self, environ: dict[str, Any], path: str) -> Response | None:
        name = invoke_function_name(path)
        if name is None or self.app is None or self.runtime is None:
            return None
        function = self.app.function(name)
        if function is None:
            return None  # not one of the app's functions: moto answers
        call = AwsCall(
            access_key_of(environ), "lambda", "InvokeFunction", {"FunctionName": function.arn}
        )
        denied = self._denied(call)
        if denied is not None:
            return denied
        request = Request(environ)
        if request.headers.get("X-Amz-Invocation-Type") == "Event":
            return serve_event_invoke(self.async_invocations, function, request)
        return serve_invoke(self.runtime, function, request)

    # rights: each function acts as its own role

    def _authorize(self, environ: dict[str, Any]) -> Response | None:
        """AWS's denial when the caller is a role's session (a function's, or one from STS
        AssumeRole) whose policies do not allow this call, or asks to assume a role that
        does not let it."""
        if self.rights is None or not self.rights.governs(
            access_key_of(environ), signing_service(environ)
        ):
            return None  # the account's administrator
        call = parse_call(environ, _read_body(environ))
        if call is None:
            call = AwsCall(
                access_key_of(environ),
                signing_service(environ) or "unknown",
                f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}",
                protocol="rest",
            )
        return self._denied(call)

    def _denied(self, call: AwsCall) -> Response | None:
        if self.rights is None:
            return None
        denial = self.rights.check(call)
        return None if denial is None else denial_response(call, denial.message)

    # AWS APIs with local behaviour

    def _aws(self, environ: dict[str, Any]) -> Response | None:
        """The response to a call answered or followed up locally; None for moto's own."""
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if signing_service(environ) == "ses" and environ.get("REQUEST_METHOD") == "POST":
            refusal = ses_sandbox.sandbox_refusal(
                str(environ.get("PATH_INFO", "")),
                str(environ.get("CONTENT_TYPE", "")),
                _read_body(environ),
                ACCOUNT_ID,
                REGION,
            )
            if refusal is not None:
                return refusal
        local = target.startswith((CODEDEPLOY_PREFIX, ECS_PREFIX)) or target in (
            *_REQUEST_CHECKS,
            PUT_EVENTS,
            PUT_RULE,
            TEST_EVENT_PATTERN,
            *stepfunctions.INTERCEPTED,
        )
        if not local:
            return None
        # The account the request acts in: the app's, or the one its credentials are of.
        account = self._sessions.account_of(access_key_of(environ))
        raw = _read_body(environ)
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return None
        if target in _REQUEST_CHECKS:
            try:
                body = _REQUEST_CHECKS[target](body, account, REGION)
            except AwsError as e:
                return _aws_json_error(e.status, e.code, e.message)
            _replace_body(environ, json.dumps(body).encode())
        if target.startswith((CODEDEPLOY_PREFIX, ECS_PREFIX)):
            # The local CodeDeploy serves the app's account; rolling services, every account.
            simulated = self._simulated(target, body) if account == ACCOUNT_ID else None
            return simulated if simulated is not None else self._rolled_out(environ, target, body)
        if target == TEST_EVENT_PATTERN:
            return self._test_event_pattern(body)
        if target == PUT_EVENTS:
            code, document = self.events.put_events(body)
            return _aws_json(document, code)
        if target == PUT_RULE:
            # A pattern EventBridge refuses is refused here; moto stores the others.
            invalid = eventbridge.put_rule_refusal(body)
            return _aws_json(invalid[1], invalid[0]) if invalid else None
        if target in stepfunctions.INTERCEPTED:
            answer = stepfunctions.intercept(target, body)
            return None if answer is None else _aws_json(answer[1], answer[0])
        assert self._moto is not None
        status, headers, content = _call_wsgi(self._moto, environ)
        response = Response(content, status=int(status.split()[0]), headers=headers)
        if response.status_code == 200:
            try:
                self._after(target, body, json.loads(content))
            except (ValueError, KeyError, TypeError):
                log.exception("could not emit the event for %s", target)
        return response

    def _simulated(self, target: str, body: dict[str, Any]) -> Response | None:
        if self._simulator is None:
            return None
        if target.startswith(CODEDEPLOY_PREFIX):
            answer = self._simulator.intercept(target, body)
        else:
            answer = self._simulator.ecs_guard(target, body)
        if answer is None:
            return None
        status, document = answer
        return _aws_json(document, status)

    def _rolled_out(
        self, environ: dict[str, Any], target: str, body: dict[str, Any]
    ) -> Response | None:
        """An ECS call on a rolling (``ECS``-controller) service, in the caller's account."""
        if self._rollouts is None or not target.startswith(ECS_PREFIX):
            return None
        moto = self._moto
        assert moto is not None

        def answer(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            _replace_body(environ, json.dumps(request).encode())
            status, _, content = _call_wsgi(moto, environ)
            return int(status.split()[0]), json.loads(content) if content.strip() else {}

        account = self._sessions.account_of(access_key_of(environ))
        found = self._rollouts.handle(target, body, account, _signing_region(environ), answer)
        return None if found is None else _aws_json(found[1], found[0])

    def _after(self, target: str, request: dict[str, Any], response: dict[str, Any]) -> None:
        if target == ECR_PUT_IMAGE:
            image = response["image"]
            repository = str(image.get("repositoryName") or request["repositoryName"])
            stamp_push_time(ACCOUNT_ID, REGION, repository, str(image["imageId"]["imageDigest"]))
            self.events.emit(
                eventbridge.ecr_image_action(
                    repository=repository,
                    digest=str(image["imageId"]["imageDigest"]),
                    tag=image["imageId"].get("imageTag") or request.get("imageTag"),
                    manifest_media_type=image.get("imageManifestMediaType")
                    or request.get("imageManifestMediaType"),
                )
            )

    def _test_event_pattern(self, body: dict[str, Any]) -> Response:
        refusal = eventbridge.pattern_refusal(str(body.get("EventPattern", "")))
        if refusal:
            return _aws_json(refusal[1], refusal[0])
        try:
            event = json.loads(str(body.get("Event", "")))
        except ValueError:
            return _aws_json_error(400, "InvalidEventPatternException", "Event is not valid JSON")
        return _aws_json({"Result": eventbridge.matches(json.loads(body["EventPattern"]), event)})


def _signing_region(environ: dict[str, Any]) -> str:
    """The region in the credential scope (``Credential=AKID/date/us-east-1/ecs/...``)."""
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    try:
        return authorization.split("Credential=")[1].split(",")[0].split("/")[2] or REGION
    except IndexError:
        return REGION


def _aws_json_default(value: Any) -> Any:
    # Timestamps in AWS JSON protocols are epoch seconds.
    if isinstance(value, datetime):
        return value.timestamp()
    return str(value)
