"""Where the app lives in an AWS account, and what the operator's commands read from it.

The commands in :mod:`bluegreen_cli.commands.ops` print; this module finds the deploy state
machine and the state table, and reads executions, documents and history. AWS clients come
in as arguments, and the layer's own adapters (``bluegreen.adapters``) are used wherever
they fit, so the CLI starts executions and reads history exactly as the Lambdas do.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from html.parser import HTMLParser
from typing import Any, Literal
from urllib.parse import urlsplit

import boto3
from bluegreen.adapters.aws import error_code
from bluegreen.adapters.ecr import EcrImages
from bluegreen.adapters.parameters import Parameters
from bluegreen.adapters.sessions import assumed_session, session_name
from bluegreen.adapters.stepfunctions import Executions
from bluegreen.adapters.store import StateTable
from bluegreen.config import ServiceCatalog
from bluegreen.domain.image import RegistryImage, check_tag, confirmed, pin_image, retry_name
from bluegreen.errors import ConfigurationInvalid, ImageRefused, ServiceNotConfigured
from bluegreen.models import DeploymentState, ServiceConfig
from bluegreen.push import EcrImageAction, TriggerResult
from bluegreen.steps import trigger
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

from bluegreen_cli.follow import Phase, phases
from bluegreen_cli.reading import (
    CodeDeployStatus,
    Decision,
    ProbeCount,
    codedeploy_status,
    decision_of,
    deployment_document,
    described_deployments,
    latest_document,
    probe_count,
    rejection,
    submitted,
)
from bluegreen_cli.reading import (  # kept importable from here, where it lived
    running_task_definition as running_task_definition,
)

DEFAULT_STACK = "bluegreen"
# The template's default ServicesParameterName: where a stack without Outputs keeps it.
DEFAULT_SERVICES_PARAMETER = "/bluegreen/services"
DEFAULT_REGION = "us-east-1"
STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")
# Ended without deploying its image (rejected, expired, rolled back, stopped): may be retried.
RETRYABLE = ("FAILED", "ABORTED", "TIMED_OUT")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

# An operator waits at a terminal: fail in seconds when the endpoint is not there. The number
# of attempts stays botocore's (AWS_MAX_ATTEMPTS applies), retries back off on throttling.
_CONFIG = Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=30)


class OpsError(Exception):
    """An expected failure of an operator command: one line for the terminal, an exit code.

    Exit code 2 is bad input (an unknown service, a refused tag), 1 anything else.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def explain(error: Exception, endpoint_url: str | None = None) -> str:
    """One readable line for the errors an AWS call is expected to end with."""
    where = endpoint_url or "AWS"
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return (
            "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
            "(the local stack accepts any)"
        )
    if isinstance(error, ProfileNotFound):
        return f"{error} (check AWS_PROFILE)"
    if isinstance(error, NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION"
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError | ConnectionClosedError):
        return f"cannot reach {where}: {error}"
    if isinstance(error, ReadTimeoutError):
        return f"{where} did not answer in time: {error}"
    if isinstance(error, ClientError):
        message = error.response.get("Error", {}).get("Message") or str(error)
        operation = getattr(error, "operation_name", "") or "call"
        return f"{operation} refused: {error_code(error) or 'error'}: {message}"
    if isinstance(error, BotoCoreError):
        return str(error)
    return f"{type(error).__name__}: {error}"


# -- connecting ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Which account, region and stack the commands look at."""

    endpoint_url: str | None = None
    region: str | None = None
    stack: str = DEFAULT_STACK
    services_file: str | None = None  # a configuration file, read instead of the parameter
    services_parameter: str | None = None  # the parameter, when not the stack's own


