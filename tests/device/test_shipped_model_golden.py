"""The shipped model's probabilities on the bundled samples stay where they were recorded."""

from __future__ import annotations

import json

import pytest

from edge_app.files import sha256_hex
from edge_app.inference.runtime import TFLiteClassifier
from edge_app.package_data import DEFAULT_MODEL
from tests.fixtures.shipped_golden import GOLDEN, probabilities


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text())


def test_the_golden_file_belongs_to_the_shipped_model(golden):
    assert golden["model_sha256"] == sha256_hex(DEFAULT_MODEL.read_bytes()), (
        "edge_app/models/pneumoscan.tflite changed without its golden file: run python -m tests.fixtures.shipped_golden"
    )


def test_the_golden_probabilities_are_checked_on_the_path_devices_use():
    """Devices run XNNPACK (and refuse to vouch for any other path), so the golden file is checked on it."""
    assert "XNNPACK delegate" in TFLiteClassifier(DEFAULT_MODEL).kernel_path


def test_the_shipped_model_gives_its_recorded_probabilities(golden):
    """Exactly: a borderline sample one int8 step off would change verdict."""
    measured = probabilities()
    assert measured == golden["probabilities"]
