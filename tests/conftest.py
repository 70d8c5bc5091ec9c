"""Shared fixtures.

Everything here runs on a fresh clone without ../shared: the fixture images live in
tests/fixtures (real, downscaled Kermany X-rays, CC BY 4.0), and so do two tiny int8 models
made once by edge-train and edge-quantize (`python -m tests.fixtures.make_models`).

tests/device/ is the device suite: it needs only `pip install ".[test]"`, no TensorFlow, and
uses the committed models. The other tests need the train extra; the fixtures that train and
quantize a model with TensorFlow (tiny_training_run, tiny_quantize_run) are for them only, and
import TensorFlow when first used, so a device test that asked for one would fail, not skip.
"""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_DATA = FIXTURES / "chest_xray"
TINY_INT8_MODEL = FIXTURES / "models" / "tiny_int8.tflite"
TINY_INT8_BARE_MODEL = FIXTURES / "models" / "tiny_int8_bare.tflite"
TINY_IMAGE_SIZE = 32


@pytest.fixture(autouse=True)
def private_data_folder(tmp_path_factory, monkeypatch) -> None:
    """Every test gets its own empty PneumoScan data folder: a model installed, a site profile or a history
    on the machine running the tests never changes a result, and no test writes into them."""
    monkeypatch.setenv("PNEUMOSCAN_HOME", str(tmp_path_factory.mktemp("pneumoscan-home")))


@pytest.fixture(scope="session")
def fixture_data() -> Path:
    return FIXTURE_DATA


@pytest.fixture(scope="session")
def tiny_int8_model() -> Path:
    """The committed tiny int8 model: edge-quantize's pruned_int8.tflite, with its PneumoScan metadata."""
    return TINY_INT8_MODEL


@pytest.fixture(scope="session")
def bare_int8_model() -> Path:
    """The committed tiny int8 model without PneumoScan metadata and without a .sha256 sidecar,
    as a model converted by hand would arrive."""
    return TINY_INT8_BARE_MODEL


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
def android_export(tiny_int8_model, tmp_path_factory) -> Path:
    """The folder `edge-export android` writes for the tiny int8 model."""
    from click.testing import CliRunner

    from quantize import export_cli

    out = tmp_path_factory.mktemp("export") / "android"
    result = CliRunner().invoke(export_cli.main, ["android", "--model", str(tiny_int8_model), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out
