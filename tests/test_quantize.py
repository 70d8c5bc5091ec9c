"""edge-quantize end to end on the tiny fixture model (session fixture `tiny_quantize_run`)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_app.contract import LABELS, METADATA_NAME
from edge_app.inference.model_metadata import read_metadata, schema
from edge_app.inference.reference_outputs import check_reference_outputs
from edge_app.inference.runtime import TFLiteClassifier
from edge_app.site import metrics
from edge_app.updates.threshold_figures import threshold_problems
from lab.loading import load_examples
from lab.portable_paths import repository_root
from quantize.pipeline import VARIANTS

REQUIRED_KEYS = {
    "schema_version",
    "name",
    "model_version",
    "created",
    "variant",
    "labels",
    "positive_label",
    "input",
    "threshold",
    "threshold_method",
    "target_sensitivity",
    "metrics",
    "training_data",
    "source_keras_sha256",
    "intended_use",
}
TFLITE_INT8, TFLITE_INT32 = 9, 2


@pytest.fixture(scope="module")
def report(tiny_quantize_run) -> dict:
    return json.loads((tiny_quantize_run / "quantize_report.json").read_text())


@pytest.fixture(scope="module")
def val_split(tiny_training_run, tiny_quantize_run):
    from quantize.source import read_splits

    _, splits = read_splits(tiny_training_run / "splits.json", None)
    x, y, _, _ = load_examples(splits["val"], 32, quiet=True)
    return x, y


def test_writes_every_file_with_a_checkable_sha256(tiny_quantize_run):
    names = {p.name for p in tiny_quantize_run.iterdir()}
    expected = {f"{v}.tflite" for v in VARIANTS} | {f"{v}.tflite.sha256" for v in VARIANTS}
    assert expected | {"pruned.keras", "quantize_report.json", "model_card.md"} == names
    for variant in VARIANTS:
        data = (tiny_quantize_run / f"{variant}.tflite").read_bytes()
        sidecar = (tiny_quantize_run / f"{variant}.tflite.sha256").read_text()
        assert sidecar == f"{hashlib.sha256(data).hexdigest()}  {variant}.tflite\n"


def test_metadata_reads_back_without_tensorflow(tiny_quantize_run, tiny_training_run):
    """Only ai-edge-litert's flatbuffer bindings: no TensorFlow, not even edge_app."""
    script = f"""
import json, sys
from ai_edge_litert import schema_py_generated as tfl
out = {{}}
for variant in {list(VARIANTS)!r}:
    content = open({str(tiny_quantize_run)!r} + "/" + variant + ".tflite", "rb").read()
    model = tfl.Model.GetRootAs(content, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if entry.Name().decode() == {METADATA_NAME!r}:
            out[variant] = json.loads(model.Buffers(entry.Buffer()).DataAsNumpy().tobytes())
assert "tensorflow" not in sys.modules
print(json.dumps(out))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    found = json.loads(result.stdout)
    keras_sha = hashlib.sha256((tiny_training_run / "model.keras").read_bytes()).hexdigest()
    assert set(found) == set(VARIANTS)
    for variant, metadata in found.items():
        assert REQUIRED_KEYS <= set(metadata)
        assert metadata["schema_version"] == 2 and metadata["variant"] == variant
        assert metadata["labels"] == list(LABELS) and metadata["positive_label"] == "PNEUMONIA"
        assert metadata["source_keras_sha256"] == keras_sha
        assert {"val", "test"} <= set(metadata["metrics"])
        assert "not a diagnosis" in metadata["intended_use"]
        assert metadata["input"]["size"] == 32 and metadata["input"]["channels"] == 1


def test_input_description_matches_the_model(tiny_quantize_run):
    for variant in VARIANTS:
        classifier = TFLiteClassifier(tiny_quantize_run / f"{variant}.tflite")
        described = classifier.metadata["input"]
        assert described["dtype"] == classifier.input_dtype
        detail = classifier.interpreter.get_input_details()[0]
        if classifier.input_dtype == "float32":
            assert described["quantization"] is None
        else:
            scale, zero_point = detail["quantization"]
            assert described["quantization"] == {"scale": pytest.approx(scale), "zero_point": zero_point}


@pytest.mark.parametrize("variant", ["int8", "pruned_int8"])
def test_int8_variants_are_fully_integer(tiny_quantize_run, variant):
    tfl = schema()
    content = (tiny_quantize_run / f"{variant}.tflite").read_bytes()
    subgraph = tfl.Model.GetRootAs(content, 0).Subgraphs(0)
    types = {subgraph.Tensors(i).Type() for i in range(subgraph.TensorsLength())}
    assert types <= {TFLITE_INT8, TFLITE_INT32}
    assert TFLiteClassifier(content).input_dtype == "int8"


def test_threshold_is_chosen_on_each_variants_own_validation_outputs(tiny_quantize_run, val_split, report):
    x, y = val_split
    for variant in VARIANTS:
        classifier = TFLiteClassifier(tiny_quantize_run / f"{variant}.tflite")
        scores = np.array([classifier.predict(image) for image in x])
        expected = metrics.threshold_for_sensitivity(y, scores, report["target_sensitivity"])
        assert classifier.metadata["threshold"] == pytest.approx(expected)
        assert classifier.metadata["metrics"]["val"]["auc"] == pytest.approx(metrics.roc_auc(y, scores))
        assert report["variants"][variant]["threshold"] == pytest.approx(expected)


def test_float32_tflite_matches_keras(tiny_training_run, tiny_quantize_run, val_split):
    from lab.keras_env import keras

    x, _ = val_split
    model = keras.models.load_model(tiny_training_run / "model.keras")
    keras_scores = model.predict(x, verbose=0).ravel()
    classifier = TFLiteClassifier(tiny_quantize_run / "float32.tflite")
    np.testing.assert_allclose([classifier.predict(image) for image in x], keras_scores, atol=1e-5)


def test_pruning_reaches_the_target_on_large_layers_only(report):
    pruning = report["pruning"]
    layers = pruning["sparsity"]["layers"]
    pruned = {name: v for name, v in layers.items() if v["pruned"]}
    assert pruned, "no layer was pruned"
    assert all(v["weights"] >= pruning["min_weights_to_prune"] for v in pruned.values())
    assert all(abs(v["sparsity"] - pruning["target_sparsity"]) < 0.01 for v in pruned.values())
    assert all(v["sparsity"] < 0.05 for v in layers.values() if not v["pruned"])


def test_pruned_int8_zeros_survive_quantization(tiny_quantize_run, report):
    """The int8 weight buffers of the pruned model keep its zeros, which is what gzip exploits."""
    tfl = schema()

    def int8_zero_share(variant: str) -> float:
        content = (tiny_quantize_run / f"{variant}.tflite").read_bytes()
        model = tfl.ModelT.InitFromPackedBuf(bytearray(content), 0)
        weights = [
            model.buffers[t.buffer].data
            for t in model.subgraphs[0].tensors
            if t.type == TFLITE_INT8 and model.buffers[t.buffer].data is not None
        ]
        values = np.concatenate([np.asarray(w) for w in weights])
        return float((values == 0).mean())

    assert int8_zero_share("pruned_int8") > report["pruning"]["sparsity"]["overall"] - 0.05
    assert int8_zero_share("int8") < 0.2
    assert report["variants"]["pruned_int8"]["gzip_bytes"] < report["variants"]["int8"]["gzip_bytes"]


def test_report_compares_ptq_with_pqat_and_all_variants(report):
    assert set(report["pruned_quantization"]["val_auc"]) == {"ptq", "pqat"}
    assert report["pruned_quantization"]["chosen"] in {"ptq", "pqat"}
    for variant in VARIANTS:
        entry = report["variants"][variant]
        assert entry["raw_bytes"] > entry["gzip_bytes"] > 0
        assert {"auc", "sensitivity", "specificity", "auc_ci95"} <= set(entry["val"])
    assert report["variants"]["int8"]["raw_bytes"] < report["variants"]["float32"]["raw_bytes"] / 1.5
    assert set(report["parity"]["checks"]) == {"int8", "pruned_int8"}
    assert report["parity"]["passed"] == all(c["ok"] for c in report["parity"]["checks"].values())
    assert report["sizes"]["pruned_int8_gzip_vs_int8_gzip"] == pytest.approx(
        report["variants"]["pruned_int8"]["gzip_bytes"] / report["variants"]["int8"]["gzip_bytes"], abs=1e-4
    )


def test_model_card_states_use_data_metrics_and_limitations(tiny_quantize_run):
    card = (tiny_quantize_run / "model_card.md").read_text()
    for heading in ("## Intended use", "## Data", "## Metrics", "## Known limitations"):
        assert heading in card
    assert "not a diagnosis" in card
    assert "95% CI" in card
    metadata = read_metadata((tiny_quantize_run / "pruned_int8.tflite").read_bytes())
    assert f"{metadata['threshold']:.4f}" in card
    assert "| train |" in card and "| val |" in card and "| test |" in card


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_records_figures_that_recompute_and_outputs_this_machine_reproduces(tiny_quantize_run, variant):
    classifier = TFLiteClassifier(tiny_quantize_run / f"{variant}.tflite")
    metadata = classifier.metadata
    assert threshold_problems(metadata) == []
    counts = {name: len(scores) for name, scores in metadata["validation_scores"]["scores"].items()}
    assert sum(counts.values()) == metadata["metrics"]["val"]["n"] and counts["PNEUMONIA"] > 0
    assert check_reference_outputs(classifier, metadata).verified is True
    assert "XNNPACK delegate" in metadata["reference_outputs"]["computed_with"]


def test_reports_and_metadata_record_paths_relative_to_the_repository(tiny_quantize_run):
    recorded = (tiny_quantize_run / "quantize_report.json").read_text()
    recorded += json.dumps(read_metadata((tiny_quantize_run / "pruned_int8.tflite").read_bytes()))
    recorded += (tiny_quantize_run / "model_card.md").read_text()
    assert str(repository_root()) not in recorded and '"/' not in recorded
    options = read_metadata((tiny_quantize_run / "pruned_int8.tflite").read_bytes())["provenance"]["edge_quantize"]
    assert options["options"]["data"] == "tests/fixtures/chest_xray"


def test_pruned_keras_model_loads(tiny_quantize_run):
    from lab.keras_env import keras

    model = keras.models.load_model(Path(tiny_quantize_run) / "pruned.keras")
    assert tuple(model.input_shape) == (None, 32, 32, 1)
