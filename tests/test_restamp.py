"""Restamping a built model: new metadata, the same weights and outputs, refused when its split cannot be rebuilt."""

from __future__ import annotations

import shutil

from click.testing import CliRunner

from edge_app.files import read_sidecar, sha256_hex, sidecar_path
from edge_app.inference.model_metadata import read_metadata
from edge_app.inference.reference_outputs import fixed_input
from edge_app.inference.runtime import TFLiteClassifier
from edge_app.updates.threshold_figures import threshold_problems
from lab.tflite_metadata import embed_metadata
from quantize.restamp import main as restamp
from tests.conftest import FIXTURE_DATA, TINY_INT8_MODEL

ADDED = ("validation_scores", "reference_outputs")


def older_model(folder):
    """The tiny model as a schema-1 build left it: no figures to check, an absolute path of its machine."""
    metadata = read_metadata(TINY_INT8_MODEL.read_bytes())
    older = {key: value for key, value in metadata.items() if key not in ADDED} | {"schema_version": 1}
    older["provenance"]["edge_train"]["options"]["out"] = "/home/someone/pneumoscan/runs/tiny"
    folder.mkdir()
    path = folder / "model.tflite"
    path.write_bytes(embed_metadata(TINY_INT8_MODEL.read_bytes(), older))
    return path, metadata


def outputs(path) -> list:
    classifier = TFLiteClassifier(path)
    return [classifier.raw_outputs(fixed_input(f"probe-{n}", 100, classifier.input_shape)).tolist() for n in range(8)]


def test_restamp_adds_the_figures_and_reference_outputs_and_changes_no_output(tmp_path):
    model, committed = older_model(tmp_path / "m")
    before = outputs(model)
    args = ["--model", model, "--data", FIXTURE_DATA, "--built-in", "/home/someone/pneumoscan"]
    result = CliRunner().invoke(restamp, [str(arg) for arg in args])
    assert result.exit_code == 0, result.output
    metadata = read_metadata(model.read_bytes())
    assert metadata["schema_version"] == 2 and threshold_problems(metadata) == []
    assert {key: metadata[key] for key in ADDED} == {key: committed[key] for key in ADDED}
    assert metadata["provenance"]["edge_train"]["options"]["out"] == "runs/tiny"
    assert outputs(model) == before
    assert read_sidecar(sidecar_path(model)) == sha256_hex(model.read_bytes())
    assert (model.parent / "MODEL_CARD.md").is_file()


def test_restamp_refuses_when_the_split_cannot_be_carved_again(tmp_path):
    model, _ = older_model(tmp_path / "m")
    data = tmp_path / "data"
    shutil.copytree(FIXTURE_DATA, data)
    next((data / "train" / "NORMAL").iterdir()).unlink()
    content = model.read_bytes()
    result = CliRunner().invoke(restamp, ["--model", str(model), "--data", str(data), "--built-in", str(tmp_path)])
    assert result.exit_code == 1 and "not the recorded" in result.output
    assert model.read_bytes() == content and not sidecar_path(model).exists()
