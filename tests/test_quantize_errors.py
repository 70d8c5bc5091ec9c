"""edge-quantize refuses bad input quickly, clearly, and without leaving files behind.

These tests fail before any conversion starts, so they are fast; the parity
gate is tested on the CLI with the pipeline replaced by the gate's own check of given AUCs.
"""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from quantize import cli, evaluate
from quantize.pipeline import MAX_AUC_DROP
from quantize.source import QuantizeError, load_source_model, read_splits


def _run(*args: str):
    return CliRunner().invoke(cli.main, list(args))


def test_a_file_that_is_not_a_keras_model(tmp_path):
    fake = tmp_path / "model.keras"
    fake.write_text("not a model")
    out = tmp_path / "out"
    result = _run("--model", str(fake), "--out", str(out))
    assert result.exit_code == 1
    assert "not a Keras model file" in result.output and str(fake) in result.output
    assert not out.exists()


def test_a_missing_model(tmp_path):
    with pytest.raises(QuantizeError, match="no such file"):
        load_source_model(tmp_path / "missing.keras")


def test_a_model_with_an_unexpected_input_shape(tmp_path):
    from lab.keras_env import keras

    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(inputs)))
    path = tmp_path / "model.keras"
    model.save(path)
    with pytest.raises(QuantizeError, match=r"expected one square grayscale image"):
        load_source_model(path)


def test_a_dataset_path_without_images(tmp_path, tiny_training_run):
    empty = tmp_path / "chest_xray"
    for label in ("NORMAL", "PNEUMONIA"):
        (empty / "train" / label).mkdir(parents=True)
    out = tmp_path / "out"
    result = _run(
        "--model",
        str(tiny_training_run / "model.keras"),
        "--data",
        str(empty),
        "--out",
        str(out),
    )
    assert result.exit_code == 1
    assert "no images found" in result.output
    assert not out.exists()


def test_a_dataset_path_that_does_not_exist(tmp_path, tiny_training_run):
    with pytest.raises(QuantizeError, match="no such folder"):
        read_splits(tiny_training_run / "splits.json", tmp_path / "nowhere")


def test_a_missing_splits_file(tmp_path, tiny_training_run):
    model = tmp_path / "model.keras"
    shutil.copy(tiny_training_run / "model.keras", model)
    result = _run("--model", str(model), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "splits.json" in result.output and "--splits" in result.output


def test_a_splits_file_that_is_not_edge_trains(tmp_path):
    splits = tmp_path / "splits.json"
    splits.write_text(json.dumps({"something": "else"}))
    with pytest.raises(QuantizeError, match="not a splits.json"):
        read_splits(splits, None)


@pytest.mark.parametrize(
    ("variant_aucs", "failing"),
    [
        ({"int8": 0.75, "pruned_int8": 0.4375}, ["pruned_int8"]),
        ({"int8": 0.75, "pruned_int8": 0.49609375}, ["pruned_int8"]),  # 1/256 beyond the limit
        ({"int8": 0.4375, "pruned_int8": 0.5}, ["int8"]),
        ({"int8": 0.25, "pruned_int8": 0.25}, ["int8", "pruned_int8"]),
        ({"int8": 0.5, "pruned_int8": 1.0}, []),
    ],
)
def test_parity_check_fails_each_variant_that_loses_more_than_allowed(variant_aucs, failing):
    # reference 0.75 and an allowed drop of 0.25: binary-exact, so 0.5 sits exactly on the limit and passes
    parity = evaluate.parity_check(0.75, variant_aucs, max_drop=0.25)
    assert [name for name, check in parity["checks"].items() if not check["ok"]] == failing
    assert parity["passed"] is (not failing)
    assert parity["checks"]["int8"]["drop"] == 0.75 - variant_aucs["int8"]


def _failed_parity_report(config=None) -> dict:
    """What edge-quantize reports when pruned_int8 loses 0.02 validation AUC and int8 0.001."""
    return {
        "sizes": {"int8_raw_vs_float32_raw": 0.36, "pruned_int8_gzip_vs_int8_gzip": 0.45},
        "pruned_quantization": {"chosen": "ptq"},
        "variants": {"pruned_int8": {}},  # no --external run
        "parity": evaluate.parity_check(0.95, {"int8": 0.949, "pruned_int8": 0.93}, MAX_AUC_DROP),
    }


def test_parity_loss_exits_non_zero(monkeypatch, tmp_path):
    monkeypatch.setattr("quantize.pipeline.quantize", _failed_parity_report)
    result = _run("--model", "m.keras", "--out", str(tmp_path))
    assert result.exit_code == cli.PARITY_EXIT_CODE
    assert "Parity gate failed: pruned_int8 val AUC 0.9300" in result.output


def test_parity_loss_can_be_overridden_for_experiments(monkeypatch, tmp_path):
    monkeypatch.setattr("quantize.pipeline.quantize", _failed_parity_report)
    result = _run("--model", "m.keras", "--out", str(tmp_path), "--allow-parity-loss")
    assert result.exit_code == 0
    assert "Overridden by --allow-parity-loss" in result.output


def test_sparsity_below_one_half_is_refused(tmp_path):
    result = _run("--model", "m.keras", "--out", str(tmp_path), "--sparsity", "0.3")
    assert result.exit_code == 2
    assert "--sparsity" in result.output
