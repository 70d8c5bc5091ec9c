"""The runtime's INFO line is held back while a model loads; anything else written to stderr still shows."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from edge_app.inference.native_stderr import without_runtime_info
from edge_app.inference.runtime import TFLiteClassifier
from tests.conftest import TINY_INT8_MODEL


def test_info_lines_are_dropped_and_other_lines_kept(capfd):
    with without_runtime_info():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"ERROR: a real problem\n")
    assert capfd.readouterr().err == "ERROR: a real problem\n"


def test_loading_a_model_prints_no_runtime_info(capfd):
    TFLiteClassifier(TINY_INT8_MODEL)
    assert "INFO" not in capfd.readouterr().err


@pytest.mark.skipif(sys.platform == "win32", reason="closing a child's stderr needs a POSIX preexec_fn")
def test_a_process_without_stderr_still_loads_a_model(tmp_path):
    """A service may start edge-scan with descriptor 2 closed; holding back INFO must not break loading."""
    from tests.conftest import FIXTURES

    code = (
        "from edge_app.inference.runtime import TFLiteClassifier; "
        f"TFLiteClassifier({str(TINY_INT8_MODEL)!r}); print('loaded')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=FIXTURES.parent.parent,
        preexec_fn=lambda: os.close(2),
    )
    assert done.returncode == 0 and done.stdout.strip() == "loaded"