class Account:
    """Clients of one account and region (an emulated one when ``endpoint_url`` is set)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        try:
            session = boto3.session.Session(region_name=target.region)
            region = session.region_name or DEFAULT_REGION
            if _is_loopback(target.endpoint_url) and session.get_credentials() is None:
                # The local stack takes any credentials; do not make people invent some.
                session = boto3.session.Session(
                    aws_access_key_id="local",
                    aws_secret_access_key="local",  # noqa: S106 - an emulator's, not a secret
                    region_name=region,
                )
        except BotoCoreError as e:
            raise OpsError(explain(e)) from e
        self.session = session
        self.region = region
        self._clients: dict[str, Any] = {}
        self._target_clients: dict[tuple[str, str | None, str | None, str], Any] = {}
        self._target_sessions: dict[tuple[str | None, str | None], boto3.session.Session] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            session: Any = self.session  # boto3-stubs types client() per literal name
            self._clients[service] = session.client(
                service,
                region_name=self.region,
                endpoint_url=self.target.endpoint_url,
                config=_CONFIG,
            )
        return self._clients[service]

    def target_client(self, environment: ServiceConfig | None, service: str) -> Any:
        """A client of ``service`` where ``environment`` runs: in another account through
        the role it names (the operator assumes it, as the app's functions do), in its
        region. ECS, CodeDeploy and Application Auto Scaling of a deployment's target are
        asked this way; the app's own resources with :meth:`client`."""
        role = environment.role_arn if environment else None
        external_id = environment.external_id if environment else None
        region = (environment.region if environment else None) or self.region
        if role is None and region == self.region:
            return self.client(service)
        key = (service, role, external_id, region)
        if key not in self._target_clients:
            session: Any = self._target_session(role, external_id)
            self._target_clients[key] = session.client(
                service, region_name=region, endpoint_url=self.target.endpoint_url, config=_CONFIG
            )
        return self._target_clients[key]

    def _target_session(self, role: str | None, external_id: str | None) -> boto3.session.Session:
        if role is None:
            return self.session
        if (role, external_id) not in self._target_sessions:
            # Named after the operator, in the target account's CloudTrail.
            name = session_name("bluegreen-cli", _login())
            self._target_sessions[(role, external_id)] = assumed_session(
                self.client("sts"), role, name, external_id, base=self.session
            )
        return self._target_sessions[(role, external_id)]

    @cached_property
    def resources(self) -> Resources:
        return resolve(
            self.client("cloudformation"),
            self.client("stepfunctions"),
            self.client("dynamodb"),
            self.target.stack,
        )

    @cached_property
    def catalog(self) -> ServiceCatalog:
        """The services, as the installation configured them (or as a file says, offline)."""
        if self.target.services_file:
            return ServiceCatalog.load(self.target.services_file)
        name = self.services_parameter
        try:
            text = Parameters(self.client("ssm")).text(name)
        except ConfigurationInvalid as e:
            raise OpsError(
                f"{e} (name the configuration with --services-parameter NAME, or read a file "
                "with --services-file FILE)",
                2,
            ) from e
        return ServiceCatalog.parse(text, f"SSM parameter {name}")

    @property
    def services_parameter(self) -> str:
        """The installation's configuration parameter: as told, else the stack's Output."""
        return (
            self.target.services_parameter
            or self.resources.services_parameter
            or DEFAULT_SERVICES_PARAMETER
        )


def _is_loopback(endpoint_url: str | None) -> bool:
    return bool(endpoint_url) and urlsplit(endpoint_url).hostname in _LOOPBACK


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for the user id (a container's)
        return ""


# -- finding the app -----------------------------------------------------------------------


@dataclass(frozen=True)
class Resources:
    """The deploy state machine and the state table, and where they were found."""

    state_machine_arn: str | None
    table_name: str | None
    found_by: str
    services_parameter: str | None = None  # the stack's Output ServicesParameterName
    # Found through a CloudFormation stack (on AWS), not by name (the local stack).
    from_stack: bool = False

    def state_machine(self) -> str:
        if not self.state_machine_arn:
            raise OpsError(f"no deploy state machine found ({self.found_by})")
        return self.state_machine_arn

    def table(self) -> str:
        if not self.table_name:
            raise OpsError(f"no state table found ({self.found_by})")
        return self.table_name


def resolve(cloudformation: Any, stepfunctions: Any, dynamodb: Any, stack: str) -> Resources:
    """Find the app: the stack's Outputs; by name only where there is no CloudFormation.

    A SAM deployment names its Outputs ``StateMachineArn``, ``TableName`` and
    ``ServicesParameterName``. A stack that does not exist where CloudFormation holds stacks
    (on AWS, the app's own stack is one) is an error naming the stacks that hold the app: a
    mistyped ``--stack`` must not show another installation's deployments. Where
    CloudFormation holds no stack, or is not served (the local stack builds the app without
    it), the app is found by the names it is given: the state machine ``<stack>-deploy`` and
    the table whose name starts with ``<stack>-StateTable``.
    """
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as e:
        if error_code(e) in _NO_CLOUDFORMATION:
            why = f"no CloudFormation here: {error_code(e)}"
            return _by_name(stepfunctions, dynamodb, stack, why)
        if not _stack_missing(e):
            raise
        apps = _app_stacks(cloudformation)
        if apps is not None:
            named = f"stacks holding the app: {', '.join(apps)}" if apps else "no stack holds it"
            raise OpsError(
                f"no CloudFormation stack {stack!r} in this account and region ({named}); "
                "pass --stack NAME",
                2,
            ) from e
        return _by_name(stepfunctions, dynamodb, stack, "CloudFormation holds no stack")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described[0].get("Outputs", [])}
    return Resources(
        outputs.get("StateMachineArn"),
        outputs.get("TableName"),
        f"outputs StateMachineArn and TableName of stack {stack!r}",
        services_parameter=outputs.get("ServicesParameterName"),
        from_stack=True,
    )


# What an endpoint that serves no CloudFormation answers (an emulator without it).
_NO_CLOUDFORMATION = frozenset({"NotImplemented", "UnknownOperationException", "InvalidAction"})


def _stack_missing(error: ClientError) -> bool:
    message = error.response.get("Error", {}).get("Message") or ""
    return error_code(error) == "ValidationError" and "does not exist" in message


def _app_stacks(cloudformation: Any) -> list[str] | None:
    """The stacks whose Outputs name a deploy state machine; None when there is no stack."""
    stacks = [
        s
        for page in cloudformation.get_paginator("describe_stacks").paginate()
        for s in page.get("Stacks", [])
    ]
    if not stacks:
        return None
    return sorted(
        str(s["StackName"])
        for s in stacks
        if any(o.get("OutputKey") == "StateMachineArn" for o in s.get("Outputs", []))
    )


def _by_name(stepfunctions: Any, dynamodb: Any, stack: str, why: str) -> Resources:
    machines = {
        str(m["name"]): str(m["stateMachineArn"])
        for page in stepfunctions.get_paginator("list_state_machines").paginate()
        for m in page["stateMachines"]
    }
    tables = sorted(
        str(name)
        for page in dynamodb.get_paginator("list_tables").paginate()
        for name in page.get("TableNames", [])
        if str(name).startswith(f"{stack}-StateTable")
    )
    machine = machines.get(f"{stack}-deploy")
    if machine is None:
        others = sorted(n.removesuffix("-deploy") for n in machines if n.endswith("-deploy"))
        found = f"apps found by name: {', '.join(others)}" if others else "no app found by name"
        raise OpsError(
            f"no stack {stack!r} ({why}; no state machine {stack}-deploy, {found}); "
            "pass --stack NAME",
            2,
        )
    if len(tables) > 1:
        raise OpsError(f"several tables named {stack}-StateTable* ({', '.join(tables)})")
    return Resources(
        machine,
        tables[0] if tables else None,
        f"{why}; looked for a state machine {stack}-deploy and a table {stack}-StateTable*",
    )


# -- services ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceRef:
    """A service as the operator names it: one of its configured environments (by the
    service's name, or by the environment's lock key), or a lock key only the app's records
    know (a service deployed once, since removed from the configuration)."""

    name: str | None  # the configuration's name (what execution names start with)
    key: str  # [account[/region]:]cluster/service: the history's and the lock's key
    cluster: str
    service: str
    environment: str | None = None  # the configured environment (None: only recorded)
    # Named by the service's name and no environment: executions of every one of them.
    every_environment: bool = False

    @property
    def elsewhere(self) -> bool:
        """Its key names another account or region than the app's."""
        return ":" in self.key

    def matches(self, document: dict[str, Any]) -> bool:
        """The execution's ``document`` deploys to this service (in this environment)."""
        service = document.get("service")
        if not isinstance(service, dict):
            return False
        ours = self.name is not None and service.get("name") == self.name
        if ours and (self.every_environment or service.get("environment") == self.environment):
            return True
        return _lock_key(service) == self.key


def _lock_key(service: dict[str, Any]) -> str:
    """The lock key of the environment a document deployed to."""
    try:
        return ServiceConfig.model_validate(service).lock_key
    except ValueError:  # pydantic's ValidationError: a document of another shape
        return f"{service.get('cluster')}/{service.get('service')}"


def service_ref(
    catalog: ServiceCatalog,
    text: str,
    recorded: Callable[[str], bool] | None = None,
    environment: str | None = None,
    every_environment: bool = False,
) -> ServiceRef:
    """The service ``text`` names, in one environment.

    By the service's configured name: in ``environment``, else its last (production);
    ``every_environment`` marks that no environment was asked for. By an environment's lock
    key (``cluster/service``, ``111111111111:demo-dev/web`` in another account): that
    environment. Else a lock key that ``recorded`` says the app has a record of. Anything
    else is an error (exit code 2) that lists the configured services and their
    environments; so is an ``environment`` the service has not, or that the key is not.
    """
    if any(s.name == text for s in catalog.services):
        try:
            found = catalog.named(text, environment)
        except ServiceNotConfigured as e:
            raise OpsError(str(e), 2) from e
        return _ref(found, every_environment and environment is None)
    for s in catalog.services:
        if text == s.lock_key:
            if environment not in (None, s.environment):
                raise OpsError(
                    f"{text} is {s.name} in {s.environment}, not in {environment} "
                    f"(its environments: {_environments(catalog, s.name)})",
                    2,
                )
            return _ref(s)
    where, colon, rest = text.rpartition(":")
    cluster, slash, service = rest.partition("/")
    named = bool(slash and cluster and service and "/" not in service and (where or not colon))
    if named and recorded and recorded(text):
        if environment is not None:
            raise OpsError(
                f"{text} is not configured: it has no environments (--env {environment})", 2
            )
        return ServiceRef(None, text, cluster, service)
    raise OpsError(f"no service named {text!r} (configured: {configured(catalog)})", 2)


def _ref(service: ServiceConfig, every_environment: bool = False) -> ServiceRef:
    return ServiceRef(
        service.name,
        service.lock_key,
        service.cluster,
        service.service,
        service.environment,
        every_environment,
    )


def configured(catalog: ServiceCatalog) -> str:
    """The configured services, each with its lock key, per environment when it has
    several: ``demo-web (dev: 111111111111:demo-dev/web, prod: demo/web)``."""
    said = []
    for name in sorted({s.name for s in catalog.services}):
        stages = catalog.pipeline(name)
        if len(stages) == 1:
            said.append(f"{name} ({stages[0].lock_key})")
        else:
            said.append(f"{name} ({', '.join(f'{s.environment}: {s.lock_key}' for s in stages)})")
    return ", ".join(said) or "none"


def _environments(catalog: ServiceCatalog, name: str) -> str:
    return ", ".join(s.environment for s in catalog.pipeline(name))


# -- executions ----------------------------------------------------------------------------


def execution_arn(state_machine_arn: str, name_or_arn: str) -> str:
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name_or_arn}"


