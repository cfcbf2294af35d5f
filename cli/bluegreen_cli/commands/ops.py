"""Operators' commands: inspect deployments and act on them without the AWS console.

``executions``, ``show``, ``history``, ``deploy``, ``retry``, ``approve``, ``reject`` and
``recover``. Each finds the app from the CloudFormation stack's Outputs (or by name on the
local stack, see :func:`bluegreen_cli.account.resolve`), prints for people or, with
``--json``, for scripts, and ends an expected failure (an unknown service, no credentials,
an unreachable endpoint) with one line on stderr and a non-zero exit status: 2 for bad
input, 1 otherwise. What they share with ``rollback`` and ``diff`` is in
:mod:`bluegreen_cli.commands.shared`.
"""

from __future__ import annotations

import inspect
import time
import urllib.error
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import typer
from bluegreen.adapters.stepfunctions import ExecutionStatuses
from bluegreen.adapters.store import StateTable
from bluegreen.domain.recovery import MISSING
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bluegreen_cli import approval_page
from bluegreen_cli.account import (
    RETRYABLE,
    STATUSES,
    Deployments,
    ExecutionDetail,
    ExecutionSummary,
    PageOutcome,
    page_outcome,
    retry_deployment,
    running_task_definition,
    service_history,
    start_deployment,
)
from bluegreen_cli.commands.shared import (
    EndpointOption,
    EnvOption,
    FollowOption,
    FollowTimeoutOption,
    JsonOption,
    ParameterOption,
    RegionOption,
    ServicesOption,
    StackOption,
    account_for,
    app_resources,
    configured_environment,
    duration,
    environment_of,
    fail,
    follow_to_end,
    furthest,
    make_console,
    options,
    print_json,
    print_phases,
    reported,
    service_named,
    short_tag,
    shortened,
    status_markup,
    when,
)
from bluegreen_cli.reading import codedeploy_now, readable_cause, rollout_words, submitted
from bluegreen_cli.recovery import LockView, invoke_recovery, janitor_function, lock_view

# -- executions ---------------------------------------------------------------------------

Status = Enum("Status", {name: name for name in STATUSES}, type=str)  # type: ignore[misc]


