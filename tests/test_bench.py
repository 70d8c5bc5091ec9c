"""edge-bench: a tiny end-to-end benchmark run, the bad-input errors, and the pieces behind them."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from benchmarks.cli import main
from benchmarks.images import labelled_examples
from benchmarks.latency import STAGES
from benchmarks.machine import cpu_flags, cpu_model, memory_gib
from benchmarks.plots import make_plots
from benchmarks.report import markdown, write_results
from benchmarks.run import BenchConfig, run_benchmark
from benchmarks.scan_speed import LARGE_REPEATS, edge_scan_command
from benchmarks.variants import BenchmarkError, resolve_variants

ROOT = Path(__file__).resolve().parents[1]
ALL_VARIANTS = ["keras", "float32", "dynamic_range", "int8", "pruned_int8"]


@pytest.fixture(autouse=True)
def no_shipped_model(tmp_path_factory, monkeypatch):
    """Results must not depend on whether this checkout ships a default model."""
    monkeypatch.setattr("benchmarks.variants.DEFAULT_MODEL", tmp_path_factory.getbasetemp() / "no-shipped.tflite")


@pytest.fixture(scope="module")
def tiny_results(tiny_quantize_run, fixture_data, tmp_path_factory):
    """One full default benchmark of everything edge-quantize wrote (and its Keras source) on the fixture images."""
    config = BenchConfig(
        data=fixture_data,
        split="train",
        out=tmp_path_factory.mktemp("bench"),
        quantized=tiny_quantize_run,
        threads=(1, 2),
        warmup=2,
        inference_runs=20,
        cold_start_runs=1,
        scaling_widths=(64, 256),
        batch_sizes=(1, 4),
        device_label="test machine",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("benchmarks.variants.DEFAULT_MODEL", tmp_path_factory.getbasetemp() / "no-shipped.tflite")
        results = run_benchmark(config, log=lambda message: None)
    return config, results


def variant(results: dict, name: str) -> dict:
    return next(v for v in results["variants"] if v["name"] == name)


def test_every_variant_is_scored_on_the_same_images(tiny_results):
    _, results = tiny_results
    assert [v["name"] for v in results["variants"]] == ALL_VARIANTS
    for v in results["variants"]:
        a = v["accuracy"]
        assert a["n"] == 36 and a["n_positive"] == 18
        assert 0.0 <= a["auc"] <= 1.0 and a["auc_ci95"][0] <= a["auc"] <= a["auc_ci95"][1]
        assert sum(a["confusion"].values()) == 36
        assert len(a["roc"]["fpr"]) == len(a["roc"]["tpr"]) >= 2
        assert v["gzip_bytes"] < v["size_bytes"]
    assert results["variants"][0]["threshold_source"].endswith("report.json")
    assert all(v["threshold_source"] == "model metadata" for v in results["variants"][1:])
    assert 0.0 <= variant(results, "int8")["agreement_with_reference"]["same_call_fraction"] <= 1.0
    assert set(results["comparisons"]["auc_minus_reference"]) == set(ALL_VARIANTS[1:])


def test_latency_is_reported_alone_and_end_to_end_by_stage(tiny_results):
    _, results = tiny_results
    int8 = variant(results, "int8")
    assert [row["threads"] for row in int8["speed"]] == [1, 2]
    assert [row["threads"] for row in results["variants"][0]["speed"]] == ["tensorflow default"]
    for row in int8["speed"]:
        assert row["inference"]["n"] == 20
        assert row["end_to_end"]["n"] == 36
        stage_sum = sum(row["stages"][stage]["mean_ms"] for stage in STAGES)
        assert stage_sum == pytest.approx(row["end_to_end"]["mean_ms"], rel=0.02)
        assert row["end_to_end"]["p50_ms"] > row["inference"]["p50_ms"] > 0
        assert row["end_to_end"]["p95_ms"] >= row["end_to_end"]["p50_ms"]
    assert results["comparisons"]["keras_predict_over_int8_end_to_end_1_thread"] > 1.0


def test_cold_start_memory_and_machine_are_recorded(tiny_results):
    _, results = tiny_results
    for v in results["variants"]:
        cold = v["cold_start"]
        breakdown = cold["breakdown_of_median_run"]
        assert cold["median_s"] > breakdown["import_s"] + breakdown["load_s"] > 0
        assert cold["peak_rss_mb"] > 20
    keras, int8 = variant(results, "keras"), variant(results, "int8")
    assert keras["cold_start"]["peak_rss_mb"] > int8["cold_start"]["peak_rss_mb"]  # TensorFlow is not free
    assert keras["cold_start"]["breakdown_of_median_run"]["tensorflow_loaded"]
    assert not int8["cold_start"]["breakdown_of_median_run"]["tensorflow_loaded"]
    machine = results["machine"]
    assert machine["device_label"] == "test machine"
    assert machine["runtime"]["name"] and machine["python"] and machine["numpy"] and machine["logical_cores"] >= 1


def test_scaling_shows_cost_of_resolution_and_batch(tiny_results):
    _, results = tiny_results
    scaling = results["scaling"]
    assert [p["width"] for p in scaling["resolution"]] == [64, 256]
    assert [p["batch"] for p in scaling["batch"]] == [1, 4]
    for point in scaling["resolution"] + scaling["batch"]:
        assert point["peak_rss_mb"] > 0 and point["end_to_end"]["n"] > 0
    small, large = scaling["resolution"]
    assert large["file_bytes"] > small["file_bytes"]


def test_edge_scan_targets_are_measured_on_the_real_command(tiny_results):
    _, results = tiny_results
    scan = results["edge_scan"]
    assert edge_scan_command() is not None
    assert scan["available"] and scan["model"] == "int8"
    assert scan["batch"]["results"] == 500 and scan["batch"]["statuses"].get("ok") == 500
    targets = scan["targets"]
    assert set(targets) == {"start_to_first_result_s", "end_to_end_median_ms", "batch_500_peak_rss_mb"}
    assert all(t["measured"] > 0 for t in targets.values())
    # the fixture has no image 1800 px wide, so every image is timed, each LARGE_REPEATS times
    assert scan["large_images"]["images"] == 36
    assert scan["large_images"]["end_to_end"]["n"] == 36 * LARGE_REPEATS
    assert targets["end_to_end_median_ms"]["measured"] == scan["large_images"]["end_to_end"]["p50_ms"]


def test_report_files_hold_every_number(tiny_results):
    config, results = tiny_results
    json_path, md_path = write_results(results, config.out)
    plots, message = make_plots(results, config.out)
    assert (
        json.loads(json_path.read_text())["variants"][1]["speed"][0]["end_to_end"]
        == (results["variants"][1]["speed"][0]["end_to_end"])
    )
    text = md_path.read_text()
    assert text == markdown(results)
    for heading in ("## Summary", "## Latency", "## Cold start", "## Scaling", "## edge-scan speed targets"):
        assert heading in text
    assert all(f"| `{name}` |" in text for name in ALL_VARIANTS)
    assert message is None and len(plots) == 3
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in plots)


def test_results_record_paths_relative_to_the_repository(tiny_results):
    """results.json and results.md are committed: no checkout root or temporary folder of this machine in them."""
    config, results = tiny_results
    assert results["data"]["labelled"]["source"] == "tests/fixtures/chest_xray"
    assert results["config"]["data"] == "tests/fixtures/chest_xray"
    assert results["config"]["out"].startswith("$TMPDIR/") and results["config"]["quantized"].startswith("$TMPDIR/")
    assert all(v["path"].startswith("$TMPDIR/") for v in results["variants"])
    text = json.dumps(results) + markdown(results)
    assert f"{ROOT}/" not in text and f"{tempfile.gettempdir()}/" not in text


def test_cli_prints_markdown_and_writes_results(tiny_int8_model, fixture_data, tmp_path):
    result = CliRunner().invoke(
        main,
        ["--data", str(fixture_data), "--split", "train", "--models", str(tiny_int8_model), "--threads", "1",
         "--cold-start-runs", "0", "--inference-runs", "7", "--no-scaling", "--no-edge-scan", "--out", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "| `pruned_int8` |" in result.stdout
    variant = json.loads((tmp_path / "results.json").read_text())["variants"][0]
    assert variant["cold_start"] is None
    assert variant["threshold_source"] == "model metadata" and 0.0 < variant["threshold"] < 1.0
    assert variant["speed"][0]["inference"]["n"] == 7
    photo = json.loads((tmp_path / "results.json").read_text())["photo"]
    assert photo["photo_px"] == [4000, 3000] and photo["straighten_cpu_median_ms"] > 0
    assert "## Photos of films (edge-scan scan --photo)" in result.stdout


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda tmp, data, model: ["--data", str(data), "--split", "train", "--models", str(tmp / "fake.tflite")],
         "not a TFLite model"),
        (lambda tmp, data, model: ["--data", str(tmp), "--models", str(model)], "no labelled images"),
        (lambda tmp, data, model: ["--data", str(data), "--split", "train", "--models", "int4"],
         "unknown variant 'int4'"),
        (lambda tmp, data, model: ["--data", str(data), "--split", "train"], "no models to benchmark"),
        (lambda tmp, data, model: ["--data", str(data), "--threads", "0"], "positive thread counts"),
    ],
)  # fmt: skip
def test_bad_input_gives_clear_error_and_nonzero_exit(make_args, message, fixture_data, tiny_int8_model, tmp_path):
    (tmp_path / "fake.tflite").write_bytes(b"this is a JPEG, honestly")
    result = CliRunner().invoke(main, make_args(tmp_path, fixture_data, tiny_int8_model))
    assert result.exit_code != 0
    assert message in result.output


def test_splits_file_selects_the_internal_test_split(tiny_training_run, fixture_data, tmp_path):
    splits = tiny_training_run / "splits.json"
    expected = json.loads(splits.read_text())["splits"]["test"]
    examples = labelled_examples(fixture_data, "test", splits)
    assert [str(e.path.relative_to(fixture_data)) for e in examples] == [item["path"] for item in expected]
    with pytest.raises(BenchmarkError, match="not found"):
        labelled_examples(tmp_path, "test", splits)
    with pytest.raises(BenchmarkError, match="no split 'holdout'"):
        labelled_examples(fixture_data, "holdout", splits)


def test_cpu_description_from_x86_and_raspberry_pi_cpuinfo():
    x86 = "processor\t: 0\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n"
    pi = (
        "processor\t: 0\nFeatures\t: fp asimd evtstrm crc32 cpuid\n\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 B\n"
    )
    assert cpu_model(x86) == "AMD EPYC 9R14" and cpu_flags(x86) == ["avx2", "avx512f", "avx512_vnni"]
    assert cpu_model(pi) == "Raspberry Pi 4 B" and cpu_flags(pi) == ["asimd"]
    assert memory_gib("MemTotal:       24683784 kB\nMemFree:         1024 kB\n") == 23.5
    assert memory_gib("") is None


def test_keras_float_model_is_judged_at_its_report_threshold(tiny_results, tiny_training_run):
    _, results = tiny_results
    report = json.loads((tiny_training_run / "report.json").read_text())
    assert results["variants"][0]["threshold"] == report["operating_threshold"]["value"]
    assert np.isfinite(results["variants"][0]["accuracy"]["sensitivity"])


def test_benchmark_imports_neither_tensorflow_nor_matplotlib_up_front():
    """On a Raspberry Pi there is no TensorFlow, and matplotlib is optional."""
    code = (
        "import sys, benchmarks.cli, benchmarks.run, benchmarks.plots, benchmarks.report; "
        "print(sorted(m for m in ('tensorflow', 'tf_keras', 'matplotlib') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_default_variants_are_what_edge_quantize_wrote_plus_its_source_keras(tiny_quantize_run, tiny_training_run):
    variants = resolve_variants((), tiny_quantize_run, None)
    assert [(v.name, v.kind) for v in variants] == [("keras", "keras")] + [(n, "tflite") for n in ALL_VARIANTS[1:]]
    picked = resolve_variants(("int8", "keras"), tiny_quantize_run, tiny_training_run / "model.keras")
    assert [v.name for v in picked] == ["int8", "keras"]


def test_heatmap_cost_is_measured_at_the_edge_scan_grid_and_a_finer_one(tiny_results):
    _, results = tiny_results
    heatmap = results["heatmap"]
    shipped, finer = heatmap["grids"]
    assert (shipped["patch_px"], shipped["stride_px"], shipped["occluded_copies"]) == (8, 4, 49)  # 32 px tiny input
    assert finer["occluded_copies"] > shipped["occluded_copies"]
    assert 0 < shipped["model_median_ms"] <= shipped["median_ms"]
    assert heatmap["met"] == (shipped["median_ms"] <= heatmap["target_ms"])
    assert "## Heatmap cost" in markdown(results)
