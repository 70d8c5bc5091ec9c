"""`edge-scan operators`: who may log in to the app when it listens on a network (edge-scan app --host)."""

from __future__ import annotations

import click


@click.group(name="operators")
def operators_group() -> None:
    """Operators who log in to the app when it listens on a network (edge-scan app --host)."""


@operators_group.command(name="set")
@click.argument("name")
@click.password_option("--password", prompt="Password or PIN", help="Asked for when not given.")
def set_operator(name: str, password: str) -> None:
    """Add operator NAME, or change their password or PIN (at least 4 characters)."""
    from edge_app.storage import operators

    try:
        stored = operators.set_password(name, password)
    except operators.OperatorError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"Operator {stored} can now log in.")


@operators_group.command(name="list")
def list_operators() -> None:
    """List the operators who can log in."""
    from edge_app.storage import operators

    for name in operators.names():
        click.echo(name)


@operators_group.command(name="remove")
@click.argument("name")
def remove_operator(name: str) -> None:
    """Remove operator NAME: they can no longer log in."""
    from edge_app.storage import operators

    if not operators.remove(name):
        raise click.UsageError(f"No operator named {name!r}.")
    click.echo(f"Operator {name} removed.")
