"""The option dataclasses behind the lab commands: their defaults are the Click defaults, and reports record them.

Each command's settings are one dataclass (TrainConfig, GateTrainConfig,
QuantizeConfig, BenchConfig). Click options read their default from that dataclass, so a
default is written once and `--help` cannot drift from what the plain
function does when called from Python.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab.portable_paths import portable_path


def config_dict(config: Any) -> dict:
    """The dataclass as JSON-ready values (paths as text relative to the repository), for the report files."""
    return {k: portable_path(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(config).items()}


def default_of(config_class: type, name: str) -> Any:
    """The default of field `name` of a dataclass; a field without a default is a programming error."""
    for field in dataclasses.fields(config_class):
        if field.name == name:
            if field.default is not dataclasses.MISSING:
                return field.default
            if field.default_factory is not dataclasses.MISSING:
                return field.default_factory()
            raise TypeError(f"{config_class.__name__}.{name} has no default.")
    raise TypeError(f"{config_class.__name__} has no field {name!r}.")


def config_option(config_class: type, name: str, *param_decls: str, **attrs: Any):
    """A Click option for field `name` of `config_class`, whose default (shown in --help) is the field's."""
    import click

    decls = param_decls or ("--" + name.replace("_", "-"),)
    return click.option(*decls, default=default_of(config_class, name), show_default=True, **attrs)


def path_option(*param_decls: str, help: str, required: bool = False, **path_checks: Any):
    """A Click option naming a file or folder, handed to the command as a pathlib.Path."""
    import click

    return click.option(*param_decls, required=required, type=click.Path(path_type=Path, **path_checks), help=help)


def run_or_exit(run: Callable[[Any], dict], config: Any, errors: tuple[type[Exception], ...]) -> dict:
    """`run(config)`; an input error it names is printed as `Error: ...` and ends the command with exit 1."""
    import click

    try:
        return run(config)
    except errors as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
