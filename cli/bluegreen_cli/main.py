"""The ``bluegreen`` command."""

from __future__ import annotations

import typer

from bluegreen_cli.commands import config, demo, diff, local, ops, promote, rollback

app = typer.Typer(
    name="bluegreen",
    help="Approved, verified and reversible blue/green deployments of Amazon ECS services.",
    no_args_is_help=True,
)
local.app.command(name="demo")(demo.demo)
app.add_typer(local.app, name="local")
app.add_typer(config.app, name="config")
ops.register(app)  # executions, show, history, deploy, approve, reject
for command, example in (
    (rollback.rollback, "bluegreen rollback demo-web --yes --follow"),
    (diff.diff, "bluegreen diff demo-web --tag 3f2a9c1"),
    (promote.promote, "bluegreen promote demo-web --to prod --tag 3f2a9c1 --follow"),
):
    app.command(help=ops._help(command.__doc__), epilog=f"Example: {example}")(command)


if __name__ == "__main__":
    app()
