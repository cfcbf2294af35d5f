"""`make bench`: figures to compare over time, never pass/fail.

python -m bench [--runs N] [--json] [--handler NAME ...] [--no-deployment] [--root DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import coldstart, deployment


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _shown(value: float | None, spec: str) -> str:
    """A figure as the table shows it; "-" where the handler has no floor."""
    return "-" if value is None else format(value, spec)


def _ratio(ratio: float | None) -> str:
    shown = _shown(ratio, ".2f")
    missed = ratio is not None and ratio > coldstart.TARGET_RATIO
    return f"[bold red]{shown}[/]" if missed else shown


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="cold starts per handler (median)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument(
        "--handler",
        action="append",
        choices=list(coldstart.HANDLERS),
        help="measure only this handler's cold start (repeatable)",
    )
    parser.add_argument(
        "--no-deployment", action="store_true", help="skip the demo deployments on the local stack"
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=coldstart.ROOT,
        help="measure another checkout's `sam build` output (cold starts only)",
    )
    args = parser.parse_args()
    logging.disable(logging.INFO)

    console = Console(stderr=args.json)
    console.width = max(console.width, 160)  # tables stay readable when piped
    try:
        where = coldstart.layout(args.root.resolve())
        with console.status("cold starts: a fresh interpreter per sample"):
            starts = coldstart.measure(args.runs, args.handler, args.root.resolve())
    except coldstart.NotBuilt as e:
        raise SystemExit(f"bench: {e}") from e
    costs: list[deployment.DeploymentCost] = []
    if not args.no_deployment:
        with console.status("one demo deployment on the local stack"):
            costs = [deployment.measure(s) for s in ("approve", "unhealthy")]

    if args.json:
        print(
            json.dumps(
                {
                    "layout": where.describe(),
                    "target_ratio": coldstart.TARGET_RATIO,
                    "cold_starts": [
                        {
                            **asdict(s),
                            "overhead_ms": _rounded(s.overhead_ms, 1),
                            "ratio": _rounded(s.ratio, 3),
                        }
                        for s in starts
                    ],
                    "deployments": [asdict(c) for c in costs],
                },
                indent=2,
            )
        )
        return

    table = Table(
        title=f"Cold start as deployed ({where.describe()}), median of {args.runs}: import the "
        "handler, init (settings, adapters, clients), first validation of its input model; "
        f"floor: boto3 + the same clients (none: no floor); target: within "
        f"{coldstart.TARGET_RATIO}x the floor",
    )
    for column in (
        "handler",
        "clients",
        "import ms",
        "init ms",
        "validate ms",
        "total ms",
        "floor ms",
        "overhead ms",
        "x floor",
        "RSS MB",
        "floor RSS MB",
    ):
        left = column in ("handler", "clients")
        table.add_column(column, justify="left" if left else "right", no_wrap=column == "handler")
    for s in starts:
        table.add_row(
            s.handler,
            ", ".join(s.clients) or "-",
            f"{s.import_ms:.0f}",
            f"{s.init_ms:.0f}",
            f"{s.validate_ms:.1f}",
            f"{s.total_ms:.0f}",
            _shown(s.floor_ms, ".0f"),
            _shown(s.overhead_ms, "+.0f"),
            _ratio(s.ratio),
            f"{s.rss_mb:.0f}",
            _shown(s.floor_rss_mb, ".0f"),
        )
    console.print(table)
    if not costs:
        return

    cost = Table(title="One deployment of the sample (local stack)")
    for column in ("scenario", "status", "seconds", "state transitions", "Lambda invocations"):
        cost.add_column(column, justify="left" if column in ("scenario", "status") else "right")
    for c in costs:
        cost.add_row(
            c.scenario,
            c.status,
            f"{c.seconds:.1f}",
            str(c.state_transitions),
            str(c.lambda_invocations),
        )
    console.print(cost)
    for c in costs:
        per = ", ".join(
            f"{name.removeprefix('bluegreen-')}={n}"
            for name, n in sorted(c.invocations_by_function.items())
        )
        console.print(f"[dim]{c.scenario}: {per}[/]")


if __name__ == "__main__":
    main()
