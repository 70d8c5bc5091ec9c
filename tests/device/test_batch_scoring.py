"""Scoring many inputs per invoke gives the scan's own probabilities and leaves the scan's interpreter alone."""

from __future__ import annotations

import numpy as np
import pytest

from edge_app.inference.model_store import load_model
from edge_app.inference.runtime import BatchScorer
from edge_app.intake.preprocess import preprocess
from tests.conftest import FIXTURE_DATA


@pytest.fixture(scope="module")
def classifier():
    return load_model().classifier


@pytest.fixture(scope="module")
def inputs(classifier):
    files = sorted((FIXTURE_DATA / "train" / "NORMAL").glob("*.jpeg"))[:3]
    files += sorted((FIXTURE_DATA / "train" / "PNEUMONIA").glob("*.jpeg"))[:2]
    return [preprocess(path, classifier.input_size) for path in files]


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_a_batch_scores_each_image_as_the_scan_does_and_the_scan_stays_at_one_image(classifier, inputs, batch):
    scorer = BatchScorer(classifier, batch)
    scores = scorer.first_outputs(np.concatenate([classifier.input_tensor(x) for x in inputs]))
    one_by_one = [classifier.predict(x) for x in inputs]
    assert scores == pytest.approx(one_by_one, abs=1e-9)
    assert scorer.batched == (batch > 1)
    assert list(classifier.interpreter.get_input_details()[0]["shape"]) == list(classifier.input_shape)
    assert classifier.input_shape[0] == 1