def _seconds(start: datetime, end: datetime | None, now: datetime) -> float:
    return round(max(0.0, ((end or now) - start).total_seconds()), 1)


@dataclass
class ExecutionSummary:
    name: str
    arn: str
    status: str
    service: str | None
    tag: str | None
    started: datetime
    stopped: datetime | None
    duration_seconds: float
    state: str | None = None  # the last state entered (asked for running executions only)
    source: str | None = None
    error: str | None = None
    cause: str | None = None
    retry_of: str | None = None  # the execution this one retries, on purpose
    environment: str | None = None  # of the service, where it deploys

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arn": self.arn,
            "status": self.status,
            "service": self.service,
            "environment": self.environment,
            "tag": self.tag,
            "started": self.started.isoformat(),
            "stopped": self.stopped.isoformat() if self.stopped else None,
            "duration_seconds": self.duration_seconds,
            "state": self.state,
            "source": self.source,
            "retry_of": self.retry_of,
            "error": self.error,
            "cause": self.cause,
        }


@dataclass
class ExecutionDetail:
    summary: ExecutionSummary
    document: dict[str, Any] | None
    phases: list[Phase] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list, repr=False)
    # CodeDeploy's word on the deployment (asked by the caller: it needs another client).
    codedeploy: CodeDeployStatus | None = None

    @property
    def decision(self) -> Decision | None:
        return decision_of(self.document, self.history)

    @property
    def checks(self) -> ProbeCount | None:
        return probe_count(self.document)

    @property
    def waiting_behind(self) -> str | None:
        """The execution this one waits behind for the service's lock, while it waits."""
        if self.summary.status != "RUNNING" or self.summary.state != "TakeTurn":
            return None
        behind = (submitted(self.history, "TakeTurn") or {}).get("behind")
        return str(behind) if behind else None

    def to_json(self) -> dict[str, Any]:
        decision, checks = self.decision, self.checks
        return {
            **self.summary.to_json(),
            "document": self.document,
            "phases": [{"phase": p.label, "seconds": round(p.seconds, 1)} for p in self.phases],
            "environment": _get(self.document, "service", "environment"),
            "decision": decision.to_json() if decision else None,
            "test_listener": checks.to_json() if checks else None,
            "codedeploy": self.codedeploy.to_json() if self.codedeploy else None,
            "waiting_behind": self.waiting_behind,
        }


