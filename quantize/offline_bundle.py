"""Offline install bundles: everything a device needs to install PneumoScan with no internet.

`pip download` with explicit platform tags fetches, on a connected machine,
the wheels another platform needs: so an engineer's laptop can fill a USB
stick for twenty Raspberry Pis. The bundle holds the pneumoscan wheel, every
dependency wheel (those of the chosen extras too, such as DICOM input),
SHA256SUMS, an install script that installs with `--no-index` (pip never looks
at the network) and runs `edge-scan selftest`, and an INSTALL.md for the person
holding the stick.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from edge_app.files import atomic_write_text, replace_folder, sha256_hex

RUNTIME_WHEEL = re.compile(r"^ai_edge_litert-.*\.whl$")
# Extras for the engineers' machines, never for a device: TensorFlow, pytest, scikit-image.
ENGINEER_EXTRAS = frozenset({"train", "test", "gate-eval"})


def _manylinux(arch: str) -> tuple[str, ...]:
    """glibc 2.28 or newer (Debian 10+, Raspberry Pi OS bullseye/bookworm, Ubuntu 20.04+). pip does not
    widen a manylinux_2_28 tag to older glibc versions by itself, so every accepted tag is listed."""
    return (*(f"manylinux_2_{minor}_{arch}" for minor in range(28, 16, -1)), f"manylinux2014_{arch}")


@dataclass(frozen=True)
class Platform:
    description: str
    tags: tuple[str, ...]
    script: str
    requirements: str
    edge_scan: str


_UNIX_STEP = "Open a terminal in the copied folder and run: `sh install.sh` (it installs into ~/pneumoscan)."
PLATFORMS = {
    "linux-aarch64": Platform(
        "Linux on 64-bit ARM (Raspberry Pi 4/5)",
        _manylinux("aarch64"),
        "install.sh",
        "64-bit Raspberry Pi OS (bullseye or newer) or another 64-bit ARM Linux with glibc 2.28 or newer. "
        "32-bit Raspberry Pi OS cannot run PneumoScan (there is no 32-bit LiteRT).",
        "~/pneumoscan/bin/edge-scan",
    ),
    "linux-x86_64": Platform(
        "Linux on a 64-bit Intel/AMD PC",
        _manylinux("x86_64"),
        "install.sh",
        "A 64-bit Linux with glibc 2.28 or newer (Debian 10+, Ubuntu 20.04+).",
        "~/pneumoscan/bin/edge-scan",
    ),
    "win-amd64": Platform(
        "Windows 10/11, 64-bit",
        ("win_amd64",),
        "install.ps1",
        "64-bit Windows 10 or 11 with Python from python.org (tick 'py launcher' when installing it).",
        r"%LOCALAPPDATA%\pneumoscan-venv\Scripts\edge-scan.exe",
    ),
    "macos-arm64": Platform(
        "macOS on Apple silicon (M1 or newer)",
        ("macosx_12_0_arm64",),
        "install.sh",
        "macOS 12 or newer on Apple silicon, with Python from python.org or Homebrew.",
        "~/pneumoscan/bin/edge-scan",
    ),
}


class BundleError(Exception):
    """The bundle cannot be made; the message says why (often: a wheel missing for that platform)."""


class BundleRequestError(BundleError):
    """The request itself is wrong (an unknown platform, extra or Python version): a usage error."""


def source_root() -> Path:
    """The PneumoScan source tree this code runs from (a checkout or an editable install)."""
    return Path(__file__).resolve().parents[1]


def _pip(args: list[str], what: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("WARNING"))[-2000:]
        missing = re.search(r"No matching distribution found for ([A-Za-z0-9._-]+)", done.stderr)
        if missing:
            raise BundleError(f"{what}: no wheel of {missing.group(1)} exists for this platform and Python.\n{tail}")
        raise BundleError(f"{what} failed (pip exit {done.returncode}); this needs the package registry.\n{tail}")


def device_extras(source: Path) -> dict[str, list[str]]:
    """The optional features a device may add (`pip install pneumoscan[NAME]`), with the names of the
    packages each one brings, read from the source's pyproject.toml so that a new extra is offered at once."""
    try:
        with (source / "pyproject.toml").open("rb") as file:
            optional = tomllib.load(file).get("project", {}).get("optional-dependencies", {})
    except FileNotFoundError:
        raise BundleRequestError(
            f"{source}: no pyproject.toml; pass the PneumoScan source folder with --source."
        ) from None
    return {
        name: [re.match(r"[A-Za-z0-9._-]+", requirement).group(0) for requirement in requirements]
        for name, requirements in optional.items()
        if name not in ENGINEER_EXTRAS
    }


def choose_extras(requested: tuple[str, ...], source: Path) -> dict[str, list[str]]:
    """The requested extras with their packages; an unknown or engineers-only extra is a usage error."""
    offered = device_extras(source)
    for name in requested:
        if name in ENGINEER_EXTRAS:
            raise BundleRequestError(f"Extra {name!r} is for the engineers' machines, never for a device.")
        if name not in offered:
            choices = ", ".join(offered) or "none"
            raise BundleRequestError(f"Unknown extra {name!r}; this PneumoScan offers: {choices}.")
    return {name: offered[name] for name in dict.fromkeys(requested)}


