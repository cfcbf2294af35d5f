"""Operators' commands: inspect deployments and act on them without the AWS console.

``executions``, ``show``, ``history``, ``deploy``, ``retry``, ``approve``, ``reject`` and
``recover``. Each finds the app from the CloudFormation stack's Outputs (or by name on the
local stack, see :func:`bluegreen_cli.account.resolve`), prints for people or, with
``--json``, for scripts, and ends an expected failure (an unknown service, no credentials,
an unreachable endpoint) with one line on stderr and a non-zero exit status: 2 for bad
input, 1 otherwise.
"""

from __future__ import annotations

import inspect
import json
import re
import time
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn
from urllib.parse import urlsplit

import typer
from bluegreen.adapters.stepfunctions import ExecutionStatuses
from bluegreen.adapters.store import StateTable
from bluegreen.domain.recovery import MISSING
from bluegreen.errors import BluegreenError
from bluegreen.models import ServiceConfig
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bluegreen_cli import approval_page
from bluegreen_cli.account import (
    DEFAULT_STACK,
    RETRYABLE,
    STATUSES,
    Account,
    Deployments,
    ExecutionDetail,
    ExecutionSummary,
    OpsError,
    PageOutcome,
    Resources,
    ServiceRef,
    Target,
    explain,
    page_outcome,
    retry_deployment,
    running_task_definition,
    service_history,
    service_ref,
    start_deployment,
)
from bluegreen_cli.follow import (
    Phase,
    ProgressView,
    console_link,
    ending,
    follow_execution,
    phases,
)
from bluegreen_cli.reading import codedeploy_now, production_runs, readable_cause, submitted
from bluegreen_cli.recovery import LockView, invoke_recovery, janitor_function, lock_view

# -- where the commands look: global options, also accepted after the command -------------

_ENDPOINT_HELP = (
    "AWS endpoint to talk to, e.g. http://127.0.0.1:4566 for the local stack (missing "
    "credentials are then filled in with dummy ones)."
)
_REGION_HELP = "AWS region (default: AWS_REGION / the profile's, else us-east-1)."
_STACK_HELP = (
    "CloudFormation stack of the app: its Outputs name the state machine and table. "
    "Where CloudFormation holds no stack (the local stack): the state machine named "
    "<stack>-deploy and the table named <stack>-StateTable*."
)
_SERVICES_HELP = (
    "A service configuration file (TOML or JSON) to name services by, instead of the "
    "installation's SSM parameter (for offline use)."
)
_PARAMETER_HELP = (
    "The SSM parameter holding the installation's service configuration (default: the "
    "stack's Output ServicesParameterName, else /bluegreen/services)."
)

