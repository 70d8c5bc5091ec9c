"""Fuzzing edge-scan with over a thousand malformed inputs made from the fixture X-rays.

The generator (benchmarks/fuzz.py) truncates, bit-flips, zeroes and inflates
the fixtures, writes them in every PNG and JPEG mode, adds garbage EXIF,
FIFOs, sockets, devices, link loops and odd names. Every input must end as a
valid result or a rejection with a reason code, never a traceback, a hang or
a verdict on damaged bytes. A longer run is `python -m benchmarks.fuzz`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from benchmarks.fuzz import make_inputs
from tests.conftest import FIXTURE_DATA

ROOT = Path(__file__).resolve().parents[2]
MIN_INPUTS = 1000
MAX_SECONDS_PER_FILE = 5.0
"""Far above the few milliseconds a file takes; a hang or a full-size decode of a giant header breaks it."""
MAX_PEAK_RSS_MB = 400
"""The whole in-process run, model included; one 65535x65535 decode would need gigabytes."""
RUN_TIMEOUT_S = 300
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the generator makes FIFOs and Unix sockets")


@pytest.fixture(scope="module")
def fuzz_folder():
    """Short path under /tmp: Unix socket paths are limited to about 100 bytes."""
    folder = Path(tempfile.mkdtemp(prefix="psfuzz-", dir="/tmp"))
    yield folder
    subprocess.run(["rm", "-rf", str(folder)], check=False)


def environment(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PNEUMOSCAN_MODEL"}
    return env | {"PNEUMOSCAN_HOME": str(home), "PYTHONPATH": str(ROOT)}


def test_every_fuzz_input_gets_a_result_or_a_reason_in_bounded_time_and_memory(fuzz_folder, tmp_path):
    command = [sys.executable, "-m", "benchmarks.fuzz", "--sources", str(FIXTURE_DATA)]
    command += ["--out", str(fuzz_folder / "inputs"), "--flips", "6", "--rows"]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=environment(tmp_path / "home")
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    report = json.loads(done.stdout)
    rows = report["rows"]
    assert len(rows) >= MIN_INPUTS
    kinds = {row["kind"].split("_")[0] for row in rows}
    assert {"truncated", "bit", "zeroed", "giant", "mode", "exif", "fifo", "symlink", "odd", "socket"} <= kinds
    assert [row for row in rows if row["status"] != "ok" and not row["reason"]] == []
    assert [row for row in rows if row["status"] == "error"] == []  # every malformed input is the file's fault
    assert [row for row in rows if row["reason"] == "inference_failed"] == []
    assert [row for row in rows if row["damaged"] and row["status"] == "ok"] == []
    assert [row["path"] for row in rows if row["label"] is not None and row["status"] != "ok"] == []
    assert max(row["seconds"] for row in rows) < MAX_SECONDS_PER_FILE
    assert report["peak_rss_mb"] < MAX_PEAK_RSS_MB


def test_one_cli_run_over_the_fuzz_folder_prints_one_record_per_file(fuzz_folder, tmp_path):
    inputs = fuzz_folder / "cli"
    cases = make_inputs(sorted(FIXTURE_DATA.rglob("*.jpeg"))[:6], inputs, flips=2)
    special = [str(case.path) for case in cases if case.path.parent.name == "special"]
    command = [sys.executable, "-m", "edge_app", "scan", str(inputs), *special, "--format", "json", "--jobs", "2"]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=environment(tmp_path / "home")
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(records) >= len({os.path.realpath(case.path) for case in cases if case.path.is_file()})
    assert all(record["status"] == "ok" or record["reason"] for record in records)
    stored = subprocess.run(
        [sys.executable, "-m", "edge_app", "history", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env=environment(tmp_path / "home"),
    )
    assert len(stored.stdout.splitlines()) == len(records)
