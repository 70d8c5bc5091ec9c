"""Run a command in a fresh process and measure it from outside.

Cold start and peak memory can only be measured honestly in a new process:
the parent has already paid for its imports, and a process's peak resident
memory never goes down. The child's peak RSS comes from os.wait4, which
reports the resources of that one child.
"""

from __future__ import annotations

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
    wall_seconds: float
    lines: list[str]
    peak_rss_mb: float
    returncode: int
    stderr: str


def _maxrss_mb(ru_maxrss: int) -> float:
    # Linux reports kilobytes, macOS bytes
    return ru_maxrss / (1024.0 * 1024.0) if sys.platform == "darwin" else ru_maxrss / 1024.0


def run_child(command: Sequence[str], env: dict[str, str] | None = None) -> ChildRun:
    """Run `command`, timing the first stdout line, and collect its output and peak RSS."""
    with tempfile.TemporaryFile(mode="w+") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
        first = process.stdout.readline()
        first_seconds = time.perf_counter() - started if first else None
        rest = process.stdout.read()
        process.stdout.close()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        errors = stderr.read()
    lines = [line for line in (first + rest).splitlines() if line.strip()]
    return ChildRun(first_seconds, wall, lines, _maxrss_mb(usage.ru_maxrss), process.returncode, errors)
