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


def timings_summary(t: Timings) -> str:
    """The timings in one line: what waits how long, and how often it looks."""
    return (
        f"approval {_duration(t.approval_timeout_seconds)}; "
        f"deployment polled every {_duration(t.deployment_poll_seconds)} "
        f"(at most {t.deployment_max_polls}); "
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

    Prints each service with its repository, ECS cluster/service, approvers and timings,
    and the size of the document against SSM's limits (4 KB Standard, 8 KB Advanced). An
    invalid file exits with status 2 and every problem, each named by the path of its field
    (services.checkout.timings.probe_interval_seconds: ...).
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
        typer.echo(json.dumps(document, indent=2))
        raise typer.Exit(2 if problems else 0)

    if problems:
        typer.echo(f"{file}: invalid", err=True)
        for problem in problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(2)
    assert catalog is not None
    _print(file, catalog, size)


def _print(file: Path, catalog: ServiceCatalog, size: int) -> None:
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = max(console.width, 200)  # piped: whole lines beat a terminal's fit
    table = Table(box=None, pad_edge=False)
    for column in ("service", "repository", "cluster/service", "approvers", "timings"):
        table.add_column(column, overflow="fold")
    for service in catalog.services:
        table.add_row(
            service.name,
            service.repository,
            service.lock_key,
            ", ".join(service.approvers),
            timings_summary(service.timings),
        )
    count = len(catalog.services)
    console.print(f"{file}: valid, {count} service{'s' if count != 1 else ''}")
    if count:
        console.print(table)
    console.print(
        f"{size} bytes: fits an SSM parameter of the {tier(size)} tier"
        + (f" (over {STANDARD_TIER_BYTES} bytes)" if tier(size) == "Advanced" else "")
    )