EndpointOption = Annotated[
    str | None, typer.Option("--endpoint-url", help=_ENDPOINT_HELP, show_default=False)
]
RegionOption = Annotated[str | None, typer.Option(help=_REGION_HELP, show_default=False)]
StackOption = Annotated[str | None, typer.Option(help=_STACK_HELP, show_default=False)]
ServicesOption = Annotated[
    Path | None,
    typer.Option("--services-file", help=_SERVICES_HELP, dir_okay=False, show_default=False),
]
ParameterOption = Annotated[
    str | None, typer.Option("--services-parameter", help=_PARAMETER_HELP, show_default=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]


def options(
    ctx: typer.Context,
    endpoint_url: Annotated[
        str | None,
        typer.Option(
            "--endpoint-url", envvar="AWS_ENDPOINT_URL", help=_ENDPOINT_HELP, show_default=False
        ),
    ] = None,
    region: Annotated[str | None, typer.Option(help=_REGION_HELP, show_default=False)] = None,
    stack: Annotated[str, typer.Option(envvar="BLUEGREEN_STACK", help=_STACK_HELP)] = (
        DEFAULT_STACK
    ),
    services_file: Annotated[
        Path | None,
        typer.Option(
            "--services-file",
            envvar="BLUEGREEN_SERVICES_FILE",
            help=_SERVICES_HELP,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    services_parameter: Annotated[
        str | None,
        typer.Option(
            "--services-parameter",
            envvar="BLUEGREEN_SERVICES_PARAMETER",
            help=_PARAMETER_HELP,
            show_default=False,
        ),
    ] = None,
) -> None:
    # Global options: where the operators' commands look. Each command takes them too.
    ctx.obj = Target(
        endpoint_url,
        region,
        stack,
        str(services_file) if services_file else None,
        services_parameter,
    )


def _account(
    ctx: typer.Context,
    endpoint_url: str | None,
    region: str | None,
    stack: str | None,
    services_file: Path | None = None,
    services_parameter: str | None = None,
) -> Account:
    """The account to look at: the command's own options win over the global ones."""
    base = ctx.obj if isinstance(ctx.obj, Target) else Target()
    target = Target(
        endpoint_url or base.endpoint_url,
        region or base.region,
        stack or base.stack,
        str(services_file) if services_file else base.services_file,
        services_parameter or base.services_parameter,
    )
    with _reported(target.endpoint_url):
        return Account(target)


def _resources(account: Account) -> Resources:
    """The app's resources: the stack's Outputs, else (no CloudFormation) by their names."""
    return account.resources


def _service(account: Account, text: str) -> ServiceRef:
    """The service an operator names; a ``cluster/service`` nobody configured only when the
    app has a record of it (its history or its lock), else an error listing the services."""

    def recorded(key: str) -> bool:
        table = StateTable(account.client("dynamodb"), _resources(account).table())
        return bool(table.history(key, 1) or table.queue(key))

    return service_ref(account.catalog, text, recorded)


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"bluegreen: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def _reported(endpoint_url: str | None) -> Iterator[None]:
    """Expected failures become one line on stderr and an exit status, never a traceback."""
    try:
        yield
    except OpsError as e:
        _fail(str(e), e.exit_code)
    except BluegreenError as e:  # ImageRefused, ServiceNotConfigured, ConfigurationInvalid
        _fail(str(e), 2)
    except (BotoCoreError, ClientError) as e:
        _fail(explain(e, endpoint_url))


def _print_json(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2, default=str))


def _console(stderr: bool = False) -> Console:
    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = max(console.width, 200)  # piped: whole lines beat a terminal's fit
    return console


def _when(at: datetime | str | None, zone: bool = True) -> str:
    if at is None:
        return "-"
    if isinstance(at, str):
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            return at
    else:
        moment = at
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S" + (" UTC" if zone else ""))


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _tag(tag: object) -> str:
    """A commit SHA as git shows it short; the whole tag is in ``show`` and ``--json``."""
    text = str(tag or "-")
    return text[:12] if re.fullmatch(r"[0-9a-f]{13,40}", text) else text


def _short(text: str | None, width: int = 80) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


_STATUS_STYLE = {"SUCCEEDED": "green", "RUNNING": "cyan", "FAILED": "red", "TIMED_OUT": "red"}


def _status(status: str) -> str:
    return f"[{_STATUS_STYLE.get(status, 'yellow')}]{status}[/]"


# -- executions ---------------------------------------------------------------------------

Status = Enum("Status", {name: name for name in STATUSES}, type=str)  # type: ignore[misc]


def executions(
    ctx: typer.Context,
    service: Annotated[
        str | None,
        typer.Option(
            help="Only this service: its name in the service configuration, or cluster/service.",
            show_default=False,
        ),
    ] = None,
    status: Annotated[
        Status | None,
        typer.Option(
            help="Only executions with this status.", case_sensitive=False, show_default=False
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 20,
    as_json: JsonOption = False,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
    stack: StackOption = None,
    services_file: ServicesOption = None,
    services_parameter: ParameterOption = None,
) -> None:
    """Recent deployment executions, newest first.

    For each: name, status, service, tag, start, duration, the state a running one is in
    now, and the error a failed one ended with.
    """
    account = _account(ctx, endpoint_url, region, stack, services_file, services_parameter)
    with _reported(account.target.endpoint_url):
        wanted = _service(account, service) if service else None
        deployments = Deployments(
            account.client("stepfunctions"), _resources(account).state_machine()
        )
        found = deployments.recent(status.value if status else None, wanted, limit)
    if as_json:
        _print_json([e.to_json() for e in found])
        return
    console = _console()
    if not found:
        console.print("no executions" + (f" of {service}" if service else ""))
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("execution", overflow="fold", min_width=20)
    table.add_column("status", no_wrap=True, min_width=9)
    table.add_column("service", overflow="fold", min_width=7)
    table.add_column("tag", overflow="fold", min_width=7)
    table.add_column("started (UTC)", no_wrap=True, min_width=19)
    table.add_column("took", no_wrap=True, justify="right")
    table.add_column("now / error", overflow="fold", min_width=12)
    for e in found:
        table.add_row(
            e.name + (f"\n[dim]retry of {e.retry_of}[/]" if e.retry_of else ""),
            _status(e.status),
            e.service or "-",
            _tag(e.tag),
            _when(e.started, zone=False),
            _duration(e.duration_seconds),
            _now_or_error(e),
        )
    console.print(table)


def _now_or_error(e: ExecutionSummary) -> str:
    if e.status == "RUNNING":
        return e.state or "-"
    if e.error:
        return _short(f"{e.error}: {e.cause}" if e.cause else e.error, 70)
    return ""


# -- show ---------------------------------------------------------------------------------


def show(
    ctx: typer.Context,
    execution: Annotated[
        str, typer.Argument(help="Execution name (as `bluegreen executions` lists) or ARN.")
    ],
    as_json: JsonOption = False,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
    stack: StackOption = None,
) -> None:
    """One execution: what it deploys, who approved or rejected it, how it went, and its
    phases.

    The document is the execution's own, as far as it got: service and environment, image,
    task definitions, the approver's decision, CodeDeploy deployment (its status asked of
    CodeDeploy now: stopped, rolled back), test listener checks, rollback, failure.
    """
    account = _account(ctx, endpoint_url, region, stack)
    with _reported(account.target.endpoint_url):
        deployments = Deployments(
            account.client("stepfunctions"), _resources(account).state_machine()
        )
        detail = deployments.detail(execution)
        detail.codedeploy = codedeploy_now(account.client("codedeploy"), detail.document)
    if as_json:
        _print_json(detail.to_json())
        return
    _print_detail(_console(), detail)


def _print_detail(console: Console, detail: ExecutionDetail) -> None:
    e, doc = detail.summary, detail.document
    rows: list[tuple[str, str]] = [
        ("execution", e.name),
        ("status", f"{_status(e.status)}" + (f" ({e.state})" if e.state else "")),
        ("started", _when(e.started)),
        ("took", _duration(e.duration_seconds) + (" so far" if e.status == "RUNNING" else "")),
    ]
    if e.error:
        cause = readable_cause(e.cause)
        rows.append(("error", escape(f"{e.error}: {cause}" if cause else e.error)))
    if doc is None:
        rows.append(("document", "(not a deployment document)"))
    else:
        service, image = doc.get("service") or {}, doc.get("image") or {}
        rows += [
            (
                "service",
                f"{service.get('name')} ({service.get('cluster')}/{service.get('service')})",
            ),
            ("environment", str(service.get("environment") or "-")),
            ("image", f"{image.get('repository')}:{image.get('tag')}"),
            ("digest", str(image.get("digest"))),
            ("requested", f"{_when(doc.get('requested_at'))} (by {doc.get('source', '?')})"),
        ]
        if doc.get("retry_of"):
            rows.append(("retry of", str(doc["retry_of"])))
        rows += _document_rows(detail)
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    if detail.phases:
        _print_phases(console, detail.phases)


def _document_rows(detail: ExecutionDetail) -> list[tuple[str, str]]:
    e, doc = detail.summary, detail.document or {}
    rows: list[tuple[str, str]] = []
    if render := doc.get("render"):
        rows.append(
            (
                "task definition",
                f"{render.get('previous_task_definition')}\n→ {render.get('task_definition')}",
            )
        )
    if decision := detail.decision:
        at = f" at {_when(decision.at)}" if decision.at else ""
        rows.append(("approval", escape(decision.words()) + at))
    elif e.status == "RUNNING" and e.state == "RequestApproval":
        asked = submitted(detail.history, "RequestApproval") or {}
        whom = asked.get("emailed") or (doc.get("service") or {}).get("approvers") or []
        rows.append(("approval", f"waiting for {', '.join(whom) or '?'}"))
    if behind := detail.waiting_behind:
        rows.append(("turn", f"waiting behind {behind}, which holds the service's lock"))
    if scaling := doc.get("scaling"):
        held = [
            name
            for name, key in (
                ("in", "dynamic_scaling_in_suspended"),
                ("out", "dynamic_scaling_out_suspended"),
                ("scheduled", "scheduled_scaling_suspended"),
            )
            if scaling.get(key)
        ]
        before = f"suspended before: {', '.join(held)}" if held else "not suspended before"
        rows.append(("scaling", f"{scaling.get('resource_id')}: {before}"))
    if detail.codedeploy is not None:
        rows.append(("deployment", detail.codedeploy.words()))
    if checks := detail.checks:
        rows.append(("test listener", escape(checks.words())))
    if rollback := doc.get("rollback"):
        rows.append(("rollback", escape(_rollback_words(rollback))))
    shown = {e.error}  # the execution's own error is the document's failure, once
    for key, label in (
        ("failure", "failure"),
        ("error", "step error"),
        ("cleanup_error", "CLEANUP FAILED"),
        ("notification_error", "not announced"),
    ):
        if problem := doc.get(key):
            name = problem.get("error") or problem.get("Error")
            cause = readable_cause(problem.get("cause") or problem.get("Cause"))
            if key in ("failure", "error") and name in shown:
                continue
            shown.add(name)
            rows.append((label, escape(_short(f"{name}: {cause}" if cause else str(name), 300))))
    return rows


def _rollback_words(rollback: dict[str, Any]) -> str:
    """What Rollback did, and when blue served again (the deployment row says CodeDeploy's
    statuses)."""
    asked = _when(rollback.get("rolled_back_at"))
    if rollback.get("release_live") or not rollback.get("deployment_stopped"):
        return f"{rollback.get('detail')} ({asked})"
    said = f"{rollback.get('deployment_id')} stopped with rollback at {asked}"
    if rollback.get("finished"):
        return said + f"; blue served again at {_when(rollback.get('finished_at'))}"
    return said + f"; rollback {rollback.get('status') or 'under way'}"


def _print_phases(console: Console, found: list[Phase]) -> None:
    table = Table(title="phases", title_justify="left", box=None, pad_edge=False)
    table.add_column("phase")
    table.add_column("seconds", justify="right")
    for phase in found:
        table.add_row(phase.label, f"{phase.seconds:.1f}")
    table.add_row("[bold]total[/]", f"[bold]{sum(p.seconds for p in found):.1f}[/]")
    console.print(table)


# -- history ------------------------------------------------------------------------------


def history(
    ctx: typer.Context,
    service: Annotated[
        str,
        typer.Argument(
            help="The service: its name in the service configuration, or cluster/service."
        ),
    ],
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 20,
    as_json: JsonOption = False,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
    stack: StackOption = None,
    services_file: ServicesOption = None,
    services_parameter: ParameterOption = None,
) -> None:
    """What was deployed to a service and how it ended, newest first, and the pushes that
    were refused and why.

    Answers "which commit runs in prod?": the entry whose task definition ECS serves now is
    marked as running. Each entry says its environment, who approved or rejected it (and
    why), CodeDeploy's final status (asked of CodeDeploy: stopped, rolled back), and whose
    retry it is; a superseded, outdated or refused image says by what or why.
    """
    account = _account(ctx, endpoint_url, region, stack, services_file, services_parameter)
    with _reported(account.target.endpoint_url):
        ref = _service(account, service)
        table_name = _resources(account).table()
        try:
            running = running_task_definition(account.client("ecs"), ref.cluster, ref.service)
        except (BotoCoreError, ClientError):
            running = None  # the history still answers; "running" stays unmarked
        rows = service_history(
            account.client("dynamodb"),
            table_name,
            ref,
            limit,
            running,
            account.client("codedeploy"),
        )
    if as_json:
        _print_json({"service": ref.key, "running_task_definition": running, "deployments": rows})
        return
    console = _console()
    live = next((r for r in rows if r.get("running")), None)
    if live:
        console.print(
            f"[bold]{ref.key} runs {live.get('tag')}[/] ({live.get('task_definition')}), "
            f"deployed {_when(live.get('finished_at'))} by {live.get('execution_name')}"
        )
    elif running:
        console.print(f"{ref.key} runs {running} (not among the deployments below)")
    if not rows:
        console.print(f"no deployments of {ref.key} recorded")
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("", no_wrap=True, min_width=1)
    table.add_column("finished (UTC)", no_wrap=True, min_width=19)
    table.add_column("env", overflow="fold", min_width=3)
    table.add_column("tag", overflow="fold", min_width=7)
    table.add_column("outcome", overflow="fold", min_width=9)
    table.add_column("decided by", overflow="fold", min_width=8)
    table.add_column("CodeDeploy", overflow="fold", min_width=9)
    table.add_column("task def", no_wrap=True)
    table.add_column("execution", overflow="fold", min_width=20)
    for r in rows:
        name = str(r.get("execution_name") or "-")
        table.add_row(
            "▶" if r.get("running") else "",
            _when(r.get("finished_at"), zone=False),
            str(r.get("environment") or "-"),
            _tag(r.get("tag") or _short(r.get("digest"), 19)),
            _outcome(r),
            str(r.get("approved_by") or r.get("rejected_by") or "-"),
            _codedeploy_cell(r.get("codedeploy")),
            str(r.get("task_definition") or "-").rsplit("/", 1)[-1],
            name + (f"\n[dim]retry of {r['retry_of']}[/]" if r.get("retry_of") else ""),
        )
    console.print(table)


_OUTCOME_WORDS = {
    "succeeded": "[green]deployed[/]",
    "rolled_back": "[red]rolled back[/]",
    "not_deployed": "[red]not deployed[/]",
    "superseded": "[yellow]superseded[/]",
    "needs_attention": "[bold red]NEEDS ATTENTION[/]",
    "refused": "[yellow]refused[/]",
}
# Errors that say by themselves why nothing was deployed.
_NOT_DEPLOYED_WORDS = {
    "ApprovalRejected": "[red]rejected[/]",
    "States.Timeout": "[yellow]approval timed out[/]",
    "ApprovalTimedOut": "[yellow]approval timed out[/]",
    "ImageOutdated": "[yellow]outdated[/]",
}


def _outcome(row: dict[str, Any]) -> str:
    """How an entry ended, in words, with why when it did not deploy."""
    outcome, error = str(row.get("outcome")), row.get("error")
    words = _OUTCOME_WORDS.get(outcome, escape(outcome))
    if outcome == "not_deployed" and error in _NOT_DEPLOYED_WORDS:
        words = _NOT_DEPLOYED_WORDS[str(error)]
        if error == "ApprovalRejected":
            reason = row.get("rejection_reason")
            return words + (f": {escape(_short(reason, 120))}" if reason else "")
    elif error and outcome not in ("superseded", "refused"):
        words += f" ({escape(str(error))})"
    # Why an image was not deployed; a rollback's why is in `show` (its checks, its error).
    reason = row.get("reason")
    timed_out = error in ("States.Timeout", "ApprovalTimedOut")
    if reason and outcome in ("not_deployed", "superseded", "refused") and not timed_out:
        said = _short(reason, 120)
        # "superseded by v1.4.1 (9f8e7d6), pushed later" reads on from the outcome's word
        joined = outcome == "superseded" and said.startswith("superseded ")
        words += f" {escape(said.removeprefix('superseded '))}" if joined else f": {escape(said)}"
    return words


def _codedeploy_cell(said: dict[str, Any] | None) -> str:
    if not said:
        return "-"
    cell = str(said.get("status") or "?")
    if said.get("rollback_deployment_id"):
        cell += f", rolled back ({said.get('rollback_status') or '?'})"
    return cell


# -- deploy -------------------------------------------------------------------------------


def deploy(
    ctx: typer.Context,
    service: Annotated[
        str, typer.Argument(help="The service's name in the service configuration.")
    ],
    tag: Annotated[
        str,
        typer.Option(help="Image tag in the service's ECR repository (a commit SHA or version)."),
    ],
    follow: Annotated[
        bool,
        typer.Option("--follow", help="Follow the execution with live progress until it ends."),
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            min=1,
            help="With --follow: stop following after this many seconds (the deployment goes on).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
    stack: StackOption = None,
    services_file: ServicesOption = None,
    services_parameter: ParameterOption = None,
) -> None:
    """Start the deployment of an image already in ECR, as a push would have.

    The tag is looked up in ECR and the image pinned by its digest. Mutable tags (latest,
    main, ...) are refused like the trigger refuses them. The execution gets the same name
    a push would give it (the service and the digest, whatever the tag), so deploying an
    image whose deployment exists starts nothing and says duplicate; `bluegreen retry`
    deploys it again on purpose. Exit status with --follow: 0 when it deployed, 1 otherwise.
    """
    account = _account(ctx, endpoint_url, region, stack, services_file, services_parameter)
    with _reported(account.target.endpoint_url):
        config = account.catalog.named(service)
        sfn = account.client("stepfunctions")
        result = start_deployment(
            config,
            tag,
            account.client("ecr"),
            sfn,
            _resources(account).state_machine(),
            account.region,
            datetime.now(UTC),
        )
        existing = None
        if result.outcome == "duplicate" and result.execution_arn:
            existing = sfn.describe_execution(executionArn=result.execution_arn)["status"]
    document: dict[str, Any] = {**result.model_dump(mode="json"), "status": existing or "RUNNING"}
    console = _console(stderr=as_json)
    if result.outcome == "started":
        console.print(f"started {result.execution_name} ({result.reason})")
    else:
        console.print(
            f"duplicate: {result.execution_name} already exists ({existing}); "
            "nothing new was started" + ("; following it" if follow else "")
        )
        if existing in RETRYABLE and not follow:
            console.print(
                f"[dim]to deploy this image again: bluegreen retry {result.execution_name}[/]"
            )
    if not follow:
        if as_json:
            _print_json(document)
        else:
            console.print(f"[dim]see it: bluegreen show {result.execution_name}[/]")
        return
    assert result.execution_arn is not None
    with _reported(account.target.endpoint_url):
        ended = _follow(console, account, result.execution_arn, config, tag, timeout)
    if as_json:
        _print_json({**document, **ended})
    raise typer.Exit(0 if ended["status"] == "SUCCEEDED" else 1)


# -- retry --------------------------------------------------------------------------------


def retry(
    ctx: typer.Context,
    execution: Annotated[
        str,
        typer.Argument(
            help="The execution to retry (name or ARN): one that ended FAILED, ABORTED or "
            "TIMED_OUT."
        ),
    ],
    follow: Annotated[
        bool,
        typer.Option("--follow", help="Follow the retry with live progress until it ends."),
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            min=1,
            help="With --follow: stop following after this many seconds (the deployment goes on).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
    stack: StackOption = None,
    services_file: ServicesOption = None,
    services_parameter: ParameterOption = None,
) -> None:
    """Deploy again, on purpose, the image of an execution that did not deploy it.

    For an execution that was rejected, expired, rolled back, stopped or failed: a new
    execution of the same service (as configured now) and image, named
    <execution>-retry<N> (the next free number) and marked as a retry of it, which `show`
    and `executions` say. The image must still be in ECR with its tag; it asks for approval
    like any deployment. A SUCCEEDED or RUNNING execution is not retried, nor one whose
    retry runs or succeeded. Exit status with --follow: 0 when it deployed, 1 otherwise.
    """
    account = _account(ctx, endpoint_url, region, stack, services_file, services_parameter)
    with _reported(account.target.endpoint_url):
        sfn = account.client("stepfunctions")
        service, result = retry_deployment(
            execution,
            account.catalog,
            account.client("ecr"),
            sfn,
            _resources(account).state_machine(),
            datetime.now(UTC),
        )
    console = _console(stderr=as_json)
    if result.outcome == "started":
        console.print(f"started {result.execution_name} ({result.reason})")
    else:  # another operator's retry, started a moment before
        console.print(f"duplicate: {result.execution_name} already exists; nothing new started")
    document: dict[str, Any] = {**result.model_dump(mode="json"), "status": "RUNNING"}
    if not follow:
        if as_json:
            _print_json(document)
        else:
            console.print(f"[dim]see it: bluegreen show {result.execution_name}[/]")
        return
    assert result.execution_arn is not None
    with _reported(account.target.endpoint_url):
        ended = _follow(console, account, result.execution_arn, service, None, timeout)
    if as_json:
        _print_json({**document, **ended})
    raise typer.Exit(0 if ended["status"] == "SUCCEEDED" else 1)


def _follow(
    console: Console,
    account: Account,
    arn: str,
    service: ServiceConfig,
    tag: str | None,
    timeout: float | None,
) -> dict[str, Any]:
    """Follow the execution to its end; then its phases, and a last line with the outcome
    and what production runs."""
    sfn = account.client("stepfunctions")
    started: datetime = sfn.describe_execution(executionArn=arn)["startDate"]
    view = ProgressView(console, started)
    if _resources(account).from_stack:  # on AWS: the execution in the console
        view.say(f"[dim]{console_link(arn)}[/]")
    name = arn.rsplit(":", 1)[-1]
    try:
        watcher = follow_execution(
            account.client, arn, view, timeout if timeout is not None else float("inf")
        )
    except TimeoutError:
        _fail(f"stopped following after {timeout:.0f} s; it goes on: bluegreen show {name}")
    except KeyboardInterrupt:
        _fail(f"stopped following; it goes on: bluegreen show {name}", 130)
    final = watcher.describe()
    found = phases(watcher.history, final.get("stopDate"))
    status = str(final["status"])
    took = (final.get("stopDate") or datetime.now(UTC)) - started
    running = production_runs(
        account.client("ecs"), account.client("ecr"), service.cluster, service.service,
        service.container,
    )  # fmt: skip
    _print_phases(console, found)
    style = _STATUS_STYLE.get(status, "yellow")
    serves = running.words(tag) if running else "(ECS could not tell)"
    console.print(
        f"[{style}]{escape(ending(final, watcher.history))}[/] in "
        f"{_duration(took.total_seconds())}; production runs {escape(serves)}"
    )
    return {
        "status": status,
        "error": final.get("error"),
        "cause": final.get("cause"),
        "phases": [{"phase": p.label, "seconds": round(p.seconds, 1)} for p in found],
        "production": running.to_json() if running else None,
    }


# -- approve / reject ---------------------------------------------------------------------


_DONE = {"approve": "approved", "reject": "rejected"}


def _decide(link: str, decision: Literal["approve", "reject"], as_json: bool) -> None:
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or "/approvals/" not in parts.path:
        _fail("not an approval link: expected https://<host>/approvals/<id>?...", 2)
    where = f"{parts.scheme}://{parts.netloc}"
    started = time.monotonic()
    try:
        answer = approval_page.decide(link, decision)
    except urllib.error.URLError as e:
        _fail(f"cannot reach {where}: {e.reason}")
    except (OSError, ValueError) as e:
        _fail(f"cannot reach {where}: {e}")
    outcome: PageOutcome = page_outcome(answer.status, answer.body)
    if as_json:
        _print_json({**outcome.to_json(), "seconds": round(time.monotonic() - started, 2)})
    if outcome.decision is None:
        if not as_json:
            said = ": ".join(p for p in (outcome.heading, outcome.text) if p)
            typer.echo(
                f"bluegreen: nothing was {_DONE[decision]} (page answered {answer.status}): {said}",
                err=True,
            )
        raise typer.Exit(1)
    if not as_json:
        typer.echo(f"{outcome.heading}: {outcome.text}")


def approve(
    link: Annotated[str, typer.Argument(help="The approval link from the email or Slack.")],
    as_json: JsonOption = False,
) -> None:
    """Approve a deployment through its approval page, as the link's recipient.

    The page is opened (which changes nothing) and its one-time form submitted, exactly as
    a browser would. Exit status 1 when nothing was decided (already decided, expired,
    invalid link).
    """
    _decide(link, "approve", as_json)


def reject(
    link: Annotated[str, typer.Argument(help="The approval link from the email or Slack.")],
    as_json: JsonOption = False,
) -> None:
    """Reject a deployment through its approval page, as the link's recipient.

    The service is never touched. Exit status 1 when nothing was decided.
    """
    _decide(link, "reject", as_json)


# -- recover ------------------------------------------------------------------------------


def recover(
    ctx: typer.Context,
    service: Annotated[
        str,
        typer.Argument(
            help="The service: its name in the service configuration, or cluster/service."
        ),
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Recover without asking.")] = False,
    as_json: JsonOption = False,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
    stack: StackOption = None,
    services_file: ServicesOption = None,
    services_parameter: ParameterOption = None,
) -> None:
    """A service's lock, and its recovery when the execution holding it has ended.

    Shows who holds the lock since when, whether that execution still runs, and the scaling
    it saved. When it has ended (its cleanup never ran), the janitor recovers the lock, as
    its sweep would: it rolls back what the execution left, restores the saved scaling and
    releases the lock. A lock held by a running execution is left alone. Exit status 1 when
    the lock is still held by an ended execution afterwards.
    """
    account = _account(ctx, endpoint_url, region, stack, services_file, services_parameter)
    with _reported(account.target.endpoint_url):
        key = _service(account, service).key
        found = _resources(account)
        table = StateTable(account.client("dynamodb"), found.table())
        owners = ExecutionStatuses(account.client("stepfunctions"), found.state_machine())
        before = lock_view(table, owners, key)
    console = _console(stderr=as_json)
    document: dict[str, Any] = {"service": key, "lock": before.to_json(), "report": None}
    _print_lock(console, before)
    if not before.held_by_ended_owner:
        if as_json:
            _print_json({**document, "after": before.to_json()})
        return
    if not yes and not typer.confirm(
        f"Recover {key}: roll back what {before.owner} left, restore the scaling it saved, "
        "release the lock?",
        err=True,
    ):
        console.print("nothing was done")
        if as_json:
            _print_json({**document, "after": before.to_json()})
        raise typer.Exit(1)
    with _reported(account.target.endpoint_url):
        janitor = janitor_function(account.target.stack)
        report = invoke_recovery(account.client("lambda"), janitor, key)
        after = lock_view(table, owners, key)
    console.print(f"janitor: {report.get('outcome')}")
    for action in report.get("actions") or []:
        console.print(f"  {action}")
    if after.held_by_ended_owner:
        console.print(f"[red]{key} is still locked by {after.owner} ({after.owner_status})[/]")
    if as_json:
        _print_json({**document, "report": report, "after": after.to_json()})
    raise typer.Exit(1 if after.held_by_ended_owner else 0)


def _print_lock(console: Console, view: LockView) -> None:
    if not view.held:
        console.print(f"{view.key} is not locked: nothing to recover")
        return
    console.print(f"{view.key} is locked by {view.owner} since {_when(view.since)}")
    if view.owner_running:
        console.print(
            f"  its owner is {view.owner_status}: the lock is its own, nothing to recover"
        )
    elif view.owner_status == MISSING:
        console.print("  its owner is unknown to Step Functions")
    else:
        console.print(f"  its owner ended {view.owner_status} at {_when(view.ended)}")
    snap = view.snapshot
    if snap is None:
        console.print("  scaling: nothing saved (it never suspended scaling)")
    elif not snap.get("registered"):
        console.print(f"  scaling: {snap.get('resource_id')} has no scalable target")
    else:
        held = [
            name
            for name, flag in (
                ("in", "dynamic_scaling_in_suspended"),
                ("out", "dynamic_scaling_out_suspended"),
                ("scheduled", "scheduled_scaling_suspended"),
            )
            if snap.get(flag)
        ]
        before = f"suspended before: {', '.join(held)}" if held else "not suspended before"
        console.print(
            f"  scaling saved at {_when(snap.get('suspended_at'))}: "
            f"{snap.get('resource_id')}, {before}"
        )


# -- registration -------------------------------------------------------------------------

_EXAMPLES = {
    "executions": "bluegreen executions --service demo-web --status FAILED --limit 5",
    "show": "bluegreen show demo-web-01ad8e0d9c3e",
    "history": "bluegreen history demo-web --json | jq -r '.deployments[0].tag'",
    "deploy": "bluegreen deploy demo-web --tag 3f2a9c1 --follow",
    "retry": "bluegreen retry demo-web-01ad8e0d9c3e --follow",
    "approve": "bluegreen approve 'https://approvals.example.com/approvals/AbC?r=...&s=...'",
    "reject": "bluegreen reject 'https://approvals.example.com/approvals/AbC?r=...&s=...'",
    "recover": "bluegreen recover demo-web --yes",
}


def _help(docstring: str | None) -> str:
    """A docstring as help: its paragraphs kept, their lines joined (typer keeps them)."""
    paragraphs = inspect.cleandoc(docstring or "").split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def register(app: typer.Typer) -> None:
    """Add the operators' commands and the global options to the ``bluegreen`` app."""
    app.callback()(options)
    for command in (executions, show, history, deploy, retry, approve, reject, recover):
        name = command.__name__
        app.command(name=name, help=_help(command.__doc__), epilog=f"Example: {_EXAMPLES[name]}")(
            command
        )
