"""--external on edge-train: metrics on another site's images in the report, at the validation threshold."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

from lab.external import USE
from train.cli import main as edge_train

TINY = ["--epochs", "1", "--image-size", "32", "--batch-size", "8", "--width", "0.5"]


def test_edge_train_reports_the_external_folder_at_the_validation_threshold(tmp_path, fixture_data):
    out = tmp_path / "run"
    result = CliRunner().invoke(
        edge_train, ["--data", str(fixture_data), "--out", str(out), "--external", str(fixture_data / "train"), *TINY]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    summary = report["evaluation"]["external"]
    assert summary["threshold"] == report["operating_threshold"]["value"]
    assert summary["use"] == USE and summary["n"] == 36 and summary["n_positive"] == 18
    assert summary["auc_ci95"][0] <= summary["auc"] <= summary["auc_ci95"][1]
    assert "external: AUC" in result.output
    assert report["config"]["external"] == "tests/fixtures/chest_xray/train"


def test_a_wrong_external_folder_fails_before_training(tmp_path, fixture_data):
    site = tmp_path / "site"
    shutil.copytree(fixture_data / "train" / "PNEUMONIA", site / "PNEUMONIA")
    out = tmp_path / "run"
    result = CliRunner().invoke(
        edge_train, ["--data", str(fixture_data), "--out", str(out), "--external", str(site), *TINY]
    )
    assert result.exit_code == 1
    assert "NORMAL" in result.output and not (out / "model.keras").exists()


def test_edge_quantize_reports_every_variant_on_the_external_folder(tiny_training_run, tmp_path, fixture_data):
    from edge_app.inference.model_metadata import read_metadata
    from quantize.cli import main as edge_quantize

    out = tmp_path / "quantized"
    args = ["--model", str(tiny_training_run / "model.keras"), "--data", str(fixture_data), "--out", str(out)]
    args += ["--epochs", "1", "--qat-epochs", "0", "--calibration-images", "16", "--allow-parity-loss"]
    result = CliRunner().invoke(edge_quantize, [*args, "--external", str(fixture_data / "train")])
    assert result.exit_code == 0, result.output
    assert "External (36 images): AUC" in result.output

    report = json.loads((out / "quantize_report.json").read_text())
    for name, variant in report["variants"].items():
        assert variant["external"]["threshold"] == variant["threshold"], name
        assert variant["external"]["n"] == 36 and variant["external"]["use"] == USE
    metadata = read_metadata((out / "pruned_int8.tflite").read_bytes())
    assert metadata["metrics"]["external"]["auc"] == report["variants"]["pruned_int8"]["external"]["auc"]
    card = (out / "model_card.md").read_text()
    assert "| external | 36 (18) |" in card and "never used for fitting" in card
    assert "--external tests/fixtures/chest_xray/train" in card


def _bench(model, fixture_data, out, external):
    from benchmarks.cli import main as edge_bench

    args = ["--data", str(fixture_data), "--split", "train", "--models", str(model), "--threads", "1"]
    args += ["--cold-start-runs", "0", "--inference-runs", "3", "--no-scaling", "--no-edge-scan", "--no-robustness"]
    args += ["--no-heatmap", "--no-photo", "--out", str(out), "--external", str(external)]
    return CliRunner().invoke(edge_bench, args)


def test_edge_bench_puts_the_external_folder_next_to_the_internal_split(tiny_int8_model, fixture_data, tmp_path):
    result = _bench(tiny_int8_model, fixture_data, tmp_path / "bench", fixture_data / "train")
    assert result.exit_code == 0, result.output
    variant = json.loads((tmp_path / "bench" / "results.json").read_text())["variants"][0]
    external = variant["external"]
    assert external["threshold"] == variant["threshold"] and external["n"] == 36 and external["use"] == USE
    # the fixture's train split is the folder scored as "external" here, so both agree exactly
    assert external["auc"] == variant["accuracy"]["auc"]
    text = (tmp_path / "bench" / "results.md").read_text()
    assert "## Generalization: an external site" in text and "| `pruned_int8` |" in text


def test_edge_bench_refuses_an_external_folder_without_both_classes(tiny_int8_model, fixture_data, tmp_path):
    site = tmp_path / "site"
    shutil.copytree(fixture_data / "train" / "NORMAL", site / "NORMAL")
    result = _bench(tiny_int8_model, fixture_data, tmp_path / "bench", site)
    assert result.exit_code == 2 and "PNEUMONIA" in result.output
