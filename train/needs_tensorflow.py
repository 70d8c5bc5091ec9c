"""A plain message, instead of ModuleNotFoundError, when an engineer command runs on a device install.

`pip install .` (the device install) leaves TensorFlow out on purpose, but the
engineer commands are still on the PATH; edge-train and edge-quantize say how
to add what they need.
"""

from __future__ import annotations

import importlib.util

import click

TRAIN_EXTRA_INSTALL = 'pip install "pneumoscan[train]"'


class TensorFlowMissing(click.ClickException):
    """Exit 2, like a usage error: nothing was started."""

    exit_code = 2


def require_tensorflow(command: str) -> None:
    """Stop with the install command when TensorFlow cannot be imported."""
    if importlib.util.find_spec("tensorflow") is None:
        raise TensorFlowMissing(
            f"{command} needs TensorFlow, which the device install (pip install .) leaves out. "
            f"Install the engineer tools with: {TRAIN_EXTRA_INSTALL}  (from the PneumoScan source folder: "
            'pip install ".[train]")'
        )
