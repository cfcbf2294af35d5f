"""``bluegreen local ...``: the app on an emulated AWS account, on this machine."""

from __future__ import annotations

import errno
import gc
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer

app = typer.Typer(
    name="local",
    help=(
        "Run bluegreen locally against an emulated AWS account (no AWS account, no Docker). "
        "The stack is built from template.yaml and statemachine/deploy.asl.json."
    ),
    no_args_is_help=True,
)


# The project whose template.yaml a command reads, declared once for every command.
ProjectOption = Annotated[
    Path | None,
    typer.Option(
        help="Directory holding template.yaml (default: the current directory or its parents).",
        exists=True,
        file_okay=False,
    ),
]


class _ShortStateFailures(logging.Filter):
    """moto logs every failed state at ERROR with its whole parse tree: keep the first part.

    A state failing (a rejection, a rollback) is an outcome of the workflow, not an error of
    the stack, so it is shown at INFO. A path that is not in the input is logged too when a
    Choice only asks whether it is present (an environment without approvers): that is a
    step of the evaluation, at DEBUG; a path a state needs fails the state, logged as above.
    """

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("moto.stepfunctions"):
            head = record.getMessage().split(" at '(", 1)[0]
            record.msg, record.args = (head if len(head) <= 400 else head[:400] + "..."), None
            if "FailureEventException" in head:
                record.levelno, record.levelname = logging.INFO, "INFO"
            elif head.startswith("Exception=NoSuchJsonPathError"):
                record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return record.levelno >= self.threshold


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (not the stream of the day it was made),
    so a command run in-process by a test runner never leaves a handler on a closed stream."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: str) -> None:
    threshold = logging.getLevelName(level.upper())
    if not isinstance(threshold, int):
        raise typer.BadParameter("one of DEBUG, INFO, WARNING, ERROR", param_hint="--log-level")
    handler = _CurrentStderr()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-5s %(message)s", "%H:%M:%S"))
    handler.addFilter(_ShortStateFailures(threshold))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # Other libraries (botocore, werkzeug, moto) speak up on warnings only.
    root.setLevel(logging.WARNING)
    logging.getLogger("bluegreen_cli").setLevel(threshold)


def _parameters(values: list[str]) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for value in values:
        name, separator, text = value.partition("=")
        if not separator or not name:
            raise typer.BadParameter(
                f"expected Name=Value, got {value!r}", param_hint="--parameter"
            )
        parameters[name] = text
    return parameters


def _without_metrics(write: Callable[[str], object]) -> Callable[[str], object]:
    """A function's log without the metric documents (EMF) CloudWatch would read from it."""

    def log(line: str) -> None:
        if not line.startswith('{"_aws":'):
            write(line)

    return log


def _port_pair(text: str) -> tuple[int, int]:
    first, comma, second = text.partition(",")
    try:
        ports = (int(first), int(second))
    except ValueError:
        ports = (-1, -1)
    if not comma or not all(0 <= p <= 65535 for p in ports):
        raise typer.BadParameter(
            f"expected two ports as PROD,TEST, got {text!r}", param_hint="--sample-ports"
        )
    return ports


def start_or_exit(stack: Any, command: str) -> None:
    """Start the stack; an expected failure (a port in use, no template.yaml, a template it
    cannot build) ends the command with one line on stderr and exit status 1."""
    from bluegreen_cli.local.intrinsics import TemplateError
    from bluegreen_cli.local.loadbalancer import PortInUseError

    def fail(message: str) -> NoReturn:
        typer.echo(f"bluegreen local {command}: {message}", err=True)
        raise typer.Exit(1)

    template = stack.project_root / "template.yaml"
    if not template.is_file():
        fail(f"no template.yaml in {stack.project_root} (run it in the project, or --project DIR)")
    try:
        stack.start()
    except PortInUseError as e:
        fail(str(e))
    except OSError as e:
        where = f"{stack.host}:{stack.requested_port}"
        if e.errno == errno.EADDRINUSE:
            fail(f"cannot listen on {where}: the port is in use (--port 0 takes any free port)")
        if e.errno in (errno.EACCES, errno.EADDRNOTAVAIL):
            fail(f"cannot listen on {where}: {e.strerror}")
        fail(f"the stack did not start: {type(e).__name__}: {e}")
    except TemplateError as e:
        fail(f"{template}: {e}")
    except Exception as e:
        fail(f"the stack did not start: {type(e).__name__}: {e}")


_SERVE_HELP = "\n\n".join(
    [
        "Serve the local stack in the foreground until Ctrl-C.",
        "Point any AWS client at the printed URL (region us-east-1, any credentials).",
        "GET /_local/health: 200 once ready.",
        "GET /_local/outbox: every email and Slack message sent, oldest first.",
        'POST /_local/sample {"healthy": false}: the sample\'s new version fails its checks.',
        "GET /_local/stats: Lambda invocations and state transitions.",
    ]
)


