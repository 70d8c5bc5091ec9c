"""The committed tiny model runs through the device runtime and its outputs depend on the image.

Every device test that scans uses this model, so a model that answered the same for every image
(a broken fixture, a broken runtime, an input never reaching the model) would make them prove little.
"""

import numpy as np

from edge_app.contract import LABELS
from edge_app.inference.model_metadata import read_metadata
from edge_app.inference.runtime import TFLiteClassifier
from edge_app.intake.preprocess import preprocess
from edge_app.site import metrics
from tests.conftest import FIXTURE_DATA


def test_the_int8_model_tells_the_fixture_classes_apart(tiny_int8_model):
    classifier = TFLiteClassifier(tiny_int8_model)
    assert classifier.input_dtype == "int8"
    paths = sorted(FIXTURE_DATA.rglob("*.jpeg"))
    labels = np.array([LABELS.index(path.parent.name) for path in paths])
    scores = np.array([classifier.predict(preprocess(path, classifier.input_size)) for path in paths])

    assert np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()
    assert len(np.unique(scores)) >= 8, f"the model gives nearly the same output for every image: {np.unique(scores)}"
    # trained on these X-rays, it ranks pneumonia above normal more often than not (0.74 for the committed model)
    assert metrics.roc_auc(labels, scores) >= 0.65
    threshold = read_metadata(tiny_int8_model.read_bytes())["threshold"]
    assert (scores >= threshold).any() and (scores < threshold).any(), "scans must see both labels"
