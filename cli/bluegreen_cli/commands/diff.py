"""``bluegreen diff``: the task definition change a deployment of an image would make."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from bluegreen.adapters.ecs import EcsTaskDefinitions
from bluegreen.domain.image import check_tag, confirmed
from bluegreen.models import ImageRef
from rich.markup import escape

from bluegreen_cli.account import find_image
from bluegreen_cli.commands.shared import (
    EndpointOption,
    JsonOption,
    ParameterOption,
    RegionOption,
    ServicesOption,
    StackOption,
    account_for,
    make_console,
    print_json,
    reported,
)
from bluegreen_cli.taskdef_diff import deployment_diff, unified


def diff(
    ctx: typer.Context,
    service: Annotated[
        str, typer.Argument(help="The service's name in the service configuration.")
    ],
    tag: Annotated[
        str,
        typer.Option(help="Image tag in the service's ECR repository (a commit SHA or version)."),
    ],
    as_json: JsonOption = False,
    endpoint_url: EndpointOption = None,
    region: RegionOption = None,
    stack: StackOption = None,
    services_file: ServicesOption = None,
    services_parameter: ParameterOption = None,
) -> None:
    """What a deployment of an image would change in the service's task definition.

    The image must be in ECR under the tag (a mutable tag is refused, as for a push). The
    revision is rendered as the deployment's Render step renders it, over the revision
    production runs now, and compared field by field; nothing is registered or started.
    Exit status 0 whether or not anything would change.
    """
    account = account_for(ctx, endpoint_url, region, stack, services_file, services_parameter)
    with reported(account.target.endpoint_url):
        config = account.catalog.named(service)
        check_tag(config, tag)
        registry_id, found = find_image(account.client("ecr"), config.repository, tag)
        image = confirmed(
            ImageRef(
                registry_id=registry_id,
                region=account.region,
                repository=config.repository,
                tag=tag,
                digest=found.digest,
            ),
            found,
        )
        ecs = account.target_client(config, "ecs")  # where the environment runs
        current = EcsTaskDefinitions(ecs).current(config.cluster, config.service)
        changed = deployment_diff(config, image, current, datetime.now(UTC))
    if as_json:
        print_json(
            {
                "service": config.name,
                "image": {"tag": tag, "digest": image.digest, "image": image.pinned},
                "running_task_definition": changed.running,
                "family": changed.family,
                "changes": [c.to_json() for c in changed.changes],
                "registered": False,
            }
        )
        return
    console = make_console()
    if not changed.changes:
        console.print(f"no change: {changed.running} already runs {image.pinned}")
        return
    for line in unified(changed, tag):
        style = {"-": "red", "+": "green", "@": "cyan"}.get(line[:1])
        if line.startswith(("---", "+++")):
            style = "bold"
        console.print(f"[{style}]{escape(line)}[/]" if style else escape(line))
