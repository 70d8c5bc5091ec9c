"""The runtime's INFO line is held back while a model loads; anything else written to stderr still shows."""

from __future__ import annotations

import os

from edge_app.native_stderr import without_runtime_info
from edge_app.runtime import TFLiteClassifier
from tests.conftest import TINY_INT8_MODEL


def test_info_lines_are_dropped_and_other_lines_kept(capfd):
    with without_runtime_info():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"ERROR: a real problem\n")
    assert capfd.readouterr().err == "ERROR: a real problem\n"


def test_loading_a_model_prints_no_runtime_info(capfd):
    TFLiteClassifier(TINY_INT8_MODEL)
    assert "INFO" not in capfd.readouterr().err
