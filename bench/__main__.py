"""`make bench`: figures to compare over time, never pass/fail.

python -m bench [--runs N] [--json] [--handler NAME ...] [--no-deployment] [--root DIR]
python -m bench --scale SERVICESxPUSHES [--json] [--timeout S] [--push-gap S]
                [--function-log FILE] [--function-workers N]   (`make bench-scale`)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import coldstart, deployment, scale


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _shown(value: float | None, spec: str) -> str:
    """A figure as the table shows it; "-" where the handler has no floor."""
    return "-" if value is None else format(value, spec)


def _ratio(ratio: float | None) -> str:
    shown = _shown(ratio, ".2f")
    missed = ratio is not None and ratio > coldstart.TARGET_RATIO
    return f"[bold red]{shown}[/]" if missed else shown


def _scale(text: str) -> scale.Scale:
    try:
        return scale.Scale.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _at_scale(args: argparse.Namespace) -> None:
    from bluegreen_cli.commands.local import configure_logging

    # As `bluegreen local serve --log-level WARNING` logs: a failed state in one line.
    configure_logging("WARNING")
    console = Console(stderr=args.json)
    console.width = max(console.width, 120)
    result = scale.run(
        args.scale,
        timeout=args.timeout,
        push_gap=args.push_gap,
        function_log=args.function_log,
        function_workers=args.function_workers,
        progress=sys.stderr,
    )
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return
    console.print(_scale_table(result))
    console.print(_functions_table(result))
    for problem in [*result.failed_pushes, *result.approval_errors]:
        console.print(f"[red]{problem}[/]")


def _scale_table(r: scale.ScaleResult) -> Table:
    table = Table(
        title=f"At scale: {r.scale} (services x pushes), every approval approved"
        + ("" if r.finished else " [bold red](deadline reached)[/]")
    )
    table.add_column("figure")
    table.add_column("value", justify="right")

    def safety(count: int) -> str:
        return f"[bold red]{count}[/]" if count else "0"

    rows = [
        ("wall time (first push to the end), s", f"{r.wall_seconds:.1f}"),
        ("stack start with the services, s", f"{r.stack_start_seconds:.1f}"),
        ("executions started", str(r.executions_started)),
        ("executions by what started them", _counts(r.executions_by_source)),
        ("executions by environment", _counts(r.executions_by_environment)),
        ("executions by end", _counts(r.executions_by_status)),
        ("deployments to production (succeeded)", str(r.deployments_done)),
        ("deployments by environment (succeeded)", _counts(r.deployments_by_environment)),
        ("CodeDeploy deployments by status", _counts(r.deployments_by_status)),
        ("rollbacks (CodeDeploy's, ECS circuit breaker's)", str(r.rollbacks)),
        ("double deployments", safety(r.double_deployments)),
        (
            f"older over newer (backwards {r.backwards}, stale {r.stale})",
            safety(r.older_over_newer),
        ),
        ("locks left held", safety(r.locks_held)),
        (
            "approvals: accepted / refused / no form",
            f"{r.approvals_accepted} / {r.approvals_refused} / {r.approvals_closed}",
        ),
        (
            "Lambda invocations (errors, cold starts)",
            f"{r.lambda_invocations} ({r.lambda_errors}, {r.cold_starts})",
        ),
        ("state transitions", str(r.state_transitions)),
        (
            "CPU s: local stack process / function workers",
            f"{r.cpu_seconds_stack:.0f} / {r.cpu_seconds_functions:.0f}",
        ),
        (
            "peak RSS: this process / with workers, MB",
            f"{r.peak_rss_mb:.0f} / {r.peak_total_rss_mb:.0f}",
        ),
        ("peak worker processes", str(r.peak_workers)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _functions_table(r: scale.ScaleResult) -> Table:
    table = Table(
        title="Where the functions' time went (busiest first; an invocation's time includes "
        "its wait for a free execution environment)"
    )
    for column in ("function", "invocations", "total s", "mean ms", "cold starts", "init s"):
        table.add_column(column, justify="left" if column == "function" else "right")
    ranked = sorted(r.functions.items(), key=lambda item: -item[1]["total_s"])
    for name, f in ranked:
        table.add_row(
            name,
            f"{f['invocations']:.0f}",
            f"{f['total_s']:.1f}",
            f"{f['mean_ms']:.0f}",
            f"{f['cold_starts']:.0f}",
            f"{f['init_s']:.1f}",
        )
    return table


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items()) or "-"


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
        "--no-deployment", action="store_true", help="skip the demo pushes on the local stack"
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=coldstart.ROOT,
        help="measure another checkout's `sam build` output (cold starts only)",
    )
    parser.add_argument(
        "--scale",
        type=_scale,
        metavar="SERVICESxPUSHES",
        help="instead: N sample services, P images pushed to each at once, all approved "
        "(e.g. 20x3); prints the safety counts",
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="--scale: seconds to wait for the end"
    )
    parser.add_argument(
        "--push-gap",
        type=float,
        default=0.0,
        help="--scale: seconds between a service's pushes (0: all at once)",
    )
    parser.add_argument(
        "--function-log", type=Path, help="--scale: append the functions' own output here"
    )
    parser.add_argument(
        "--function-workers",
        type=int,
        help="--scale: execution environments per function (default: the local runtime's)",
    )
    args = parser.parse_args()
    logging.disable(logging.INFO)
    if args.scale is not None:
        _at_scale(args)
        return

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
        with console.status("one demo push through dev and prod on the local stack"):
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

    cost = Table(title="One push of the sample through dev and prod (local stack)")
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
