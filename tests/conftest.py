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
def tiny_int8_model(tiny_training_run, tmp_path_factory) -> Path:
    """A fully int8 .tflite of the tiny model, for tests of code that runs models."""
    import numpy as np

    from edge_app.preprocess import preprocess
    from train.keras_env import keras, tf

    model = keras.models.load_model(tiny_training_run / "model.keras")
    images = sorted(FIXTURE_DATA.rglob("*.jpeg"))

    def representative():
        for path in images:
            yield [preprocess(path, TINY_IMAGE_SIZE)[np.newaxis]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    path = tmp_path_factory.mktemp("tiny_tflite") / "tiny_int8.tflite"
    path.write_bytes(converter.convert())
    return path
