"""What every operators' command shares: where to look (the global options, the account and
the app's resources), how to fail (one line on stderr, an exit status), how to print, and how
to follow an execution to its end."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from bluegreen.adapters.store import StateTable
from bluegreen.errors import BluegreenError
from bluegreen.models import ServiceConfig
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bluegreen_cli.account import (
    DEFAULT_STACK,
    Account,
    OpsError,
    Resources,
    ServiceRef,
    Target,
    execution_arn,
    explain,
    service_ref,
)
from bluegreen_cli.follow import (
    Phase,
    ProgressView,
    console_link,
    ending,
    follow_execution,
    phases,
)
from bluegreen_cli.reading import deployment_document, production_runs

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
EnvOption = Annotated[
    str | None,
    typer.Option(
        "--env",
        help="The environment of the service (as its pipeline names them, e.g. dev); "
        "default: its last, production.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]
FollowOption = Annotated[
    bool,
    typer.Option(
        "--follow",
        help="Follow the execution with live progress until it ends; then, each in turn, the "
        "next environments' executions its success starts (promotes the image to).",
    ),
]
FollowTimeoutOption = Annotated[
    float | None,
    typer.Option(
        min=1,
        help="With --follow: stop following after this many seconds (the deployment goes on).",
        show_default=False,
    ),
]


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


def account_for(
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
    with reported(target.endpoint_url):
        return Account(target)


def app_resources(account: Account) -> Resources:
    """The app's resources: the stack's Outputs, else (no CloudFormation) by their names."""
    return account.resources


def service_named(
    account: Account, text: str, environment: str | None = None, every_environment: bool = False
) -> ServiceRef:
    """The service an operator names, in ``environment`` (default: its last) or the
    environment whose lock key ``text`` is; a lock key nobody configured only when the app
    has a record of it (its history or its lock), else an error listing the services."""

    def recorded(key: str) -> bool:
        table = StateTable(account.client("dynamodb"), app_resources(account).table())
        return bool(table.history(key, 1) or table.queue(key))

    return service_ref(account.catalog, text, recorded, environment, every_environment)


def environment_of(document: dict[str, Any] | None) -> ServiceConfig | None:
    """The environment an execution's document deployed to (its account's role, region);
    None when the document names none the configuration model reads (the app's own)."""
    service = (document or {}).get("service")
    if not isinstance(service, dict):
        return None
    try:
        return ServiceConfig.model_validate(service)
    except ValueError:  # pydantic's ValidationError: a document of another shape
        return None


def configured_environment(account: Account, ref: ServiceRef) -> ServiceConfig | None:
    """The configured environment ``ref`` names (None: a service only the records know)."""
    return next((s for s in account.catalog.services if s.lock_key == ref.key), None)


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"bluegreen: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def reported(endpoint_url: str | None) -> Iterator[None]:
    """Expected failures become one line on stderr and an exit status, never a traceback."""
    try:
        yield
    except OpsError as e:
        fail(str(e), e.exit_code)
    except BluegreenError as e:  # ImageRefused, ServiceNotConfigured, ConfigurationInvalid
        fail(str(e), 2)
    except (BotoCoreError, ClientError) as e:
        fail(explain(e, endpoint_url))


def print_json(document: Any) -> None:
    typer.echo(json.dumps(document, indent=2, default=str))


def make_console(stderr: bool = False) -> Console:
    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = max(console.width, 200)  # piped: whole lines beat a terminal's fit
    return console


def when(at: datetime | str | None, zone: bool = True) -> str:
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


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def short_tag(tag: object) -> str:
    """A commit SHA as git shows it short; the whole tag is in ``show`` and ``--json``."""
    text = str(tag or "-")
    return text[:12] if re.fullmatch(r"[0-9a-f]{13,40}", text) else text


def shortened(text: str | None, width: int = 80) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


STATUS_STYLE = {"SUCCEEDED": "green", "RUNNING": "cyan", "FAILED": "red", "TIMED_OUT": "red"}


def status_markup(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'yellow')}]{status}[/]"


def print_phases(console: Console, found: list[Phase]) -> None:
    table = Table(title="phases", title_justify="left", box=None, pad_edge=False)
    table.add_column("phase")
    table.add_column("seconds", justify="right")
    for phase in found:
        table.add_row(phase.label, f"{phase.seconds:.1f}")
    table.add_row("[bold]total[/]", f"[bold]{sum(p.seconds for p in found):.1f}[/]")
    console.print(table)


