"""The ``bluegreen`` command."""

from __future__ import annotations

import typer

from bluegreen_cli.commands import config, demo, local, ops

app = typer.Typer(
    name="bluegreen",
    help="Approved, verified and reversible blue/green deployments of Amazon ECS services.",
    no_args_is_help=True,
)
local.app.command(name="demo")(demo.demo)
app.add_typer(local.app, name="local")
app.add_typer(config.app, name="config")
ops.register(app)  # executions, show, history, deploy, approve, reject


if __name__ == "__main__":
    app()
