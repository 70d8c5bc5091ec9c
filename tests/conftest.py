"""Shared fixtures: a tiny model trained on the committed X-ray fixture.

Everything here runs on a fresh clone without ../shared: the fixture images
live in tests/fixtures (real, downscaled Kermany X-rays, CC BY 4.0).
"""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURE_DATA = Path(__file__).parent / "fixtures" / "chest_xray"
TINY_IMAGE_SIZE = 32


@pytest.fixture(scope="session")
def fixture_data() -> Path:
    return FIXTURE_DATA


@pytest.fixture(scope="session")
def tiny_training_run(tmp_path_factory) -> Path:
    """An `edge-train` output folder (model.keras, splits.json, report.json) from a 2-epoch run."""
    from train.training import TrainConfig, train

    out = tmp_path_factory.mktemp("tiny_train")
    train(TrainConfig(data=FIXTURE_DATA, out=out, epochs=2, image_size=TINY_IMAGE_SIZE, batch_size=8, width=0.5))
    return out


@pytest.fixture(scope="session")
def tiny_quantize_run(tiny_training_run, tmp_path_factory) -> Path:
    """An `edge-quantize` output folder for the tiny model: float32, dynamic_range, int8 and
    pruned_int8 .tflite files with metadata and .sha256 sidecars, pruned.keras,
    model_card.md and quantize_report.json. One epoch each of pruning and PQAT."""
    from quantize.pipeline import QuantizeConfig, quantize

    out = tmp_path_factory.mktemp("tiny_quantize")
    quantize(
        QuantizeConfig(
            model=tiny_training_run / "model.keras",
            out=out,
            data=FIXTURE_DATA,
            epochs=1,
            qat_epochs=1,
            calibration_images=16,
            batch_size=8,
        ),
        log=lambda message: None,
    )
    return out


@pytest.fixture(scope="session")
def tiny_int8_model(tiny_quantize_run) -> Path:
    """The fully int8 .tflite that edge-quantize ships (pruned_int8), with its PneumoScan metadata."""
    return tiny_quantize_run / "pruned_int8.tflite"


@pytest.fixture(scope="session")
def bare_int8_model(tiny_int8_model, tmp_path_factory) -> Path:
    """The tiny int8 model without PneumoScan metadata and without a .sha256 sidecar,
    as a model converted by hand would arrive."""
    from edge_app.contract import METADATA_NAME
    from quantize.tflite_metadata import remove_metadata_entry

    path = tmp_path_factory.mktemp("bare_model") / "bare_int8.tflite"
    path.write_bytes(remove_metadata_entry(tiny_int8_model.read_bytes(), METADATA_NAME))
    return path
