"""``bluegreen local demo``: one push through the sample's pipeline, with live progress."""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bluegreen_cli.account import explain
from bluegreen_cli.commands.local import configure_logging, start_or_exit
from bluegreen_cli.demo import EXPECTED_END, DemoResult, run
from bluegreen_cli.follow import Phase, ProgressView


def demo(
    scenario: Annotated[
        str,
        typer.Option(
            help="approve: a healthy release goes out. reject: the approver says no, the "
            "service is never touched. unhealthy: the new version fails its checks on the "
            "test listener and is rolled back.",
        ),
    ] = "approve",
    port: Annotated[int, typer.Option(help="Port of the local stack (0: any free port).")] = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON (for scripts).")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 300.0,
) -> None:
    """Start the local stack with the sample, push an image and follow it through the
    pipeline: development (a rolling update in account 111111111111, nobody asked), then
    production, where its success promoted the same digest.

    Production's approval goes through the real approval page: the link is read from the
    emailed request in the local outbox, the page is opened, and its one-time form is
    submitted. The summary says what each environment runs; with --json, its top-level
    fields are production's and "environments" has each one. Exit status 0 when the
    scenario ended as it should.
    """
    if scenario not in EXPECTED_END:
        raise typer.BadParameter("approve, reject or unhealthy", param_hint="--scenario")
    configure_logging("WARNING")
    # What the functions print is their CloudWatch log, not part of this story: it is kept
    # aside, and shown only when the scenario did not end as it should.
    quiet = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
    function_output = io.StringIO()
    console = Console(file=sys.stderr if as_json else sys.stdout, highlight=False, soft_wrap=True)
    console.width = max(console.width, 120)  # the summary stays whole when piped
    result = _run(console, port, scenario, timeout, quiet, function_output.write)
    if not result.as_expected:
        sys.stderr.write(function_output.getvalue())
    if as_json:
        typer.echo(json.dumps(result.to_json(), default=str, indent=2))
    else:
        _summary(console, result)
    raise typer.Exit(0 if result.as_expected else 1)


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"bluegreen local demo: {message}", err=True)
    raise typer.Exit(code)


def _run(
    console: Console,
    port: int,
    scenario: str,
    timeout: float,
    quiet: dict[str, str],
    function_log: Callable[[str], object],
) -> DemoResult:
    """The scenario on a stack of its own; an expected failure ends the command with one
    line on stderr (a port in use, the scenario not ending in time, Ctrl-C)."""
    from bluegreen_cli.local.server import LocalStack

    started = time.monotonic()
    stack = LocalStack(
        port=port, sample=True, function_environment=quiet, function_log=function_log
    )
    with console.status("starting the local stack (moto, the app from template.yaml, the sample)"):
        start_or_exit(stack, "demo")
    console.print(
        f"[dim]local stack ready at {stack.endpoint_url} in {time.monotonic() - started:.1f}s[/]"
    )
    began = datetime.now(UTC)  # the progress lines' time zero

    def report(kind: str, text: str) -> None:
        if kind != "state":  # the progress line says where it is
            seconds = (datetime.now(UTC) - began).total_seconds()
            console.print(f"[dim]{seconds:7.1f}s[/]  {escape(text)}")

    def view() -> ProgressView:
        return ProgressView(console, began)

    try:
        return run(stack.endpoint_url, stack.client, scenario, report, timeout, view)  # type: ignore[arg-type]
    except TimeoutError as e:
        _fail(f"{e} (the local stack is stopped)")
    except (BotoCoreError, ClientError) as e:
        _fail(explain(e, stack.endpoint_url))
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    finally:
        stack.stop()


def _summary(console: Console, result: DemoResult) -> None:
    """Production's deployment in detail, each environment in a line, then what each runs."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    rows: list[tuple[str, Any]] = [
        ("outcome", f"{result.status} ({result.last_state})"),
        *([("reason", f"{result.error}: {result.cause}")] if result.error else []),
        ("service", result.service),
        ("image", result.image),
        ("image digest", result.image_digest),
        ("task definition before", result.previous_task_definition),
        ("task definition now", result.task_definition),
        ("production serves", result.production_serves or "(no answer)"),
        (
            "scaling suspended",
            ", ".join(k for k, v in result.scaling_suspended.items() if v) or "no",
        ),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    console.print()
    console.print(table)
    pipeline = Table(title="pipeline", title_justify="left", box=None, pad_edge=False)
    for column in ("environment", "service", "account", "how", "outcome", "seconds"):
        pipeline.add_column(column, justify="right" if column == "seconds" else "left")
    for env in result.environments:
        pipeline.add_row(
            env.environment, env.service, env.account, env.how, env.ending,
            f"{env.seconds:.1f}" if env.execution_arn else "-",
        )  # fmt: skip
    console.print(pipeline)
    for env in result.environments:
        if env.phases:
            print_phases(console, env.phases, f"phases in {env.environment}")
    console.print(f"[bold]total[/] {result.total_seconds:.1f} s")
    verdict = (
        "as expected" if result.as_expected else f"NOT as expected for --scenario {result.scenario}"
    )
    console.print()
    for env in result.environments:
        runs = escape(env.runs or "(ECS could not tell)")
        console.print(f"[bold]{escape(env.environment)}: {escape(env.ending)}; runs {runs}[/]")
    console.print(f"({verdict})")


def print_phases(console: Console, found: list[Phase], title: str) -> None:
    phases = Table(title=title, title_justify="left", box=None)
    phases.add_column("phase")
    phases.add_column("seconds", justify="right")
    for phase in found:
        phases.add_row(phase.label, f"{phase.seconds:.1f}")
    console.print(phases)
