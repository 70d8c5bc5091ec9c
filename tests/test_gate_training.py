"""`edge-train-gate` on the committed fixture with a few generated negatives: a loadable int8 gate."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from edge_app.inference import gate
from edge_app.inference.model_store import load_gate
from edge_app.intake.preprocess import decode_image, to_model_input
from train.gate_cli import main as edge_train_gate
from train.gate_data import every_orientation
from train.gate_negatives import KINDS, draw_negative
from train.gate_training import summarise


def test_the_command_writes_a_verified_int8_gate_with_its_report(fixture_data, tmp_path):
    out = tmp_path / "gate"
    result = CliRunner().invoke(
        edge_train_gate,
        ["--data", str(fixture_data), "--out", str(out), "--epochs", "1", "--negatives", "40", "--batch-size", "16"],
    )
    assert result.exit_code == 0, result.output
    trained = load_gate(out / "gate.tflite")  # checked against the .sha256 written beside it
    assert trained.classifier.input_dtype == "int8" and trained.metadata["classes"] == list(gate.CLASS_NAMES)
    probabilities = trained.classifier.outputs(to_model_input(decode_image(next(fixture_data.rglob("*.jpeg"))), 64))
    assert probabilities.shape == (len(gate.CLASS_NAMES),) and abs(probabilities.sum() - 1) < 0.05
    report = json.loads((out / "gate_report.json").read_text())
    assert report["data"]["train"]["negatives"] == 40
    for split in ("val", "test"):
        summary = report["evaluation"][split]
        assert summary["xrays_any_orientation"] == 16 * summary["upright_xrays"] > 0
        assert sum(summary["outcomes"].values()) == summary["xrays_any_orientation"] + summary["negatives"]


def test_a_folder_without_xrays_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(edge_train_gate, ["--data", str(tmp_path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "Error:" in result.output


def test_every_orientation_labels_each_mirror_turn_and_inversion():
    xrays = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4, 1)
    x, y = every_orientation(xrays)
    assert sorted(set(y.tolist())) == list(range(1, 17)) and len({image.tobytes() for image in x}) == 32
    for image, label in zip(x, y, strict=True):
        turns, inverted, mirrored = (label - 1) % 4, (label - 1) % 8 >= 4, label > 8
        correction = gate.Correction(turns, inverted, mirrored)
        assert sum(np.array_equal(correction.apply(image), upright) for upright in xrays) == 1


def test_negatives_are_reproducible_and_of_every_kind():
    first = [draw_negative(np.random.default_rng([5, i])) for i in range(3)]
    again = [draw_negative(np.random.default_rng([5, i])) for i in range(3)]
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(first, again, strict=True))
    for name, make in KINDS.items():
        image = make(np.random.default_rng(1))
        assert image.mode == "L" and min(image.size) >= 96, name


def test_a_mirrored_xray_left_mirrored_is_counted_apart_from_a_wrong_turn():
    y = np.array([1, 1, 9, 10, 10, 0])
    outcomes = ["pass", "correct:mirrored_rot0", "pass", "correct:rot90", "correct:rot180", "pass"]
    summary = summarise(outcomes, y)
    assert (summary["upright_rejected"], summary["upright_changed"]) == (0, 1)
    assert (summary["mirrored_xrays"], summary["mirrored_xrays_scanned_still_mirrored"]) == (3, 2)
    assert summary["xrays_accepted_with_wrong_orientation"] == 2  # the upright one mirrored, the turn misread
    assert summary["negatives_accepted"] == 1