def executions(
    ctx: typer.Context,
    service: Annotated[
        str | None,
        typer.Option(
            help="Only this service: its name in the service configuration (every one of its "
            "environments), or an environment's lock key (cluster/service, "
            "account:cluster/service in another account).",
            show_default=False,
        ),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            help="Only executions in this environment (e.g. dev): with --service, one of "
            "its environments.",
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
    """Recent deployment executions, newest first: of every environment an image goes
    through (a push's, then each promotion's), unless --env says which.

    For each: name, status, service and environment, tag, start, duration, the state a
    running one is in now, and the error a failed one ended with.
    """
    account = account_for(ctx, endpoint_url, region, stack, services_file, services_parameter)
    with reported(account.target.endpoint_url):
        wanted = service_named(account, service, env, every_environment=True) if service else None
        deployments = Deployments(
            account.client("stepfunctions"), app_resources(account).state_machine()
        )
        found = deployments.recent(
            status.value if status else None, wanted, limit, environment=None if wanted else env
        )
    if as_json:
        print_json([e.to_json() for e in found])
        return
    console = make_console()
    if not found:
        of = " ".join(f"{k} {v}" for k, v in (("of", service), ("in", env)) if v)
        console.print("no executions" + (f" {of}" if of else ""))
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("execution", overflow="fold", min_width=20)
    table.add_column("status", no_wrap=True, min_width=9)
    table.add_column("service", overflow="fold", min_width=7)
    table.add_column("env", overflow="fold", min_width=3)
    table.add_column("tag", overflow="fold", min_width=7)
    table.add_column("started (UTC)", no_wrap=True, min_width=19)
    table.add_column("took", no_wrap=True, justify="right")
    table.add_column("now / error", overflow="fold", min_width=12)
    for e in found:
        table.add_row(
            e.name + (f"\n[dim]retry of {e.retry_of}[/]" if e.retry_of else ""),
            status_markup(e.status),
            e.service or "-",
            e.environment or "-",
            short_tag(e.tag),
            when(e.started, zone=False),
            duration(e.duration_seconds),
            _now_or_error(e),
        )
    console.print(table)


def _now_or_error(e: ExecutionSummary) -> str:
    if e.status == "RUNNING":
        return e.state or "-"
    if e.error:
        return shortened(f"{e.error}: {e.cause}" if e.cause else e.error, 70)
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
    account = account_for(ctx, endpoint_url, region, stack)
    with reported(account.target.endpoint_url):
        deployments = Deployments(
            account.client("stepfunctions"), app_resources(account).state_machine()
        )
        detail = deployments.detail(execution)
        # CodeDeploy where the execution deployed: through its environment's role.
        codedeploy = account.target_client(environment_of(detail.document), "codedeploy")
        detail.codedeploy = codedeploy_now(codedeploy, detail.document)
    if as_json:
        print_json(detail.to_json())
        return
    _print_detail(make_console(), detail)


def _print_detail(console: Console, detail: ExecutionDetail) -> None:
    e, doc = detail.summary, detail.document
    rows: list[tuple[str, str]] = [
        ("execution", e.name),
        ("status", f"{status_markup(e.status)}" + (f" ({e.state})" if e.state else "")),
        ("started", when(e.started)),
        ("took", duration(e.duration_seconds) + (" so far" if e.status == "RUNNING" else "")),
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
            ("requested", f"{when(doc.get('requested_at'))} (by {doc.get('source', '?')})"),
        ]
        if doc.get("retry_of"):
            rows.append(("retry of", str(doc["retry_of"])))
        if doc.get("promoted_from"):
            rows.append(("promoted from", str(doc["promoted_from"])))
        rows += _document_rows(detail)
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    if detail.phases:
        print_phases(console, detail.phases)


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
        at = f" at {when(decision.at)}" if decision.at else ""
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
    if rollout := doc.get("rollout"):
        rows.append(("rollout", escape(rollout_words(rollout))))
    if checks := detail.checks:
        rows.append(("test listener", escape(checks.words())))
    if rollback := doc.get("rollback"):
        rows.append(("rollback", escape(_rollback_words(rollback))))
    if promotion := doc.get("promotion"):
        rows.append(("promotion", escape(str(promotion.get("detail")))))
    shown = {e.error}  # the execution's own error is the document's failure, once
    for key, label in (
        ("failure", "failure"),
        ("error", "step error"),
        ("cleanup_error", "CLEANUP FAILED"),
        ("notification_error", "not announced"),
        ("promotion_error", "NOT PROMOTED"),
    ):
        if problem := doc.get(key):
            name = problem.get("error") or problem.get("Error")
            cause = readable_cause(problem.get("cause") or problem.get("Cause"))
            if key in ("failure", "error") and name in shown:
                continue
            shown.add(name)
            rows.append((label, escape(shortened(f"{name}: {cause}" if cause else str(name), 300))))
    return rows


def _rollback_words(rollback: dict[str, Any]) -> str:
    """What Rollback did, and when blue served again (the deployment row says CodeDeploy's
    statuses)."""
    asked = when(rollback.get("rolled_back_at"))
    if rollback.get("release_live") or not rollback.get("deployment_stopped"):
        return f"{rollback.get('detail')} ({asked})"
    said = f"{rollback.get('deployment_id')} stopped with rollback at {asked}"
    if rollback.get("finished"):
        return said + f"; blue served again at {when(rollback.get('finished_at'))}"
    return said + f"; rollback {rollback.get('status') or 'under way'}"


# -- history ------------------------------------------------------------------------------


def history(
    ctx: typer.Context,
    service: Annotated[
        str,
        typer.Argument(
            help="The service: its name in the service configuration, or an environment's "
            "lock key (cluster/service, account:cluster/service in another account)."
        ),
    ],
    env: EnvOption = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 20,
    as_json: JsonOption = False,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
    stack: StackOption = None,
    services_file: ServicesOption = None,
    services_parameter: ParameterOption = None,
) -> None:
    """What was deployed to a service in one environment and how it ended, newest first,
    and the pushes that were refused and why.

    The environment is the service's last (production) unless --env names another (or the
    service is named by an environment's lock key). A push is refused where it would have
    deployed: in the first environment (e.g. --env dev); a later one receives only promotions.

    Answers "which commit runs in prod?": the entry whose task definition ECS serves now is
    marked as running. Each entry says its environment, who approved or rejected it (and
    why), CodeDeploy's final status (asked of CodeDeploy: stopped, rolled back), and whose
    retry it is; a superseded, outdated or refused image says by what or why.
    """
    account = account_for(ctx, endpoint_url, region, stack, services_file, services_parameter)
    with reported(account.target.endpoint_url):
        ref = service_named(account, service, env)
        table_name = app_resources(account).table()
        where = configured_environment(account, ref)  # ECS and CodeDeploy are asked there
        # Another account's service only its configured role reaches: not asked without one.
        reachable = where is not None or not ref.elsewhere
        try:
            running = (
                running_task_definition(
                    account.target_client(where, "ecs"), ref.cluster, ref.service
                )
                if reachable
                else None
            )
        except (BotoCoreError, ClientError):
            running = None  # the history still answers; "running" stays unmarked
        rows = service_history(
            account.client("dynamodb"),
            table_name,
            ref,
            limit,
            running,
            account.target_client(where, "codedeploy") if reachable else None,
        )
    if as_json:
        print_json({"service": ref.key, "running_task_definition": running, "deployments": rows})
        return
    console = make_console()
    live = next((r for r in rows if r.get("running")), None)
    if live:
        console.print(
            f"[bold]{ref.key} runs {live.get('tag')}[/] ({live.get('task_definition')}), "
            f"deployed {when(live.get('finished_at'))} by {live.get('execution_name')}"
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
            when(r.get("finished_at"), zone=False),
            str(r.get("environment") or "-"),
            short_tag(r.get("tag") or shortened(r.get("digest"), 19)),
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
            return words + (f": {escape(shortened(reason, 120))}" if reason else "")
    elif error and outcome not in ("superseded", "refused"):
        words += f" ({escape(str(error))})"
    # Why an image was not deployed; a rollback's why is in `show` (its checks, its error).
    reason = row.get("reason")
    timed_out = error in ("States.Timeout", "ApprovalTimedOut")
    if reason and outcome in ("not_deployed", "superseded", "refused") and not timed_out:
        said = shortened(reason, 120)
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
    follow: FollowOption = False,
    timeout: FollowTimeoutOption = None,
    as_json: JsonOption = False,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
    stack: StackOption = None,
    services_file: ServicesOption = None,
    services_parameter: ParameterOption = None,
) -> None:
    """Start the deployment of an image already in ECR, as a push would have: in the
    service's first environment (the next ones receive it by promotion).

    The tag is looked up in ECR and the image pinned by its digest. Mutable tags (latest,
    main, ...) are refused like the trigger refuses them. The execution gets the same name
    a push would give it (the service and the digest, whatever the tag), so deploying an
    image whose deployment exists starts nothing and says duplicate, and how far the image
    went; `bluegreen retry` deploys it again on purpose where it was not deployed.

    --follow follows it to its end, then on through the environments its success promotes
    the image to (production asks its approvers first), until one ends without promoting
    it further. Exit status with --follow: 0 when the last one followed deployed, 1
    otherwise.
    """
    account = account_for(ctx, endpoint_url, region, stack, services_file, services_parameter)
    with reported(account.target.endpoint_url):
        config = account.catalog.pipeline(service)[0]  # where a push deploys
        sfn = account.client("stepfunctions")
        result = start_deployment(
            config,
            tag,
            account.client("ecr"),
            sfn,
            app_resources(account).state_machine(),
            account.region,
            datetime.now(UTC),
        )
        existing, reached = None, None
        if result.outcome == "duplicate" and result.execution_arn:
            existing = sfn.describe_execution(executionArn=result.execution_arn)["status"]
            # Where the image got to: the environments its success promoted it to.
            reached = furthest(sfn, app_resources(account).state_machine(), result.execution_arn)
    document: dict[str, Any] = {**result.model_dump(mode="json"), "status": existing or "RUNNING"}
    console = make_console(stderr=as_json)
    if result.outcome == "started":
        console.print(f"started {result.execution_name} ({result.reason})")
    else:
        console.print(
            f"duplicate: {result.execution_name} already exists ({existing}); "
            "nothing new was started" + ("; following it" if follow else "")
        )
        name, status = reached or (result.execution_name, existing)
        if name != result.execution_name:
            console.print(f"[dim]it went on to {name} ({status})[/]")
        if status in RETRYABLE and not follow:
            console.print(f"[dim]to deploy this image again: bluegreen retry {name}[/]")
    if not follow:
        if as_json:
            print_json(document)
        else:
            console.print(f"[dim]see it: bluegreen show {result.execution_name}[/]")
        return
    assert result.execution_arn is not None
    with reported(account.target.endpoint_url):
        ended = follow_to_end(console, account, result.execution_arn, config, tag, timeout)
    if as_json:
        print_json({**document, **ended})
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
    follow: FollowOption = False,
    timeout: FollowTimeoutOption = None,
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
    account = account_for(ctx, endpoint_url, region, stack, services_file, services_parameter)
    with reported(account.target.endpoint_url):
        sfn = account.client("stepfunctions")
        service, result = retry_deployment(
            execution,
            account.catalog,
            account.client("ecr"),
            sfn,
            app_resources(account).state_machine(),
            datetime.now(UTC),
        )
    console = make_console(stderr=as_json)
    if result.outcome == "started":
        console.print(f"started {result.execution_name} ({result.reason})")
    else:  # another operator's retry, started a moment before
        console.print(f"duplicate: {result.execution_name} already exists; nothing new started")
    document: dict[str, Any] = {**result.model_dump(mode="json"), "status": "RUNNING"}
    if not follow:
        if as_json:
            print_json(document)
        else:
            console.print(f"[dim]see it: bluegreen show {result.execution_name}[/]")
        return
    assert result.execution_arn is not None
    with reported(account.target.endpoint_url):
        ended = follow_to_end(console, account, result.execution_arn, service, None, timeout)
    if as_json:
        print_json({**document, **ended})
    raise typer.Exit(0 if ended["status"] == "SUCCEEDED" else 1)


# -- approve / reject ---------------------------------------------------------------------


_DONE = {"approve": "approved", "reject": "rejected"}


def _decide(link: str, decision: Literal["approve", "reject"], as_json: bool) -> None:
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or "/approvals/" not in parts.path:
        fail("not an approval link: expected https://<host>/approvals/<id>?...", 2)
    where = f"{parts.scheme}://{parts.netloc}"
    started = time.monotonic()
    try:
        answer = approval_page.decide(link, decision)
    except urllib.error.URLError as e:
        fail(f"cannot reach {where}: {e.reason}")
    except (OSError, ValueError) as e:
        fail(f"cannot reach {where}: {e}")
    outcome: PageOutcome = page_outcome(answer.status, answer.body)
    if as_json:
        print_json({**outcome.to_json(), "seconds": round(time.monotonic() - started, 2)})
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
            help="The service: its name in the service configuration, or the lock key of one "
            "of its environments (cluster/service, account:cluster/service in another account)."
        ),
    ],
    env: EnvOption = None,
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

    Each environment of a service has its own lock: its last environment's (production)
    unless --env names another, or the service is named by the lock's key.
    """
    account = account_for(ctx, endpoint_url, region, stack, services_file, services_parameter)
    with reported(account.target.endpoint_url):
        key = service_named(account, service, env).key
        found = app_resources(account)
        table = StateTable(account.client("dynamodb"), found.table())
        owners = ExecutionStatuses(account.client("stepfunctions"), found.state_machine())
        before = lock_view(table, owners, key)
    console = make_console(stderr=as_json)
    document: dict[str, Any] = {"service": key, "lock": before.to_json(), "report": None}
    _print_lock(console, before)
    if not before.held_by_ended_owner:
        if as_json:
            print_json({**document, "after": before.to_json()})
        return
    if not yes and not typer.confirm(
        f"Recover {key}: roll back what {before.owner} left, restore the scaling it saved, "
        "release the lock?",
        err=True,
    ):
        console.print("nothing was done")
        if as_json:
            print_json({**document, "after": before.to_json()})
        raise typer.Exit(1)
    with reported(account.target.endpoint_url):
        janitor = janitor_function(account.target.stack)
        report = invoke_recovery(account.client("lambda"), janitor, key)
        after = lock_view(table, owners, key)
    console.print(f"janitor: {report.get('outcome')}")
    for action in report.get("actions") or []:
        console.print(f"  {action}")
    if after.held_by_ended_owner:
        console.print(f"[red]{key} is still locked by {after.owner} ({after.owner_status})[/]")
    if as_json:
        print_json({**document, "report": report, "after": after.to_json()})
    raise typer.Exit(1 if after.held_by_ended_owner else 0)


def _print_lock(console: Console, view: LockView) -> None:
    if not view.held:
        console.print(f"{view.key} is not locked: nothing to recover")
        return
    console.print(f"{view.key} is locked by {view.owner} since {when(view.since)}")
    if view.owner_running:
        console.print(
            f"  its owner is {view.owner_status}: the lock is its own, nothing to recover"
        )
    elif view.owner_status == MISSING:
        console.print("  its owner is unknown to Step Functions")
    else:
        console.print(f"  its owner ended {view.owner_status} at {when(view.ended)}")
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
            f"  scaling saved at {when(snap.get('suspended_at'))}: "
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
