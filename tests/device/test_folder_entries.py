"""A folder scan finds every X-ray in it, or says which entries it left out and why (exit 1).

Links to folders are followed (each folder once, so a link back up the tree is no loop), and a DICOM is
known by its first bytes whatever its name: units write names without an extension, UIDs full of dots,
and older ones no preamble.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge_app.cli.main import main
from edge_app.inference import model_store
from edge_app.package_data import SAMPLES_DIR
from edge_app.scan.scanner import find_images
from tests.device.test_scan import with_checksum
from tests.dicom_factory import cr_dataset, write_dicom

SAMPLE = SAMPLES_DIR / "IM-0230-0001.jpeg"


@pytest.fixture
def home(tmp_path, monkeypatch, tiny_int8_model) -> Path:
    monkeypatch.setenv("PNEUMOSCAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(model_store.MODEL_ENV, str(with_checksum(tiny_int8_model, tmp_path / "models")))
    return tmp_path / "home"


def without_preamble(path: Path) -> Path:
    """The DICOM as an older unit writes it: the dataset alone, no preamble and no file meta."""
    dataset = cr_dataset(SAMPLE)
    del dataset.file_meta
    dataset.save_as(path, implicit_vr=True, little_endian=True)
    return path


def clinic_folder(root: Path) -> Path:
    folder = root / "clinic"
    (folder / "day1").mkdir(parents=True)
    shutil.copyfile(SAMPLE, folder / "day1" / "a.jpeg")
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    shutil.copyfile(SAMPLE, elsewhere / "b.jpeg")
    (folder / "linked").symlink_to(elsewhere, target_is_directory=True)
    (folder / "day1" / "up").symlink_to(folder, target_is_directory=True)  # a loop back to the top
    write_dicom(cr_dataset(SAMPLE), folder / "IM000001")
    write_dicom(cr_dataset(SAMPLE), folder / "1.2.840.113619.2.55.3.2831164355.1")
    without_preamble(folder / "OLDUNIT")
    (folder / "notes.txt").write_text("to do")
    return folder


def test_linked_folders_and_dicoms_of_any_name_are_found_once(tmp_path):
    folder = clinic_folder(tmp_path)
    files, skipped = find_images([folder])
    names = sorted(path.relative_to(folder).as_posix() for path in files)
    assert names == ["1.2.840.113619.2.55.3.2831164355.1", "IM000001", "OLDUNIT", "day1/a.jpeg", "linked/b.jpeg"]
    assert [(entry.path.name, entry.may_hold_xrays) for entry in skipped] == [("notes.txt", False)]


def test_every_found_file_is_scanned_including_a_dicom_without_preamble(tmp_path, home):
    folder = clinic_folder(tmp_path)
    done = CliRunner().invoke(main, ["scan", str(folder), "--format", "json"])
    records = {Path(r["path"]).name: r for r in map(json.loads, done.stdout.splitlines())}
    assert set(records) == {"1.2.840.113619.2.55.3.2831164355.1", "IM000001", "OLDUNIT", "a.jpeg", "b.jpeg"}
    assert all(record["status"] == "ok" for record in records.values()), records
    assert done.exit_code == 0
    assert "Left out 1 file(s) that are not X-ray images: " in done.stderr and "notes.txt" in done.stderr


def test_an_unreadable_folder_or_a_link_to_nothing_is_listed_and_the_scan_exits_1(tmp_path, home, monkeypatch):
    folder = tmp_path / "clinic"
    folder.mkdir()
    shutil.copyfile(SAMPLE, folder / "a.jpeg")
    (folder / "moved").symlink_to(tmp_path / "gone")
    (folder / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr("edge_app.scan.scanner.os.scandir", scandir)
    done = CliRunner().invoke(main, ["scan", str(folder)])
    assert done.exit_code == 1
    assert f"Not scanned: {folder / 'locked'}: the folder could not be read (Permission denied)." in done.stderr
    assert f"Not scanned: {folder / 'moved'}: a link to nothing" in done.stderr