def follow_to_end(
    console: Console,
    account: Account,
    arn: str,
    service: ServiceConfig,
    tag: str | None,
    timeout: float | None,
) -> dict[str, Any]:
    """Follow the execution to its end, then on through the environments its success
    promotes the image to, each in turn, until one ends without starting another (the
    last environment, a failure, an environment promoted by hand). Of each: its phases,
    and a line with its outcome and what its environment runs; and what comes next.

    The answer is the last execution's (``production``: what its environment runs), with
    ``followed``: each execution followed, in order.
    """
    sfn = account.client("stepfunctions")
    started: datetime = sfn.describe_execution(executionArn=arn)["startDate"]
    deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
    followed: list[dict[str, Any]] = []
    while True:
        ended = _follow_one(console, account, arn, service, tag, started, deadline, timeout)
        followed.append(ended)
        promotion = ended["promotion"] or {}
        name = promotion.get("execution_name")
        if ended["status"] != "SUCCEEDED" or promotion.get("outcome") not in _ONWARD or not name:
            break
        arn = execution_arn(app_resources(account).state_machine(), str(name))
        document = deployment_document(sfn.describe_execution(executionArn=arn).get("input"))
        service = environment_of(document) or account.catalog.named(
            service.name, str(promotion.get("to"))
        )
    last = followed[-1]
    return {
        **{key: value for key, value in last.items() if key not in ("execution_name", "runs")},
        "production": last["runs"],
        "followed": followed,
    }


# A success whose Promote started the next environment's execution (or found it started).
_ONWARD = ("started", "duplicate")


def _follow_one(
    console: Console,
    account: Account,
    arn: str,
    service: ServiceConfig,
    tag: str | None,
    started: datetime,
    deadline: float,
    timeout: float | None,
) -> dict[str, Any]:
    """One execution to its end (progress timed from ``started``, the first one's start),
    then its phases and a last line with the outcome and what its environment runs."""
    view = ProgressView(console, started)
    if app_resources(account).from_stack:  # on AWS: the execution in the console
        view.say(f"[dim]{console_link(arn)}[/]")
    name = arn.rsplit(":", 1)[-1]

    def clients(kind: str) -> Any:
        # CodeDeploy's share of traffic is asked where the environment runs.
        return (
            account.target_client(service, kind) if kind == "codedeploy" else account.client(kind)
        )

    try:
        watcher = follow_execution(clients, arn, view, max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        fail(f"stopped following after {timeout:.0f} s; it goes on: bluegreen show {name}")
    except KeyboardInterrupt:
        fail(f"stopped following; it goes on: bluegreen show {name}", 130)
    final = watcher.describe()
    found = phases(watcher.history, final.get("stopDate"))
    status = str(final["status"])
    took = (final.get("stopDate") or datetime.now(UTC)) - final["startDate"]
    running = production_runs(
        account.target_client(service, "ecs"), account.client("ecr"), service.cluster,
        service.service, service.container,
    )  # fmt: skip
    print_phases(console, found)
    style = STATUS_STYLE.get(status, "yellow")
    serves = running.words(tag) if running else "(ECS could not tell)"
    console.print(
        f"[{style}]{escape(ending(final, watcher.history))}[/] in "
        f"{duration(took.total_seconds())}; {escape(_called(service))} runs {escape(serves)}"
    )
    promotion = _promotion(final)
    if promotion and promotion.get("outcome") not in ("last", "rollback"):
        console.print(f"next: {escape(str(promotion.get('detail')))}")
    return {
        "execution_name": name,
        "environment": service.environment,
        "status": status,
        "error": final.get("error"),
        "cause": final.get("cause"),
        "phases": [{"phase": p.label, "seconds": round(p.seconds, 1)} for p in found],
        "runs": running.to_json() if running else None,
        "promotion": promotion,
    }


def _called(service: ServiceConfig) -> str:
    """What people call the environment: its last is production, the others by name."""
    return service.environment if service.next_environment else "production"


def furthest(sfn: Any, state_machine_arn: str, arn: str) -> tuple[str, str]:
    """(name, status) of the furthest execution of the image that ``arn`` deploys: along
    the executions each success promoted it to (``arn``'s own when it promoted nothing)."""
    seen: set[str] = set()
    while True:
        described = sfn.describe_execution(executionArn=arn)
        name, status = str(described["name"]), str(described["status"])
        seen.add(name)
        promotion = _promotion(described) or {}
        following = promotion.get("execution_name")
        onward = status == "SUCCEEDED" and promotion.get("outcome") in _ONWARD
        if not onward or not following or following in seen:
            return name, status
        arn = execution_arn(state_machine_arn, str(following))


def _promotion(described: dict[str, Any]) -> dict[str, Any] | None:
    """What the succeeded execution's Promote made of it (the next environment), if any."""
    try:
        output = json.loads(described.get("output") or "{}")
    except ValueError:
        return None
    found = output.get("promotion") if isinstance(output, dict) else None
    return found if isinstance(found, dict) else None