@app.command(help=_SERVE_HELP)
def serve(
    port: Annotated[
        int,
        typer.Option(
            help="Port for every AWS API, the approval pages and /_local/ routes "
            "(0: any free port)."
        ),
    ] = 4566,
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on. Loopback by default: the emulator has no authentication."
        ),
    ] = "127.0.0.1",
    sample: Annotated[
        bool,
        typer.Option(
            "--sample",
            help=(
                "Also provision the sample target: ECR repository demo-web, ECS service demo/web "
                "(CodeDeploy controller) behind an ALB whose production and test listeners are "
                "served on loopback (printed once ready; see --sample-ports), its CodeDeploy "
                "application and "
                "deployment group, and the service configuration that deploys it (SSM "
                "parameter /bluegreen/services)."
            ),
        ),
    ] = False,
    sample_ports: Annotated[
        str,
        typer.Option(
            "--sample-ports",
            metavar="PROD,TEST",
            help="With --sample: the ports of the sample ALB's production and test listeners "
            "(0: any free port). The sample's configuration probes the test listener "
            "wherever it is.",
        ),
    ] = "0,0",
    project: ProjectOption = None,
    parameter: Annotated[
        list[str] | None,
        typer.Option(
            "--parameter",
            "-p",
            help="Override a template parameter, as Name=Value (repeatable).",
        ),
    ] = None,
    log_level: Annotated[
        str,
        typer.Option(
            help="Log level of the stack and its functions: INFO shows every AWS call and "
            "invocation, and the functions' logs and metrics; WARNING only problems."
        ),
    ] = "INFO",
) -> None:
    """Serve the local stack in the foreground until interrupted."""
    from bluegreen_cli.local.sandbox import stderr_log
    from bluegreen_cli.local.server import LocalStack

    configure_logging(log_level)
    # Above INFO, the functions say only what goes wrong: no INFO logs, no metric documents.
    quiet = logging.getLevelName(log_level.upper()) > logging.INFO
    functions = {"POWERTOOLS_LOG_LEVEL": log_level.upper()}
    stack = LocalStack(
        port=port,
        host=host,
        sample=sample,
        project_root=project,
        parameters=_parameters(parameter or []),
        sample_ports=_port_pair(sample_ports),
        function_environment=functions if quiet else None,
        function_log=_without_metrics(stderr_log()) if quiet else None,
    )
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    start_or_exit(stack, "serve")
    typer.echo(f"bluegreen local stack ready at {stack.endpoint_url}")
    if stack.sample is not None:
        typer.echo(
            f"sample: production {stack.sample.production_url}, test {stack.sample.test_url}"
        )
    sys.stdout.flush()
    try:
        stopping.wait()
    finally:
        typer.echo("bluegreen local stack stopping", err=True)
        stack.stop()
        # The emulated account is millions of objects; letting the interpreter's final
        # collections walk them delays exit by seconds. Nothing is left to clean up.
        gc.freeze()


_PUSH_HELP = "\n\n".join(
    [
        "Push a new image to a repository of the local stack, without docker or the aws CLI.",
        "Each tag makes an image of its own (a manifest with its own config and layer), so "
        "each has its own digest. The push is ECR's: a repository some service deploys "
        "starts that service's deployment, as on AWS.",
    ]
)


@app.command(help=_PUSH_HELP)
def push(
    repository: Annotated[str, typer.Argument(help="The ECR repository, e.g. demo-web.")],
    tag: Annotated[str, typer.Option(help="The image's tag, e.g. a commit SHA: 3f2a9c1.")],
    endpoint_url: Annotated[
        str,
        typer.Option(
            "--endpoint-url",
            "--endpoint",
            envvar="AWS_ENDPOINT_URL",
            help="The local stack's URL.",
        ),
    ] = "http://127.0.0.1:4566",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
) -> None:
    """Push a new image to a repository of the local stack (see _PUSH_HELP)."""
    from bluegreen.adapters.aws import error_code
    from botocore.exceptions import BotoCoreError, ClientError

    from bluegreen_cli.account import Account, OpsError, Target, explain
    from bluegreen_cli.demo import push_image

    def fail(message: str, code: int) -> NoReturn:
        typer.echo(f"bluegreen local push: {message}", err=True)
        raise typer.Exit(code)

    try:
        ecr = Account(Target(endpoint_url)).client("ecr")
        digest = push_image(ecr, repository, tag)
    except OpsError as e:
        fail(str(e), e.exit_code)
    except ClientError as e:
        code = error_code(e)
        if code == "RepositoryNotFoundException":
            fail(f"no repository {repository!r} at {endpoint_url}", 2)
        if code in ("ImageTagAlreadyExistsException", "ImageAlreadyExistsException"):
            fail(f"{repository}:{tag} was pushed already: push a new tag", 2)
        fail(explain(e, endpoint_url), 2 if code == "InvalidParameterException" else 1)
    except BotoCoreError as e:
        fail(explain(e, endpoint_url), 1)
    if as_json:
        import json

        typer.echo(json.dumps({"repository": repository, "tag": tag, "digest": digest}))
    else:
        typer.echo(f"pushed {repository}:{tag} ({digest})")


@app.command()
def rights(
    project: ProjectOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per grant.")] = False,
) -> None:
    """What each function (and the state machine) may do once deployed, from template.yaml.

    The same roles the local stack enforces, after the SAM transform: each statement's actions, resources and condition, with <account>, <region> and the template's own resources as <LogicalId>. The logs and X-Ray rights every function has are left out. Printed as the Markdown table the README carries.
    """  # noqa: E501 - one line per paragraph: the help reflows it
    from dataclasses import asdict

    from bluegreen_cli.local.intrinsics import TemplateError
    from bluegreen_cli.local.rights.table import grants, markdown
    from bluegreen_cli.local.server import default_project_root

    root = project or default_project_root()
    try:
        found = grants(root / "template.yaml")
    except (OSError, TemplateError) as e:
        typer.echo(f"bluegreen local rights: {e}", err=True)
        raise typer.Exit(2) from e
    if as_json:
        import json

        typer.echo(json.dumps([asdict(g) for g in found], indent=2))
    else:
        typer.echo(markdown(found), nl=False)
