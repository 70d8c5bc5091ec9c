"""`edge-export`: package a quantized model for a target platform."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lab.config import path_option
from quantize.android_export import ExportError, export_android


@click.group(epilog="Example: edge-export android --model runs/q1/pruned_int8.tflite --out dist/android")
def main() -> None:
    """Package PneumoScan for devices: Android exports, signing keys, signed model updates (.pnsm)
    and offline install bundles."""


@main.command()
@path_option("--model", required=True, help="Full int8 .tflite from edge-quantize (OUT/pruned_int8.tflite).")
@path_option(
    "--out", required=True, help="Folder to write; DIR.zip is written beside it. An earlier export there is replaced."
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


@main.command()
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for pneumoscan.key (private, mode 0600) and pneumoscan.pub. Existing keys are never overwritten.",
)
def keygen(out: Path) -> None:
    """Make an Ed25519 key pair for signing model packages.

    Keep pneumoscan.key offline (an encrypted USB stick in a safe); give devices pneumoscan.pub."""
    from quantize.signed_package import PackageError, generate_keypair

    try:
        private_path, public_path, identifier = generate_keypair(out)
    except (PackageError, OSError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"Private key: {private_path} (keep offline; never copy it to a device)")
    click.echo(f"Public key:  {public_path}  key id {identifier}")
    click.echo(f"On each device: edge-scan model trust {public_path.name}")


@main.command(name="model-package")
@click.option("--model", required=True, type=click.Path(path_type=Path, dir_okay=False), help="The .tflite to ship.")
@click.option("--key", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Private key to sign with.")
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Package to write (.pnsm).")
@click.option(
    "--card",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Model card [default: model_card.md or MODEL_CARD.md beside the model].",
)
def model_package(model: Path, key: Path, out: Path, card: Path | None) -> None:
    """Sign a model, its metadata and its card into one .pnsm file for `edge-scan model install`."""
    from quantize.signed_package import PackageError, write_model_package

    try:
        summary = write_model_package(model, key, out, card)
    except PackageError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"Model package: {summary['path']} ({summary['bytes']:,} bytes)")
    click.echo(f"Model sha256 {summary['model_sha256']}, signed with key {summary['key_id']}")


@main.command()
@click.option(
    "--platform",
    "platform_name",
    required=True,
    type=click.Choice(["linux-aarch64", "linux-x86_64", "win-amd64", "macos-arm64"]),
    help="The devices' platform: linux-aarch64 is a Raspberry Pi 4/5 with 64-bit Raspberry Pi OS.",
)
@click.option("--python", "python_version", default="3.11", show_default=True, help="The devices' Python (X.Y).")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder to write (copy it to a USB stick). An earlier bundle there is replaced once the new one is complete.",
)
@click.option(
    "--source",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="PneumoScan source folder to build the wheel from [default: the one this edge-export runs from].",
)
@click.option(
    "--extras",
    default="",
    metavar="NAME[,NAME...]",
    help="Optional features to include, as in pip install pneumoscan[dicom]: dicom (DICOM files) and any other "
    "device extra in pyproject.toml. The bundle fails, naming the package, if one has no wheel for PLATFORM.",
)
def bundle(platform_name: str, python_version: str, out: Path, source: Path | None, extras: str) -> None:
    """Offline install bundle: the pneumoscan wheel and every dependency wheel for PLATFORM (with the
    chosen extras), SHA256SUMS, install.sh or install.ps1 (installs with no network, then runs the self-test),
    INSTALL.md (lists what is included).

    Needs the package registry on this machine; the devices need none."""
    from quantize.offline_bundle import BundleError, BundleRequestError, build_bundle

    chosen = tuple(name.strip() for name in extras.split(",") if name.strip())
    try:
        summary = build_bundle(
            platform_name, python_version, out, source, log=lambda m: click.echo(m, err=True), extras=chosen
        )
    except BundleError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2 if isinstance(exc, BundleRequestError) else 1)
    click.echo(f"Bundle: {summary['folder']} ({summary['bytes'] / 1e6:.1f} MB, {len(summary['wheels'])} wheels)")
    included = f" with extras {', '.join(summary['extras'])}" if summary["extras"] else ""
    click.echo(f"pneumoscan {summary['pneumoscan']} for {platform_name}, Python {python_version}{included}")
    click.echo(f"On the device: {summary['script']} (see {summary['folder']}/INSTALL.md)")
