"""``bluegreen rollback``: production back to the image deployed before, by a safe path."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from bluegreen.adapters.store import StateTable
from bluegreen.models import ImageRef, RollbackRequest, ServiceConfig
from rich.console import Console

from bluegreen_cli.account import Account, OpsError, execution_arn
from bluegreen_cli.commands.shared import (
    EndpointOption,
    JsonOption,
    ParameterOption,
    RegionOption,
    ServicesOption,
    StackOption,
    account_for,
    app_resources,
    fail,
    follow_to_end,
    make_console,
    print_json,
    reported,
)
from bluegreen_cli.follow import TERMINAL
from bluegreen_cli.rollback import (
    HISTORY_DEPTH,
    Bake,
    ImageView,
    bake_history_row,
    bake_images,
    baking,
    caller,
    confirmed_image,
    named_image,
    previous_deployment,
    production,
    queue_notes,
    record_bake_rollback,
    start_rollback,
    stop_bake,
)

# How long a stop with rollback is watched when no --timeout says otherwise: CodeDeploy
# reroutes at once, then terminates the replacement task set.
BAKE_WATCH_SECONDS = 900.0


def rollback(
    ctx: typer.Context,
    service: Annotated[
        str, typer.Argument(help="The service's name in the service configuration.")
    ],
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="The image to go back to: a tag, or a digest (sha256:...), in the service's "
            "ECR repository. Default: the image deployed successfully before the one "
            "production runs.",
            show_default=False,
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Roll back without asking.")] = False,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            help="Wait until it ends; exit 1 unless production then serves the image.",
        ),
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            min=1,
            help="Stop waiting after this many seconds (the rollback goes on). A stop with "
            f"rollback is watched at most {BAKE_WATCH_SECONDS:.0f} s by default.",
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
    """Put production back on the image deployed before it (or on the one --to names).

    Through a new execution of the deploy state machine, the same path as a push: blue/green,
    the test listener's checks, scaling suspended and restored. The image was approved
    before: no new approval, unless the service sets rollback_requires_approval. It is named
    <service>-<digest>-rollback<N>, supersedes an image waiting for approval, and waits for
    a deployment under way. The image before is the newest one the history shows as deployed
    successfully that production does not run, and that no later rollback left.

    During a deployment's bake (production traffic moved, the original task set not yet
    terminated) it stops that deployment with CodeDeploy's rollback instead: production goes
    back at once, and the stop is watched until CodeDeploy's rollback ends.

    The history keeps the rollback as its own row: who ran it (the caller's ARN), from and to.
    """
    account = account_for(ctx, endpoint_url, region, stack, services_file, services_parameter)
    requested_at = datetime.now(UTC)
    endpoint = account.target.endpoint_url
    with reported(endpoint):
        config = account.catalog.named(service)
        found = app_resources(account)
        machine = found.state_machine()
        table = StateTable(account.client("dynamodb"), found.table())
        # ECS and CodeDeploy where the environment runs (through its role, if it has one).
        ecs, sfn = account.target_client(config, "ecs"), account.client("stepfunctions")
        rows = table.history(config.lock_key, HISTORY_DEPTH)
        running = production(ecs, config)
        named = named_image(account.client("ecr"), config, to, rows, account.region) if to else None
        bake = baking(account.target_client(config, "codedeploy"), config)
        images = bake_images(bake, sfn, machine, ecs, config) if bake else None
    console = make_console(stderr=as_json)
    if bake is not None and (named is None or (images and named.digest == images[1].digest)):
        left, back = images or (ImageView(None, None), running)
        _confirm(
            yes,
            f"Stop deployment {bake.deployment_id} of {config.name} ({bake.status}, baking "
            f"{left.label}) with CodeDeploy's rollback, back to {back.label}?",
        )
        _roll_back_bake(
            console, account, machine, config, table, bake, left, back, requested_at, follow,
            timeout, as_json,
        )  # fmt: skip
        return
    if bake is not None:
        console.print(
            f"deployment {bake.deployment_id} bakes {images[0].label if images else 'an image'}"
            f"; its stop would not restore {named.tag if named else '?'}: a new deployment instead"
        )
    with reported(endpoint):
        target = ImageView(named.pinned, named.tag) if named else previous_deployment(rows, running)
        if target is None:
            raise OpsError(
                f"nothing to roll back to: the history of {config.name} ({config.lock_key}) "
                f"shows no successful deployment before {running.label}, which production "
                "runs; name an image with --to"
            )
        if target.digest == running.digest:
            raise OpsError(f"production runs {target.label} already: nothing to roll back")
        image = named or confirmed_image(account.client("ecr"), config, target)
        notes = queue_notes(table.service_queue(config.lock_key), target)
    approval = (
        f"asks {', '.join(config.approvers)} for approval (rollback_requires_approval)"
        if config.rollback_requires_approval
        else "no new approval"
    )
    since = (
        f", deployed {target.deployed_at} by {target.execution_name}"
        if target.execution_name
        else ""
    )
    _confirm(
        yes,
        f"Roll {config.name} back from {running.label} to {target.label}{since}, through a new "
        f"deployment (test listener checks, {approval})"
        + "".join(f"; {note}" for note in notes)
        + "?",
    )
    _roll_back_by_execution(
        console, account, machine, config, running, target, image, requested_at, follow, timeout,
        as_json,
    )  # fmt: skip


def _confirm(yes: bool, question: str) -> None:
    if yes:
        return
    # Asked on stderr only (click's own prompt ends on stdout, which --json keeps for scripts).
    typer.echo(f"{question} [y/N]: ", err=True, nl=False)
    answer = sys.stdin.readline()  # "" at end of input: no
    if not sys.stdin.isatty():
        typer.echo(err=True)  # an answer piped in is not echoed: end the question's line
    if answer.strip().lower() not in ("y", "yes"):
        fail("nothing was rolled back (not confirmed; --yes skips the question)")


def _roll_back_by_execution(
    console: Console,
    account: Account,
    machine: str,
    config: ServiceConfig,
    running: ImageView,
    target: ImageView,
    image: ImageRef,
    requested_at: datetime,
    follow: bool,
    timeout: float | None,
    as_json: bool,
) -> None:
    endpoint = account.target.endpoint_url
    with reported(endpoint):
        by = caller(account.client("sts"))
        request = RollbackRequest(
            requested_by=by,
            from_image=running.image,
            from_tag=running.tag,
            from_task_definition=running.task_definition,
        )
        sfn = account.client("stepfunctions")
        result = start_rollback(config, image, request, sfn, machine, requested_at)
    document: dict[str, Any] = {
        "service": config.name,
        "path": "execution",
        "requested_by": by,
        "from": running.to_json(),
        "to": target.to_json(),
        **result.model_dump(mode="json", include={"outcome", "execution_name", "execution_arn"}),
    }
    if result.outcome == "started":
        console.print(f"rollback: started {result.execution_name} ({result.reason}) as {by}")
    else:  # another operator's, started a moment before
        console.print(f"rollback: {result.execution_name} already exists; nothing new started")
    if not follow:
        if as_json:
            print_json(document)
        else:
            console.print(f"[dim]see it: bluegreen show {result.execution_name}[/]")
        return
    assert result.execution_arn is not None
    with reported(endpoint):
        ended = follow_to_end(console, account, result.execution_arn, config, image.tag, timeout)
        now_running = production(account.target_client(config, "ecs"), config)
    serves = now_running.digest == image.digest
    _say_production(console, now_running, target, serves)
    if as_json:
        print_json(
            {**document, **ended, "production": now_running.to_json(), "serves_target": serves}
        )
    raise typer.Exit(0 if ended["status"] == "SUCCEEDED" and serves else 1)


def _roll_back_bake(
    console: Console,
    account: Account,
    machine: str,
    config: ServiceConfig,
    table: StateTable,
    bake: Bake,
    left: ImageView,
    back: ImageView,
    requested_at: datetime,
    follow: bool,
    timeout: float | None,
    as_json: bool,
) -> None:
    endpoint = account.target.endpoint_url
    console.print(
        f"rollback: deployment {bake.deployment_id} bakes {left.label}: stopping it with "
        f"CodeDeploy's rollback (production back on {back.label} at once)"
    )
    with reported(endpoint):
        by = caller(account.client("sts"))
        codedeploy = account.target_client(config, "codedeploy")
        stopped = stop_bake(codedeploy, bake, timeout or BAKE_WATCH_SECONDS)
        row = bake_history_row(
            config, bake, stopped, by, left, back, requested_at, datetime.now(UTC)
        )
        record_bake_rollback(table, config, row, datetime.now(UTC))
    document: dict[str, Any] = {
        "service": config.name,
        "path": "stop-with-rollback",
        "requested_by": by,
        "from": left.to_json(),
        "to": back.to_json(),
        "deployment_id": bake.deployment_id,
        "stopped_execution": bake.execution_name,
        "rollback_deployment_id": stopped.rollback_deployment_id,
        "rollback_status": stopped.status,
        "outcome": row["outcome"],
        "problem": stopped.problem,
    }
    if stopped.finished:
        console.print(
            f"stopped as {by}: CodeDeploy's rollback {stopped.rollback_deployment_id} "
            f"Succeeded; production is back on {back.label}"
        )
    else:
        console.print(f"[red]not confirmed[/]: {stopped.problem}")
    if bake.execution_name:
        console.print(
            f"[dim]{bake.execution_name} cleans up after it (scaling restored, lock released): "
            f"bluegreen show {bake.execution_name}[/]"
        )
    if not follow:
        if as_json:
            print_json(document)
        raise typer.Exit(0 if stopped.finished else 1)
    with reported(endpoint):
        ended = _wait_for_execution(account, machine, bake.execution_name, timeout)
        now_running = production(account.target_client(config, "ecs"), config)
    serves = stopped.finished and now_running.digest == back.digest
    if ended:
        console.print(f"{bake.execution_name} ended {ended}")
    _say_production(console, now_running, back, serves)
    if as_json:
        print_json(
            {
                **document,
                "status": ended,
                "production": now_running.to_json(),
                "serves_target": serves,
            }
        )
    raise typer.Exit(0 if serves else 1)


def _wait_for_execution(
    account: Account, machine: str, name: str | None, timeout: float | None
) -> str | None:
    """The interrupted execution's final status, once its cleanup has run."""
    if name is None:
        return None
    sfn = account.client("stepfunctions")
    arn = execution_arn(machine, name)
    deadline = time.monotonic() + (timeout or BAKE_WATCH_SECONDS)
    while True:
        status = str(sfn.describe_execution(executionArn=arn)["status"])
        if status in TERMINAL:
            return status
        if time.monotonic() >= deadline:
            fail(f"stopped waiting for {name} to clean up; it goes on: bluegreen show {name}")
        time.sleep(1.0)


def _say_production(console: Console, now: ImageView, target: ImageView, serves: bool) -> None:
    if serves:
        console.print(f"production serves {now.label} ({now.task_definition})")
    else:
        console.print(f"[red]production serves {now.label}, not {target.label}[/]")