def _get(document: dict[str, Any] | None, *path: str) -> Any:
    value: Any = document
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


class Deployments:
    """The deploy state machine's executions, read as deployments."""

    def __init__(self, stepfunctions: Any, state_machine_arn: str) -> None:
        self._sfn = stepfunctions
        self.state_machine_arn = state_machine_arn

    def _listed(self, status: str | None) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"stateMachineArn": self.state_machine_arn, "maxResults": 100}
        if status:
            kwargs["statusFilter"] = status
        while True:
            page = self._sfn.list_executions(**kwargs)
            # Step Functions lists newest first; sorted again for emulators that do not.
            yield from sorted(page["executions"], key=lambda e: e["startDate"], reverse=True)
            if not page.get("nextToken"):
                return
            kwargs["nextToken"] = page["nextToken"]

    def recent(
        self,
        status: str | None = None,
        service: ServiceRef | None = None,
        limit: int = 20,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        environment: str | None = None,
    ) -> list[ExecutionSummary]:
        """The newest executions, of ``service`` and in ``environment`` when given."""
        found: list[ExecutionSummary] = []
        for listed in self._listed(status):
            if len(found) >= limit:
                break
            # Execution names start with the service's configured name: skip the rest unread.
            if service and service.name and not listed["name"].startswith(f"{service.name}-"):
                continue
            summary, document = self._summary(listed["executionArn"], now())
            if service and not (document and service.matches(document)):
                continue
            if environment is not None and summary.environment != environment:
                continue
            found.append(summary)
        return found

    def _summary(
        self, arn: str, now: datetime, history: list[dict[str, Any]] | None = None
    ) -> tuple[ExecutionSummary, dict[str, Any] | None]:
        described = self._sfn.describe_execution(executionArn=arn)
        document = deployment_document(described.get("input"))
        image = document.get("image") if document else None
        service = document.get("service") if document else None
        status = str(described["status"])
        summary = ExecutionSummary(
            name=str(described["name"]),
            arn=arn,
            status=status,
            service=service.get("name") if isinstance(service, dict) else None,
            tag=image.get("tag") if isinstance(image, dict) else None,
            started=described["startDate"],
            stopped=described.get("stopDate"),
            duration_seconds=_seconds(described["startDate"], described.get("stopDate"), now),
            source=document.get("source") if document else None,
            error=described.get("error"),
            cause=described.get("cause"),
            retry_of=document.get("retry_of") if document else None,
            environment=service.get("environment") if isinstance(service, dict) else None,
        )
        if status == "RUNNING" or history is not None:
            summary.state = last_entered(history if history is not None else self._tail(arn))
        if history is not None:
            document = latest_document(described, history) or document
        return summary, document

    def _tail(self, arn: str) -> list[dict[str, Any]]:
        """The newest events of an execution: enough to see the state it is in."""
        return list(
            self._sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=25)[
                "events"
            ]
        )

    def history(self, arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
        while True:
            page = self._sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return sorted(events, key=lambda e: int(e.get("id", 0)))
            kwargs["nextToken"] = page["nextToken"]

    def detail(
        self, name_or_arn: str, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> ExecutionDetail:
        arn = execution_arn(self.state_machine_arn, name_or_arn)
        try:
            history = self.history(arn)
            summary, document = self._summary(arn, now(), history)
        except ClientError as e:
            if error_code(e) in ("ExecutionDoesNotExist", "InvalidArn"):
                machine = self.state_machine_arn.rsplit(":", 1)[-1]
                raise OpsError(f"no execution {name_or_arn!r} of {machine}", 2) from e
            raise
        # A running execution's current phase lasts until now.
        return ExecutionDetail(
            summary, document, phases(history, summary.stopped or now()), history
        )


def last_entered(events: list[dict[str, Any]]) -> str | None:
    """The state most recently entered, whatever order the events came in."""
    entered = [e for e in events if "stateEnteredEventDetails" in e]
    if not entered:
        return None
    return str(max(entered, key=lambda e: int(e.get("id", 0)))["stateEnteredEventDetails"]["name"])


# -- history -------------------------------------------------------------------------------


def service_history(
    dynamodb: Any,
    table: str,
    service: ServiceRef,
    limit: int,
    running: str | None,
    codedeploy: Any = None,
) -> list[dict[str, Any]]:
    """What was deployed to the service and how it ended, newest first.

    ``running`` (the task definition serving now) marks the entry that is live. Each entry
    also says who rejected it (``rejected_by``, ``rejection_reason``) and, when ``codedeploy``
    is given, CodeDeploy's final word on its deployment (``codedeploy``: stopped, rolled back).
    """
    rows = StateTable(dynamodb, table).history(service.key, limit)
    live_seen = False
    for row in rows:
        live = bool(running) and not live_seen and row.get("task_definition") == running
        if row.get("outcome") != "succeeded":
            live = False
        row["running"] = live
        live_seen = live_seen or live
        rejected = rejection(row.get("error"), row.get("reason"))
        row["rejected_by"] = rejected.by if rejected else None
        row["rejection_reason"] = rejected.reason if rejected else None
    if codedeploy is not None:
        ids = [str(r["deployment_id"]) for r in rows if r.get("deployment_id")]
        described = described_deployments(codedeploy, ids)
        rollbacks = [
            str(i["rollbackInfo"]["rollbackDeploymentId"])
            for i in described.values()
            if (i.get("rollbackInfo") or {}).get("rollbackDeploymentId")
        ]
        described |= described_deployments(codedeploy, rollbacks)
        for row in rows:
            if row.get("deployment_id"):
                said = codedeploy_status(
                    {"deployment": {"deployment_id": row["deployment_id"]}}, described
                )
                row["codedeploy"] = said.to_json() if said and said.source == "codedeploy" else None
    return rows


# -- starting a deployment by hand -------------------------------------------------------


def find_image(ecr: Any, repository: str, tag: str) -> tuple[str, RegistryImage]:
    """(registry id, the image as ECR holds it) of ``repository:tag``."""
    try:
        found = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ClientError as e:
        if error_code(e) == "ImageNotFoundException":
            raise OpsError(f"no image {repository}:{tag} in ECR", 2) from e
        if error_code(e) == "RepositoryNotFoundException":
            raise OpsError(f"no ECR repository {repository!r}", 2) from e
        raise
    details = found.get("imageDetails", [])
    if not details:
        raise OpsError(f"no image {repository}:{tag} in ECR", 2)
    detail = details[0]
    return str(detail["registryId"]), RegistryImage(
        digest=str(detail["imageDigest"]),
        tags=frozenset(detail.get("imageTags", [])),
        pushed_at=detail.get("imagePushedAt"),
    )


def start_deployment(
    service: ServiceConfig,
    tag: str,
    ecr: Any,
    stepfunctions: Any,
    state_machine_arn: str,
    region: str,
    now: datetime,
) -> TriggerResult:
    """What the trigger does for a push, for an image already in ECR: same checks, same name.

    Raises ``ImageRefused`` (a mutable tag, before ECR is asked anything) like the trigger.
    """
    check_tag(service, tag)
    registry_id, found = find_image(ecr, service.repository, tag)
    pushed = EcrImageAction.model_validate(
        {
            "action-type": "PUSH",
            "result": "SUCCESS",
            "repository-name": service.repository,
            "image-digest": found.digest,
            "image-tag": tag,
        }
    )
    image = confirmed(pin_image(service, pushed, registry_id, region), found)
    return trigger.start(service, image, "cli", Executions(stepfunctions, state_machine_arn), now)


def retry_deployment(
    execution: str,
    catalog: ServiceCatalog,
    ecr: Any,
    stepfunctions: Any,
    state_machine_arn: str,
    now: datetime,
) -> tuple[ServiceConfig, TriggerResult]:
    """Start again, on purpose, the deployment of an execution that ended without deploying
    its image: same service (as configured now) and image, marked as a retry of it.

    Refused (exit code 2): an execution that succeeded or has not ended, a retry of it that
    runs or succeeded, an image ECR no longer holds under its tag.
    """
    described = _described(stepfunctions, execution_arn(state_machine_arn, execution), execution)
    name, status = str(described["name"]), str(described["status"])
    if status not in RETRYABLE:
        why = "its image is deployed" if status == "SUCCEEDED" else "it has not ended"
        raise OpsError(
            f"{name} is {status}: {why}; only a FAILED, ABORTED or TIMED_OUT execution is retried",
            2,
        )
    try:
        first = DeploymentState.model_validate_json(described.get("input") or "")
    except ValueError as e:
        raise OpsError(f"{name} is not a deployment execution: nothing to retry", 2) from e
    stages = catalog.pipeline(first.service.name)  # the same environment, as configured now
    service = (
        catalog.named(first.service.name, first.service.environment)
        if len(stages) > 1
        else stages[0]
    )
    if first.image.repository not in service.repositories:
        raise ImageRefused(
            f"{first.image.repository}:{first.image.tag} is not of {service.name}'s "
            f"repositories ({', '.join(service.repositories)}) any more"
        )
    found = EcrImages(ecr).by_digest(
        first.image.registry_id, first.image.repository, first.image.digest
    )
    image = confirmed(first.image, found)
    executions = Executions(stepfunctions, state_machine_arn)
    attempt = _next_attempt(stepfunctions, state_machine_arn, name)
    started = trigger.start(service, image, "cli", executions, now, retry_of=name, attempt=attempt)
    return service, started


def _described(stepfunctions: Any, arn: str, shown: str) -> dict[str, Any]:
    try:
        return dict(stepfunctions.describe_execution(executionArn=arn))
    except ClientError as e:
        if error_code(e) in ("ExecutionDoesNotExist", "InvalidArn"):
            raise OpsError(f"no execution {shown!r}", 2) from e
        raise


def _next_attempt(stepfunctions: Any, state_machine_arn: str, name: str) -> int:
    """The first free retry number of ``name``'s image; refused while a retry runs or once
    one has deployed the image."""
    attempt = 2
    while True:
        candidate = retry_name(name, attempt)
        arn = execution_arn(state_machine_arn, candidate)
        try:
            status = str(stepfunctions.describe_execution(executionArn=arn)["status"])
        except ClientError as e:
            if error_code(e) == "ExecutionDoesNotExist":
                return attempt
            raise
        if status not in RETRYABLE:
            raise OpsError(
                f"{candidate}, a retry of this image, is {status}: "
                + ("the image is deployed" if status == "SUCCEEDED" else "wait for it to end"),
                2,
            )
        attempt += 1


# -- approval pages ------------------------------------------------------------------------


class _PageText(HTMLParser):
    """The title, the first heading and the status paragraph of an approval page."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: dict[str, str] = {}
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        classes = (values.get("class") or "").split()
        if tag == "meta" and values.get("name") == "bluegreen-decision":
            self.parts["decision"] = values.get("content") or ""
            return
        if tag in ("title", "h1") and tag not in self.parts:
            self._open = tag
        elif tag == "p" and "status" in classes and "status" not in self.parts:
            self._open = "status"
        if self._open:
            self.parts.setdefault(self._open, "")

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag == ("p" if self._open == "status" else self._open):
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open:
            self.parts[self._open] += data


@dataclass(frozen=True)
class PageOutcome:
    http_status: int
    heading: str
    text: str
    decision: Literal["approved", "rejected"] | None  # None: the page decided nothing

    def to_json(self) -> dict[str, Any]:
        return {
            "http_status": self.http_status,
            "decision": self.decision,
            "heading": self.heading,
            "text": self.text,
        }


def page_outcome(status: int, body: str) -> PageOutcome:
    """What the approval page answered, in words. Only the answer to a decision carries its
    ``bluegreen-decision`` mark (older pages: the heading "Deployment approved"/"Deployment
    rejected"); an already decided request shows its review page, unmarked."""
    page = _PageText()
    page.feed(body)

    def words(key: str) -> str:
        return " ".join(page.parts.get(key, "").split())

    heading = words("h1") or words("title")
    decision: Literal["approved", "rejected"] | None = None
    marked = page.parts.get("decision")
    if status == 200 and marked in ("approved", "rejected"):
        decision = "approved" if marked == "approved" else "rejected"
    elif status == 200 and heading in ("Deployment approved", "Deployment rejected"):
        decision = "approved" if heading.endswith("approved") else "rejected"
    return PageOutcome(status, heading, words("status"), decision)
