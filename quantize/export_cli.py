"""`edge-export`: package a quantized model for a target platform."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from quantize.android_export import ExportError, export_android


@click.group(epilog="Example: edge-export android --model runs/q1/pruned_int8.tflite --out dist/android")
def main() -> None:
    """Package a model written by edge-quantize for an app."""


@main.command()
@click.option(
    "--model",
    required=True,
    type=click.Path(path_type=Path),
    help="Full int8 .tflite from edge-quantize (OUT/pruned_int8.tflite).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder to write; DIR.zip is written beside it. An earlier export there is replaced.",
)
def android(model: Path, out: Path) -> None:
    """Folder and .zip for an Android app: the model with standard TFLite Metadata
    (labels attached), labels.txt, model card, SHA-256, ANDROID.md with Kotlin, and a test vector."""
    try:
        summary = export_android(model, out)
    except ExportError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"Android export: {summary['folder']}  ({summary['zip']})")
    click.echo(f"Model {summary['bytes']:,} bytes, sha256 {summary['sha256']}")
    click.echo(
        f"Verified: loads with LiteRT, metadata reads back, outputs identical to {model}. "
        f"Test vector output int8 {summary['vector']['output_int8']}."
    )
