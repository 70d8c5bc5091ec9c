"""The tiny fixture model runs through the device runtime."""

import numpy as np

from edge_app.preprocess import preprocess
from edge_app.runtime import TFLiteClassifier
from tests.conftest import FIXTURE_DATA


def test_int8_model_gives_probabilities(tiny_int8_model):
    classifier = TFLiteClassifier(tiny_int8_model)
    assert classifier.input_dtype == "int8"
    probabilities = [
        classifier.predict(preprocess(path, classifier.input_size)) for path in sorted(FIXTURE_DATA.rglob("*.jpeg"))[:6]
    ]
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    assert np.isfinite(probabilities).all()
