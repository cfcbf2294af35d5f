"""``bluegreen promote``: the image an environment runs goes on to the next one, by hand."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from bluegreen.adapters.ecr import EcrImages
from bluegreen.adapters.stepfunctions import Executions
from bluegreen.adapters.store import StateTable
from bluegreen.domain.approval import lasting
from bluegreen.domain.image import check_tag, confirmed
from bluegreen.domain.promotion import EnvironmentRun, promotable, source_of
from bluegreen.steps import trigger

from bluegreen_cli.account import find_image
from bluegreen_cli.commands.shared import (
    EndpointOption,
    FollowOption,
    FollowTimeoutOption,
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
    when,
)

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def promote(
    ctx: typer.Context,
    service: Annotated[
        str, typer.Argument(help="The service's name in the service configuration.")
    ],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="The environment to promote to; the image comes from the one before it in "
            "the service's pipeline.",
            show_default=False,
        ),
    ],
    tag: Annotated[
        str | None,
        typer.Option(
            help="Promote only if the environment before runs the image of this tag "
            "(a commit SHA or version).",
            show_default=False,
        ),
    ] = None,
    digest: Annotated[
        str | None,
        typer.Option(
            help="Promote only if the environment before runs this digest (sha256:...).",
            show_default=False,
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Promote without asking.")] = False,
    follow: FollowOption = False,
    timeout: FollowTimeoutOption = None,
    as_json: JsonOption = False,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
    stack: StackOption = None,
    services_file: ServicesOption = None,
    services_parameter: ParameterOption = None,
) -> None:
    """Deploy to an environment the very image the environment before it runs.

    A service's environments run in order (its pipeline, e.g. dev then prod). When an
    environment succeeds, the next one receives the same digest: at once when it is
    configured promotion = "automatic", or with this command when it is "manual" (or when
    an automatic promotion could not start).

    The image is the one the environment before --to runs, by the app's record of its last
    successful deployment; --tag or --digest make sure it is the one you mean. It must still
    be in ECR. The deployment is like any other: it asks the environment's approvers (their
    request says since when the environment before runs the image), waits for a deployment
    under way, and a newer image waiting there supersedes it. It is named
    <service>-<env>-<digest>, as an automatic promotion would name it: promoting an image
    whose promotion exists starts nothing and says duplicate.

    Refused (exit status 2): an unknown service or environment, the first environment
    (a push deploys it), an environment before it that runs no image of ours or another
    one than --tag/--digest name. Exit status with --follow: 0 when it deployed, 1 otherwise.
    """
    if tag is not None and digest is not None:
        fail("give --tag or --digest, not both", 2)
    if digest is not None and not _DIGEST.fullmatch(digest):
        fail(f"--digest {digest!r} is not an image digest (sha256: and 64 hex digits)", 2)
    account = account_for(ctx, endpoint_url, region, stack, services_file, services_parameter)
    endpoint = account.target.endpoint_url
    with reported(endpoint):
        target = account.catalog.named(service, to)
        source = source_of(account.catalog.pipeline(service), to)
        if tag is not None:
            check_tag(target, tag)
            digest = find_image(account.client("ecr"), target.repository, tag)[1].digest
        found = app_resources(account)
        table = StateTable(account.client("dynamodb"), found.table())
        runs = {run.environment: run for run in table.runs(target.name)}
        run = promotable(runs.get(source.environment), source, to, digest)
        held = EcrImages(account.client("ecr")).by_digest(
            run.image.registry_id, run.image.repository, run.image.digest
        )
        image = confirmed(run.image, held)
    now = datetime.now(UTC)
    asks = f"asks {', '.join(target.approvers)}" if target.approvers else "no approval configured"
    _confirm(
        yes,
        f"Promote {target.name} {run.label} from {source.environment} (runs it {_since(run, now)}) "
        f"to {to} ({target.cluster}/{target.service}, {asks})?",
    )
    with reported(endpoint):
        sfn = account.client("stepfunctions")
        result = trigger.start(
            target,
            image,
            "promotion",
            Executions(sfn, found.state_machine()),
            now,
            provenance=run.provenance,
            promoted_from=source.environment,
            pushed_by=run.pushed_by,
        )
        status = "RUNNING"
        if result.outcome == "duplicate" and result.execution_arn:
            status = str(sfn.describe_execution(executionArn=result.execution_arn)["status"])
    document: dict[str, Any] = {
        "service": target.name,
        "from": {"environment": source.environment, "since": run.since.isoformat()},
        "to": to,
        "image": image.model_dump(mode="json", exclude_none=True),
        **result.model_dump(mode="json", include={"outcome", "execution_name", "execution_arn"}),
        "status": status,
    }
    console = make_console(stderr=as_json)
    if result.outcome == "started":
        console.print(f"started {result.execution_name} ({result.reason})")
    else:
        console.print(
            f"duplicate: {result.execution_name} already exists ({status}); nothing new was "
            "started" + ("; following it" if follow else "")
        )
    if not follow:
        if as_json:
            print_json(document)
        else:
            console.print(f"[dim]see it: bluegreen show {result.execution_name}[/]")
        return
    assert result.execution_arn is not None
    with reported(endpoint):
        ended = follow_to_end(console, account, result.execution_arn, target, image.tag, timeout)
    if as_json:
        print_json({**document, **ended})
    raise typer.Exit(0 if ended["status"] == "SUCCEEDED" else 1)


def _since(run: EnvironmentRun, now: datetime) -> str:
    return f"since {when(run.since)}, {lasting(now - run.since)}"


def _confirm(yes: bool, question: str) -> None:
    if yes:
        return
    # Asked on stderr only: --json keeps stdout for scripts.
    typer.echo(f"{question} [y/N]: ", err=True, nl=False)
    answer = sys.stdin.readline()  # "" at end of input: no
    if not sys.stdin.isatty():
        typer.echo(err=True)  # an answer piped in is not echoed: end the question's line
    if answer.strip().lower() not in ("y", "yes"):
        fail("nothing was promoted (not confirmed; --yes skips the question)")
