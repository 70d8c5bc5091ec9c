"""No tracked file outside tests carries a folder of the machine it was made on: the checkout's root or the
folder beside it that holds the data sets, the temporary folder, or the home folder. Results, model cards,
models and documents are read on other machines, where those folders mean nothing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def machine_folders() -> list[str]:
    """This machine's own folders, each with a trailing slash, as they would appear inside a file."""
    folders = {ROOT, ROOT.parent, Path(tempfile.gettempdir()), Path(os.path.expanduser("~"))}
    return sorted(f"{folder}/" for folder in folders if len(folder.parts) > 1)


def files_naming(folders: list[str], paths: list[Path]) -> dict[Path, list[str]]:
    """Each file that contains one of the folders (text or binary, such as a model's metadata), with them."""
    found = {}
    for path in paths:
        data = path.read_bytes() if path.is_file() else b""
        named = [folder for folder in folders if re.search(rb"(?<![\w./~-])" + re.escape(folder.encode()), data)]
        if named:
            found[path] = named
    return found


def tracked_files_outside_tests() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    names = [name for name in listed.decode().split("\0") if name and not name.startswith("tests/")]
    return [ROOT / name for name in names]


def test_the_check_finds_a_folder_of_this_machine(tmp_path):
    leaked = tmp_path / "results.json"
    leaked.write_text(f'{{"data": "{ROOT.parent}/shared/data/external"}}')
    clean = tmp_path / "clean.json"
    clean.write_text(f'{{"data": "../shared/data/external", "cache": "/var{tempfile.gettempdir()}/x"}}')
    found = files_naming(machine_folders(), [leaked, clean])
    assert list(found) == [leaked] and f"{ROOT.parent}/" in found[leaked]


def test_no_tracked_file_outside_tests_names_a_folder_of_this_machine():
    found = files_naming(machine_folders(), tracked_files_outside_tests())
    assert {str(path.relative_to(ROOT)): folders for path, folders in found.items()} == {}
