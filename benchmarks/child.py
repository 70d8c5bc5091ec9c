"""Run a command in a fresh process and measure it from outside.

Cold start and peak memory can only be measured honestly in a new process:
the parent has already paid for its imports, and a process's peak resident
memory never goes down.

Peak RSS needs care. Linux carries a process's high-water mark across exec,
so a child forked from a big parent (this benchmark, with TensorFlow loaded)
would report the parent's size. So every command is started by a small
launcher (this module run as `python -m benchmarks.child`): the launcher
forks the command from its own small memory, times the first line of output,
and reads the command's peak RSS with os.wait4.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class ChildRun:
    first_line_seconds: float | None  # wall clock from spawn to the first line on stdout
    last_line_seconds: float | None  # ... and to the last line, before the command's clean-up and exit
    wall_seconds: float
    lines: list[str]
    peak_rss_mb: float
    returncode: int
    stderr: str


def _maxrss_mb(ru_maxrss: int) -> float:
    # Linux reports kilobytes, macOS bytes
    return ru_maxrss / (1024.0 * 1024.0) if sys.platform == "darwin" else ru_maxrss / 1024.0


def run_child(command: Sequence[str], env: dict[str, str] | None = None) -> ChildRun:
    """Run `command` through the launcher; its stdout lines, stderr, first-line time and peak RSS."""
    with tempfile.TemporaryDirectory(prefix="edge-bench-child-") as tmp:
        measurements = os.path.join(tmp, "measurements.json")
        launcher = [sys.executable, "-m", "benchmarks.child", measurements, *command]
        completed = subprocess.run(launcher, capture_output=True, text=True, env=env)
        with open(measurements, encoding="utf-8") as file:
            measured = json.load(file)
    return ChildRun(
        first_line_seconds=measured["first_line_seconds"],
        last_line_seconds=measured["last_line_seconds"],
        wall_seconds=measured["wall_seconds"],
        lines=[line for line in completed.stdout.splitlines() if line.strip()],
        peak_rss_mb=measured["peak_rss_mb"],
        returncode=measured["returncode"],
        stderr=completed.stderr,
    )


def _launch(measurements: str, command: list[str]) -> int:
    """Run `command`, passing its output through, and write its timings and peak RSS to `measurements`."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE)
    first_line_seconds = last_line_seconds = None
    for line in process.stdout:
        last_line_seconds = time.perf_counter() - started
        if first_line_seconds is None:
            first_line_seconds = last_line_seconds
        sys.stdout.buffer.write(line)
    process.stdout.close()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    result = {
        "first_line_seconds": first_line_seconds,
        "last_line_seconds": last_line_seconds,
        "wall_seconds": time.perf_counter() - started,
        "peak_rss_mb": _maxrss_mb(usage.ru_maxrss),
        "returncode": process.returncode,
    }
    with open(measurements, "w", encoding="utf-8") as file:
        json.dump(result, file)
    return process.returncode


if __name__ == "__main__":
    sys.exit(_launch(sys.argv[1], sys.argv[2:]))
