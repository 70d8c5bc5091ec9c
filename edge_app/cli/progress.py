"""A one-line progress display on stderr, for batches scanned from folders.

Shown only when stderr is a terminal, so logs and pipes never get it, and
erased before each result line is printed, so it never mixes with results
on a shared terminal.
"""

from __future__ import annotations

import sys
from typing import TextIO

_WIDTH = 30


class Progress:
    def __init__(self, total: int, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total = total
        self.done = 0
        self.enabled = enabled and total > 0 and self.stream.isatty()

    def clear(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def advance(self) -> None:
        self.done += 1
        if self.enabled:
            filled = _WIDTH * self.done // self.total
            bar = "#" * filled + "-" * (_WIDTH - filled)
            self.stream.write(f"\rScanning [{bar}] {self.done}/{self.total}")
            self.stream.flush()
