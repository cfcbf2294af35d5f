"""``bluegreen config ...``: the service configuration, checked before it is put in place."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer
from bluegreen.config import ServiceCatalog
from bluegreen.errors import ConfigurationInvalid
from bluegreen.models import ServiceConfig, Timings
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    name="config",
    help="The service configuration (which ECR repository deploys to which ECS service).",
    no_args_is_help=True,
)

# SSM Parameter Store's limits on a parameter's value, by tier.
STANDARD_TIER_BYTES = 4096
ADVANCED_TIER_BYTES = 8192


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds // 3600:g}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds // 60:g}m"
    return f"{seconds:g}s"


def timings_summary(t: Timings, method: str = "codedeploy-bluegreen") -> str:
    """The timings in one line: what waits how long, and how often it looks (a rolling
    deployment has no test listener to probe)."""
    waits = (
        f"approval {_duration(t.approval_timeout_seconds)}; "
        f"deployment polled every {_duration(t.deployment_poll_seconds)} "
        f"(at most {t.deployment_max_polls})"
    )
    if method == "rolling":
        return waits
    return (
        f"{waits}; "
        f"probe every {_duration(t.probe_interval_seconds)}, "
        f"{t.probe_required_passes} passes in a row of at most {t.probe_max_attempts}, "
        f"each within {_duration(t.probe_request_timeout_seconds)}"
    )


def _compact_json_bytes(text: str) -> int | None:
    """The size of the same document as compact JSON (SSM accepts either form)."""
    try:
        document: Any = json.loads(text) if text.lstrip().startswith("{") else tomllib.loads(text)
    except ValueError:
        return None
    return len(json.dumps(document, separators=(",", ":"), default=str).encode())


def size_problem(size: int, compact: int | None) -> str | None:
    if size <= ADVANCED_TIER_BYTES:
        return None
    if compact is not None and compact <= ADVANCED_TIER_BYTES:
        return (
            f"{size} bytes: over SSM's {ADVANCED_TIER_BYTES}-byte limit (Advanced tier); the "
            f"same document as compact JSON is {compact} bytes and fits"
        )
    return f"{size} bytes: over SSM's {ADVANCED_TIER_BYTES}-byte limit (Advanced tier)"


def tier(size: int) -> str:
    return "Standard" if size <= STANDARD_TIER_BYTES else "Advanced"


def _service_json(service: ServiceConfig) -> dict[str, Any]:
    return service.model_dump(mode="json")


@app.command()
def check(
    file: Annotated[
        Path,
        typer.Argument(help="A configuration file, TOML or JSON.", dir_okay=False),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
) -> None:
    """Validate a service configuration file, offline, before it is put in the SSM parameter.

    Prints each service's pipeline (its repository, then its environments in order) and,
    for each environment, where it deploys (cluster/service, and the account and region when
    not the app's own), how (rolling or CodeDeploy blue/green), who approves, and timings;
    then the size of the document against SSM's limits (4 KB Standard, 8 KB Advanced). An
    invalid file exits with status 2 and every problem, each named by the path of its field
    (services.checkout.environments.prod.timings.probe_interval_seconds: ...).
    """
    problems: list[str] = []
    catalog: ServiceCatalog | None = None
    size = 0
    try:
        catalog = ServiceCatalog.load(file)
    except ConfigurationInvalid as e:
        problems = e.problems or [str(e)]
    if catalog is not None:
        text = file.read_text(encoding="utf-8")
        size = len(text.encode())
        too_large = size_problem(size, _compact_json_bytes(text))
        problems = [too_large] if too_large else []

    if as_json:
        document: dict[str, Any] = {"file": str(file), "valid": not problems}
        if problems:
            document["problems"] = problems
        else:
            assert catalog is not None
            document["bytes"] = size
            document["ssm_tier"] = tier(size)
            document["services"] = [_service_json(s) for s in catalog.services]
            document["pipelines"] = {
                name: [s.environment for s in catalog.pipeline(name)]
                for name in dict.fromkeys(s.name for s in catalog.services)
            }
        typer.echo(json.dumps(document, indent=2))
        raise typer.Exit(2 if problems else 0)

    if problems:
        typer.echo(f"{file}: invalid", err=True)
        for problem in problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(2)
    assert catalog is not None
    _print(file, catalog, size)


def where(service: ServiceConfig) -> str:
    """Where an environment deploys: its cluster/service, in its account and region if not ours."""
    place = f"{service.cluster}/{service.service}"
    elsewhere = " ".join(part for part in (service.account, service.region) if part)
    return f"{place} ({elsewhere})" if elsewhere else place


def approval_summary(service: ServiceConfig) -> str:
    """Who is asked, and how an image gets here when it is not the first environment."""
    asked = ", ".join(service.approvers) or "no approval"
    if service.pipeline and service.pipeline[0] != service.environment:
        arrival = (
            "promoted automatically" if service.promotion == "automatic" else "promoted by hand"
        )
        return f"{asked}; {arrival}"
    return asked


def _print(file: Path, catalog: ServiceCatalog, size: int) -> None:
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = max(console.width, 200)  # piped: whole lines beat a terminal's fit
    names = list(dict.fromkeys(s.name for s in catalog.services))
    console.print(f"{file}: valid, {len(names)} service{'s' if len(names) != 1 else ''}")
    for name in names:
        stages = catalog.pipeline(name)
        pipeline = " -> ".join(s.environment for s in stages)
        console.print(f"\n{name}: {stages[0].repository} -> {pipeline}")
        table = Table(box=None, pad_edge=False)
        for column in ("environment", "cluster/service", "method", "approval", "timings"):
            table.add_column(column, overflow="fold")
        for service in stages:
            table.add_row(
                service.environment,
                where(service),
                service.method,
                approval_summary(service),
                timings_summary(service.timings, service.method),
            )
        console.print(table)
    console.print(
        f"\n{size} bytes: fits an SSM parameter of the {tier(size)} tier"
        + (f" (over {STANDARD_TIER_BYTES} bytes)" if tier(size) == "Advanced" else "")
    )
