"""The shipped model's probabilities on the bundled samples stay where they were recorded."""

from __future__ import annotations

import json

import pytest

from edge_app.files import sha256_hex
from edge_app.package_data import DEFAULT_MODEL
from tests.fixtures.shipped_golden import GOLDEN, probabilities

TOLERANCE = 1.5 / 256
"""The output is int8 with a 1/256 step: one step of rounding difference between CPUs is allowed, no more."""


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text())


def test_the_golden_file_belongs_to_the_shipped_model(golden):
    assert golden["model_sha256"] == sha256_hex(DEFAULT_MODEL.read_bytes()), (
        "edge_app/models/pneumoscan.tflite changed without its golden file: run python -m tests.fixtures.shipped_golden"
    )


def test_the_shipped_model_gives_its_recorded_probabilities(golden):
    measured = probabilities()
    assert measured.keys() == golden["probabilities"].keys()
    for name, expected in golden["probabilities"].items():
        assert measured[name] == pytest.approx(expected, abs=TOLERANCE), name
