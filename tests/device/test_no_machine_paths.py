"""No tracked file outside tests/ carries an absolute path of the machine it was made on.

Reports, model cards, the shipped models' metadata and the docs travel to other machines and to readers; a
path like /work/runs/... or a home folder says nothing there and leaks the build machine. They record paths
relative to the repository (../shared/data/external) instead. Tests may name temporary folders freely.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MACHINE_FOLDERS = rb"(?:(?:work|tmp|root|Users|var/folders|private/var)/|home/(?!pi(?![\w.-])))"
MACHINE_PATH = re.compile(rb"(?<![\w.~$/-])/" + MACHINE_FOLDERS + rb"[\w.-]")
"""An absolute path into a folder of a machine (the working area, a temporary folder, a home folder), with at
least one folder below it; a relative path (../shared/data) or a word such as "the system's /tmp" is fine.
/home/pi is the Raspberry Pi's own account in the device's deployment templates and checks: the target, not the machine
a file was made on."""


def tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.fail(f"{ROOT} is not a git checkout with git installed, so its tracked files cannot be listed.")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [name for name in listed.decode("utf-8").split("\0") if name]


def machine_paths(data: bytes) -> list[str]:
    checkout = re.compile(re.escape(str(ROOT).encode("utf-8")) + rb"(?![\w.-])")
    found = [m for pattern in (checkout, MACHINE_PATH) for m in pattern.finditer(data)]
    return [data[m.start() : m.end() + 40].split(b"\n")[0].decode("utf-8", "replace") for m in found]


def test_the_check_finds_absolute_paths_and_lets_relative_ones_pass():
    assert machine_paths(b'{"data": "/work/shared/data/chest_xray"}')
    assert machine_paths(b"--out /tmp/clinic-bench \\") and machine_paths(b"cd /home/amina/pneumoscan")
    assert not machine_paths(b"ExecStart=/home/pi/pneumoscan/bin/edge-scan app") and not machine_paths(b"HOME=/home/pi")
    assert machine_paths(b"cd /home/pip-user/x")
    assert machine_paths(str(ROOT / "runs" / "r1").encode())
    assert not machine_paths(b'{"data": "../shared/data/chest_xray", "out": "runs/dm2/train"}')
    assert not machine_paths(b"uploads stay in a private folder (not the system's /tmp)")
    assert not machine_paths(b"https://example.org/home/page and /sys/devices/system/cpu/possible")


def test_no_tracked_file_outside_tests_carries_a_path_of_the_machine():
    offenders = {
        name: found
        for name in tracked_files()
        if not name.startswith("tests/") and (ROOT / name).is_file()
        if (found := machine_paths((ROOT / name).read_bytes()))
    }
    assert not offenders, "record paths relative to the repository instead: " + "; ".join(
        f"{name}: {', '.join(found[:3])}" for name, found in sorted(offenders.items())
    )
