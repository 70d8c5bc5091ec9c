"""Scoring a model on an external labelled folder, at a threshold chosen elsewhere."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from edge_app.site.dataset import DatasetError
from lab.external import USE, external_summary, load_external


def test_an_external_folder_loads_as_model_inputs_with_labels(fixture_data):
    x, y, skipped = load_external(fixture_data / "train", 32, quiet=True)
    assert x.shape == (len(y), 32, 32, 1) and skipped == []
    assert sorted(np.unique(y)) == [0.0, 1.0]


def test_the_summary_uses_the_given_threshold_and_says_how_external_data_may_be_used(fixture_data):
    labels = np.array([0, 0, 1, 1, 1])
    scores = np.array([0.1, 0.6, 0.4, 0.7, 0.9])
    summary = external_summary(fixture_data, labels, scores, threshold=0.5, skipped=[])
    assert summary["threshold"] == 0.5 and summary["use"] == USE
    assert summary["confusion"] == {"tp": 2, "fn": 1, "tn": 1, "fp": 1}
    assert summary["auc"] == pytest.approx(5 / 6)
    assert summary["auc_ci95"][0] <= summary["auc"] <= summary["auc_ci95"][1]


def test_a_folder_without_both_classes_is_refused_by_name(tmp_path, fixture_data):
    shutil.copytree(fixture_data / "train" / "NORMAL", tmp_path / "site" / "NORMAL")
    with pytest.raises(DatasetError, match="PNEUMONIA"):
        load_external(tmp_path / "site", 32, quiet=True)


def test_unreadable_files_are_skipped_and_listed(tmp_path, fixture_data):
    shutil.copytree(fixture_data / "train", tmp_path / "site")
    (tmp_path / "site" / "NORMAL" / "IM-9001-0001.jpeg").write_text("not an image")
    x, y, skipped = load_external(tmp_path / "site", 32, quiet=True)
    assert len(x) == len(y) == 36 and [s["path"].rsplit("/", 1)[1] for s in skipped] == ["IM-9001-0001.jpeg"]
