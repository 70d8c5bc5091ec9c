"""`edge-scan operators`: who may log in to the app when it listens on a network (edge-scan app --host)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

import click


@contextmanager
def _operators() -> Iterator[ModuleType]:
    """The operators store, its refusals (a bad name or password, a damaged or unreadable file) as exit 2."""
    from edge_app.storage import operators

    try:
        yield operators
    except operators.OperatorError as exc:
        raise click.UsageError(str(exc)) from exc


@click.group(name="operators")
def operators_group() -> None:
    """Operators who log in to the app when it listens on a network (edge-scan app --host)."""


@operators_group.command(name="set")
@click.argument("name")
@click.password_option("--password", prompt="Password or PIN", help="Asked for when not given.")
def set_operator(name: str, password: str) -> None:
    """Add operator NAME, or change their password or PIN (at least 4 characters)."""
    with _operators() as operators:
        stored = operators.set_password(name, password)
    click.echo(f"Operator {stored} can now log in.")


@operators_group.command(name="list")
def list_operators() -> None:
    """List the operators who can log in."""
    with _operators() as operators:
        names = operators.names()
    for name in names:
        click.echo(name)


@operators_group.command(name="remove")
@click.argument("name")
def remove_operator(name: str) -> None:
    """Remove operator NAME: they can no longer log in."""
    with _operators() as operators:
        removed = operators.remove(name)
    if not removed:
        raise click.UsageError(f"No operator named {name!r}.")
    click.echo(f"Operator {name} removed.")
