"""Keep the TFLite runtime's start-up chatter off the health worker's screen.

LiteRT's C++ code writes "INFO: Created TensorFlow Lite XNNPACK delegate for
CPU." straight to file descriptor 2 when a model is loaded, next to the
warnings that matter (an unverified model, a site calibration for another
model). Python's sys.stderr cannot hold it back, so descriptor 2 itself is
pointed at a temporary file while the interpreter is built; afterwards every
line except the runtime's INFO lines is written to the real stderr, so real
errors stay visible.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

_INFO_PREFIX = b"INFO: "


@contextmanager
def without_runtime_info() -> Iterator[None]:
    """Run the block with file descriptor 2 captured; pass on all but the INFO lines.

    Descriptor 2 itself, not sys.stderr's: the runtime's C++ code writes there
    whatever Python has done to sys.stderr."""
    stderr_fd = 2
    if sys.stderr is not None:
        sys.stderr.flush()
    try:
        saved = os.dup(stderr_fd)
    except OSError:  # no stderr at all (a service started with it closed): nothing to hold back
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), stderr_fd)
        try:
            yield
        finally:
            if sys.stderr is not None:
                sys.stderr.flush()
            os.dup2(saved, stderr_fd)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().splitlines(keepends=True) if not line.startswith(_INFO_PREFIX)]
            if kept:
                os.write(stderr_fd, b"".join(kept))
