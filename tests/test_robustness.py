"""Accuracy under simulated acquisition shifts (edge-bench's robustness section)."""

import numpy as np
import pytest

from benchmarks.robustness import SHIFTS, acquisition_shifts, shifted_input
from edge_app.intake.preprocess import preprocess
from edge_app.site.dataset import list_split
from tests.conftest import FIXTURE_DATA


@pytest.mark.parametrize("name", sorted(SHIFTS))
def test_each_shift_yields_a_valid_model_input(name):
    path = sorted(FIXTURE_DATA.rglob("*.jpeg"))[0]
    x = shifted_input(path, SHIFTS[name], 32, np.random.default_rng(0))
    assert x.shape == (32, 32, 1) and x.dtype == np.float32
    assert -1.0 <= x.min() <= x.max() <= 1.0
    unchanged = np.array_equal(x, preprocess(path, 32))
    assert unchanged == (name == "none")


def test_shift_results_cover_every_shift_with_metrics(tiny_int8_model):
    examples = list_split(FIXTURE_DATA / "train", "train")[::3]
    results = acquisition_shifts(tiny_int8_model, examples, threshold=0.5)
    assert [r["shift"] for r in results] == list(SHIFTS)
    for r in results:
        assert r["n"] == len(examples)
        assert 0.0 <= r["auc"] <= 1.0 and r["auc_ci95"][0] <= r["auc"] <= r["auc_ci95"][1]
