"""Offline install bundles: built with the package registry, installed with no network at all.

Tests marked needs_registry download wheels from PyPI (CI reaches it; deselect offline with
-m "not needs_registry"). The install itself runs with the network blocked: in a new network
namespace (`unshare -n`) when this user may make one, else with pip's index off and every proxy
pointing at a closed port.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydicom.uid import JPEG2000Lossless

from edge_app.package_data import SAMPLES_DIR
from quantize import export_cli, offline_bundle
from quantize.offline_bundle import (
    PLATFORMS,
    BundleError,
    BundleRequestError,
    build_bundle,
    device_extras,
    write_checksums,
    write_scripts,
)
from tests.dicom_factory import cr_dataset, write_dicom

HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
DEAD_PROXY = "http://127.0.0.1:9"


def network_blocker() -> list[str]:
    """`unshare -n` when a network namespace can be made here (root, or user namespaces), else nothing."""
    unshare = shutil.which("unshare")
    for prefix in ([unshare, "-n"], [unshare, "-rn"]) if unshare else ():
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return []


def offline_env(**extra: str) -> dict[str, str]:
    """This environment without pip settings, venvs or PYTHONPATH, and with every proxy dead."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proxies = {name: DEAD_PROXY for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")}
    return env | proxies | {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1"} | extra


HOST_PLATFORMS = {
    ("linux", "aarch64"): "linux-aarch64",
    ("linux", "x86_64"): "linux-x86_64",
    ("win32", "amd64"): "win-amd64",
    ("darwin", "arm64"): "macos-arm64",
}


@pytest.fixture(scope="module")
def host_bundle(tmp_path_factory) -> Path:
    name = HOST_PLATFORMS.get((sys.platform, platform.machine().lower()))
    assert name is not None, "no bundle platform for this machine"
    out = tmp_path_factory.mktemp("bundle") / "usb"
    build_bundle(name, HOST_PYTHON, out, extras=("dicom",))
    return out


def dicom_fixtures(folder: Path) -> list[Path]:
    """Two DICOMs of one sample X-ray as a CR unit writes them: MONOCHROME1 with a VOI LUT, uncompressed
    and JPEG 2000 (which only the dicom extra's pylibjpeg-openjpeg decodes)."""
    folder.mkdir()
    jpeg = sorted(SAMPLES_DIR.glob("person*.jpeg"))[0]
    plain = write_dicom(cr_dataset(jpeg), folder / "cr.dcm")
    compressed = cr_dataset(jpeg)
    compressed.compress(JPEG2000Lossless)
    return [plain, write_dicom(compressed, folder / "cr-j2k.dcm")]


@pytest.mark.needs_registry
def test_bundle_for_this_machine_installs_offline_passes_selftest_and_scans(host_bundle, tmp_path):
    target = tmp_path / "pneumoscan"
    blocker = network_blocker()
    env = offline_env(PYTHON=sys.executable, PNEUMOSCAN_HOME=str(tmp_path / "home"))
    installed = subprocess.run(
        [*blocker, "sh", str(host_bundle / "install.sh"), str(target)], env=env, capture_output=True, text=True
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "Self-test passed." in installed.stdout
    if blocker:  # the namespace really had no network: nothing but loopback, and loopback down
        links = subprocess.run([*blocker, "cat", "/proc/net/dev"], capture_output=True, text=True).stdout
        assert [line.split(":")[0].strip() for line in links.splitlines()[2:]] == ["lo"]
    scanned = subprocess.run(
        [*blocker, str(target / "bin" / "edge-scan"), "scan", "--samples", "--no-history", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
    )
    results = [json.loads(line) for line in scanned.stdout.splitlines()]
    assert scanned.returncode == 0 and len(results) == 10 and {r["status"] for r in results} == {"ok"}
    dicoms = dicom_fixtures(tmp_path / "dicom")
    scanned = subprocess.run(
        [*blocker, str(target / "bin" / "edge-scan"), "scan", *map(str, dicoms), "--no-history", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
    )
    results = [json.loads(line) for line in scanned.stdout.splitlines()]
    assert scanned.returncode == 0, scanned.stdout + scanned.stderr
    assert [r["status"] for r in results] == ["ok", "ok"]
    assert results[0]["probability"] == results[1]["probability"]  # JPEG 2000 decodes to the same pixels
    no_tensorflow = "import importlib.util, sys; sys.exit(importlib.util.find_spec('tensorflow') is not None)"
    assert subprocess.run([str(target / "bin" / "python"), "-c", no_tensorflow], env=env).returncode == 0


@pytest.mark.needs_registry
def test_a_damaged_bundle_is_refused_before_anything_is_installed(host_bundle, tmp_path):
    copy = tmp_path / "usb"
    shutil.copytree(host_bundle, copy)
    wheel = next((copy / "wheels").glob("pneumoscan-*.whl"))
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 0xFF
    wheel.write_bytes(bytes(data))
    target = tmp_path / "pneumoscan"
    refused = subprocess.run(
        ["sh", str(copy / "install.sh"), str(target)], env=offline_env(PYTHON=sys.executable), capture_output=True
    )
    assert refused.returncode != 0 and b"FAILED" in refused.stdout + refused.stderr
    assert not target.exists()


@pytest.mark.needs_registry
@pytest.mark.parametrize("python", ["3.11", "3.13"])
def test_raspberry_pi_bundle_resolves_with_a_litert_wheel(python, tmp_path):
    summary = build_bundle("linux-aarch64", python, tmp_path / "pi", extras=("dicom",))
    wheels = summary["wheels"]
    cp = "cp" + python.replace(".", "")
    litert = [name for name in wheels if name.startswith("ai_edge_litert-")]
    assert len(litert) == 1 and f"-{cp}-" in litert[0] and litert[0].endswith("aarch64.whl")
    for name in wheels:  # every wheel is pure Python or built for 64-bit ARM Linux and this CPython
        assert name.endswith(("-none-any.whl", "aarch64.whl")), name
        assert "-none-any" in name or f"-{cp}-" in name or "-abi3-" in name, name
    assert any(name.startswith("cryptography-") for name in wheels)
    for package in device_extras(offline_bundle.source_root())["dicom"]:  # pydicom and the JPEG decoders
        assert any(name.startswith(package.replace("-", "_") + "-") for name in wheels), package
    assert json.loads((tmp_path / "pi" / "bundle.json").read_text())["extras"] == ["dicom"]
    assert '"pneumoscan[dicom]"' in (tmp_path / "pi" / "install.sh").read_text()
    assert "pylibjpeg-openjpeg" in (tmp_path / "pi" / "INSTALL.md").read_text()
    sums = dict(line.split("  ", 1)[::-1] for line in (tmp_path / "pi" / "SHA256SUMS").read_text().splitlines())
    assert len(sums) == len(wheels) + 3  # the wheels, install.sh, INSTALL.md, bundle.json
    for name, digest in sums.items():
        assert hashlib.sha256((tmp_path / "pi" / name).read_bytes()).hexdigest() == digest
    assert f"Python {python}" in (tmp_path / "pi" / "INSTALL.md").read_text()


@pytest.mark.parametrize("name", list(PLATFORMS))
def test_install_scripts_and_guide_are_filled_in_for_every_platform(name, tmp_path):
    target = PLATFORMS[name]
    write_scripts(tmp_path, name, target, "3.13", "9.9.9")
    script = (tmp_path / target.script).read_bytes()
    guide = (tmp_path / "INSTALL.md").read_text()
    assert b"@PYTHON_VERSION@" not in script and "@" not in guide
    assert b"3.13" in script and b"--no-index" in script and b"selftest" in script and b"SHA256SUMS" in script
    assert "9.9.9" in guide and target.description in guide and target.edge_scan in guide
    assert (b"\r\n" in script) == (name == "win-amd64")


def test_checksums_cover_every_file_in_sha256sum_format(tmp_path):
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / "a.whl").write_bytes(b"wheel")
    (tmp_path / "install.sh").write_text("echo\n")
    write_checksums(tmp_path)
    assert (tmp_path / "SHA256SUMS").read_text() == (
        f"{hashlib.sha256(b'echo' + bytes([10])).hexdigest()}  install.sh\n"
        f"{hashlib.sha256(b'wheel').hexdigest()}  wheels/a.whl\n"
    )
    if shutil.which("sha256sum"):
        assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=tmp_path).returncode == 0


def test_bad_requests_are_refused_before_any_download(tmp_path):
    with pytest.raises(BundleRequestError, match="Unknown platform"):
        build_bundle("linux-armv7", "3.11", tmp_path / "x")
    with pytest.raises(BundleError, match="3.11"):
        build_bundle("linux-aarch64", "311", tmp_path / "x")
    with pytest.raises(BundleRequestError, match="pyproject.toml"):
        build_bundle("linux-aarch64", "3.11", tmp_path / "x", source=tmp_path)
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob(".x*"))


def fake_source(folder: Path, extra: str, requirement: str) -> Path:
    """A PneumoScan source with no dependencies and one device extra needing `requirement`."""
    folder.mkdir()
    (folder / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=69"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "pneumoscan"\nversion = "0.0.1"\ndependencies = []\n'
        f'[project.optional-dependencies]\n{extra} = ["{requirement}"]\n'
        "[tool.setuptools]\npackages = []\n"
    )
    return folder


@pytest.mark.needs_registry
def test_an_extra_without_a_wheel_for_the_platform_fails_naming_the_package(tmp_path):
    # TensorFlow's CPU build has no 64-bit ARM Linux wheel: an extra needing it cannot go on a Pi.
    source = fake_source(tmp_path / "src", "desktop", "tensorflow-cpu==2.21.*")
    out = tmp_path / "pi"
    args = ["bundle", "--platform", "linux-aarch64", "--extras", "desktop", "--source", str(source), "--out", str(out)]
    result = CliRunner().invoke(export_cli.main, args)
    assert result.exit_code == 1
    assert "pneumoscan[desktop]" in result.output and "no wheel of tensorflow-cpu" in result.output
    assert not out.exists() and not list(tmp_path.glob(".pi*"))


def test_the_device_extras_are_read_from_pyproject_without_the_engineers_ones():
    extras = device_extras(offline_bundle.source_root())
    assert extras["dicom"][:2] == ["pydicom", "pylibjpeg"]
    assert extras["photo"] == ["opencv-python-headless"]
    assert not {"train", "test", "gate-eval"} & extras.keys()


@pytest.mark.parametrize(
    ("extras", "message"),
    [("dicom,nosuch", "Unknown extra 'nosuch'; this PneumoScan offers: dicom"), ("train", "engineers' machines")],
)
def test_an_unknown_or_engineers_extra_is_a_usage_error_before_any_download(extras, message, tmp_path):
    args = ["bundle", "--platform", "linux-aarch64", "--extras", extras, "--out", str(tmp_path / "x")]
    result = CliRunner().invoke(export_cli.main, args)
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob(".x*"))


@pytest.mark.parametrize("name", list(PLATFORMS))
def test_install_scripts_install_the_chosen_extras_and_the_guide_lists_them(name, tmp_path):
    target = PLATFORMS[name]
    write_scripts(tmp_path, name, target, "3.11", "9.9.9", {"dicom": ["pydicom", "pylibjpeg"]})
    script = (tmp_path / target.script).read_text()
    guide = (tmp_path / "INSTALL.md").read_text()
    assert "'pneumoscan[dicom]'" in script if name == "win-amd64" else '"pneumoscan[dicom]"' in script
    assert "Extra `dicom`: pydicom, pylibjpeg." in guide and "No extras" not in guide
    write_scripts(tmp_path, name, target, "3.11", "9.9.9")
    assert "[" not in (tmp_path / target.script).read_text().split("--find-links")[1]
    assert "No extras" in (tmp_path / "INSTALL.md").read_text()