def download_wheels(source: Path, wheels: Path, target: Platform, python: str, extras: tuple[str, ...] = ()) -> Path:
    """Build the pneumoscan wheel from `source`, then fetch every dependency wheel for `target`,
    one extra at a time so that a missing wheel is reported with the extra that needs it."""
    _pip(["wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(source)], "Building the pneumoscan wheel")
    built = sorted(wheels.glob("pneumoscan-*.whl"))
    if not built:
        raise BundleError(f"Building from {source} produced no pneumoscan wheel.")
    platform_args = [arg for tag in target.tags for arg in ("--platform", tag)]
    download = ["download", "--quiet", "--only-binary=:all:", *platform_args, "--python-version", python]
    download += ["--implementation", "cp", "--dest", str(wheels)]
    for extra in (None, *extras):
        needs = f"pneumoscan[{extra}]" if extra else "pneumoscan"
        _pip(
            [*download, f"{built[-1]}[{extra}]" if extra else str(built[-1])],
            f"Downloading {needs} for {target.description}, Python {python}",
        )
    if not any(RUNTIME_WHEEL.match(path.name) for path in wheels.iterdir()):
        raise BundleError(f"No LiteRT (ai-edge-litert) wheel for {target.description}, Python {python}.")
    return built[-1]


def _template(name: str) -> str:
    return resources.files("quantize").joinpath("bundle_templates", name).read_text(encoding="utf-8")


def _included(version: str, extras: dict[str, list[str]]) -> str:
    """INSTALL.md's list of what the bundle installs, so the engineer sees at a glance whether DICOM is there."""
    lines = [f"- PneumoScan {version}: scans PNG and JPEG X-rays, self-test, reports, history."]
    lines += [f"- Extra `{name}`: {', '.join(packages)}." for name, packages in extras.items()]
    if not extras:
        lines.append("- No extras. DICOM input and other extras need a bundle made with `edge-export bundle --extras`.")
    return "\n".join(lines)


def write_scripts(
    folder: Path, name: str, target: Platform, python: str, version: str, extras: dict[str, list[str]] | None = None
) -> None:
    """The install script and INSTALL.md, filled in for this platform, Python and set of extras."""
    extras = extras or {}
    requirement = f"pneumoscan[{','.join(extras)}]" if extras else "pneumoscan"
    script = _template(target.script).replace("@PYTHON_VERSION@", python).replace("@REQUIREMENT@", requirement)
    (folder / target.script).write_text(script, encoding="utf-8", newline="\r\n" if name == "win-amd64" else "\n")
    (folder / target.script).chmod(0o755)
    run_step = (
        "Right-click `install.ps1` and choose *Run with PowerShell* (or run: "
        "`powershell -ExecutionPolicy Bypass -File install.ps1`)."
        if target.script == "install.ps1"
        else _UNIX_STEP
    )
    values = {
        "@VERSION@": version,
        "@PLATFORM_NAME@": target.description,
        "@PYTHON_VERSION@": python,
        "@CREATED@": datetime.now(UTC).strftime("%Y-%m-%d"),
        "@REQUIREMENTS@": target.requirements,
        "@INCLUDED@": _included(version, extras),
        "@RUN_STEP@": run_step,
        "@EDGE_SCAN@": target.edge_scan,
    }
    text = _template("INSTALL.md")
    for key, value in values.items():
        text = text.replace(key, value)
    (folder / "INSTALL.md").write_text(text, encoding="utf-8")


def write_checksums(folder: Path) -> None:
    """SHA256SUMS (sha256sum format) for every file but itself, so the stick can be checked on arrival."""
    lines = [
        f"{sha256_hex(path.read_bytes())}  {path.relative_to(folder).as_posix()}"
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != "SHA256SUMS"
    ]
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n", encoding="utf-8")


def build_bundle(
    name: str,
    python: str,
    out: Path,
    source: Path | None = None,
    log: Callable[[str], None] = lambda m: None,
    extras: tuple[str, ...] = (),
) -> dict:
    """Write the bundle for platform `name`, Python `python` ("3.11") and the chosen extras into `out`,
    replacing an earlier bundle there only once the new one is complete."""
    if name not in PLATFORMS:
        raise BundleRequestError(f"Unknown platform {name}; choose one of {', '.join(PLATFORMS)}.")
    if not re.fullmatch(r"3\.\d{1,2}", python):
        raise BundleRequestError(f"--python {python}: give a CPython version like 3.11.")
    source = source or source_root()
    chosen = choose_extras(extras, source)
    target, out = PLATFORMS[name], Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        log(f"Building the pneumoscan wheel and downloading wheels for {target.description}, Python {python} ...")
        wheel = download_wheels(source, staging / "wheels", target, python, tuple(chosen))
        version = wheel.name.split("-")[1]
        write_scripts(staging, name, target, python, version, chosen)
        wheels = sorted(path.name for path in (staging / "wheels").iterdir())
        manifest = {"platform": name, "python": python, "tags": list(target.tags), "pneumoscan": version}
        manifest["extras"] = list(chosen)
        atomic_write_text(staging / "bundle.json", json.dumps(manifest | {"wheels": wheels}, indent=2) + "\n")
        write_checksums(staging)
        replace_folder(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    size = sum(path.stat().st_size for path in out.rglob("*") if path.is_file())
    return manifest | {"folder": out, "wheels": wheels, "bytes": size, "script": target.script}
