"""Files named on the command line or kept by the device are read once, from the file that was opened: whatever
is put in a file's place after a check by path (a pipe, a device, a huge file) is refused without waiting."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_app import package_data
from edge_app.cli.main import main as edge_scan
from edge_app.files import sidecar_path
from tests.device import test_model_packages as packages
from tests.device.test_scan import GOOD_IMAGES
from tests.device.test_update_signing import no_hang as _no_hang

no_hang = _no_hang  # a read that never returns fails the test instead of stopping the suite
keys, device = packages.keys, packages.device  # a device that trusts a freshly made release key


def _pipe(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _huge(path: Path) -> None:
    path.unlink()
    with path.open("wb") as file:  # sparse: 3 GB that take no disk space
        file.truncate(3 * 2**30)


def _device(path: Path) -> None:
    path.unlink()
    path.symlink_to("/dev/zero")


SWAPS = {"a pipe": (_pipe, "it was not read"), "/dev/zero": (_device, "it was not read"), "3 GB": (_huge, "more than")}


@pytest.fixture
def swapped_after_any_check(monkeypatch) -> Callable[[Path, Callable[[Path], None]], None]:
    """Replace `path` by `swap(path)` right after the first time anything stats it by name, as someone racing
    the command would: a check made by path then says nothing about what a later open by path finds."""

    def arm(path: Path, swap: Callable[[Path], None]) -> None:
        real_stat = os.stat
        armed = [True]

        def stat(target, *args, **kwargs):
            result = real_stat(target, *args, **kwargs)
            if armed[0] and os.fspath(target) == os.fspath(path):
                armed[0] = False
                swap(path)
            return result

        monkeypatch.setattr(os, "stat", stat)

    return arm


def _model_copy(folder: Path) -> Path:
    model = folder / "model.tflite"
    shutil.copyfile(package_data.DEFAULT_MODEL, model)
    shutil.copyfile(sidecar_path(package_data.DEFAULT_MODEL), sidecar_path(model))
    return model


@pytest.mark.parametrize("swap", list(SWAPS))
def test_a_model_given_with_model_is_read_once(swap, tmp_path, swapped_after_any_check, no_hang):
    model = _model_copy(tmp_path)
    make, words = SWAPS[swap]
    swapped_after_any_check(model, make)
    scanned = CliRunner().invoke(edge_scan, ["scan", str(GOOD_IMAGES[0]), "--model", str(model), "--no-history"])
    assert scanned.exit_code == 2 and str(model) in scanned.output and words in scanned.output, scanned.output


@pytest.mark.parametrize("swap", list(SWAPS))
def test_a_models_checksum_file_is_read_once(swap, tmp_path, no_hang):
    model = _model_copy(tmp_path)
    SWAPS[swap][0](sidecar_path(model))
    scanned = CliRunner().invoke(edge_scan, ["scan", str(GOOD_IMAGES[0]), "--model", str(model), "--no-history"])
    assert scanned.exit_code == 2 and sidecar_path(model).name in scanned.output, scanned.output
    assert SWAPS[swap][1] in scanned.output and "Traceback" not in scanned.output


def test_an_installed_model_replaced_by_a_pipe_after_its_check_is_refused(
    device, keys, tmp_path, swapped_after_any_check, no_hang
):
    pnsm = packages.package(packages.variant_model(tmp_path / "v2", model_version="v2"), keys, tmp_path / "v2.pnsm")
    assert CliRunner().invoke(edge_scan, ["model", "install", str(pnsm)]).exit_code == 0
    [installed] = (device / "models").glob("*/pneumoscan.tflite")
    swapped_after_any_check(installed, _pipe)
    scanned = CliRunner().invoke(edge_scan, ["scan", str(GOOD_IMAGES[0]), "--no-history"])
    assert scanned.exit_code == 2 and "it was not read" in scanned.output, scanned.output
    assert installed.is_fifo()
    again = CliRunner().invoke(edge_scan, ["model", "install", str(pnsm)])  # puts an intact copy back
    assert again.exit_code == 0 and "Self-test: passed" in again.output, again.output


@pytest.mark.parametrize("command", ["install", "trust"])
def test_a_huge_package_or_key_is_refused_before_it_is_read(command, tmp_path, no_hang):
    named = tmp_path / "named"
    named.touch()
    _huge(named)
    refused = CliRunner().invoke(edge_scan, ["model", command, str(named)])
    assert refused.exit_code == 2 and str(named) in refused.output and "3.0 GB" not in refused.output
    assert "3072.0 MB, more than" in refused.output, refused.output
