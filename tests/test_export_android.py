"""edge-export android on the tiny int8 model: folder, zip, standard metadata, identical outputs."""

from __future__ import annotations

import hashlib
import json
import zipfile

import pytest
from click.testing import CliRunner
from PIL import Image

from edge_app.inference.model_metadata import read_metadata
from edge_app.inference.runtime import TFLiteClassifier
from edge_app.intake.preprocess import preprocess
from quantize import export_cli
from quantize import metadata_schema_py_generated as meta_fb
from quantize.android_export import FILES, MODEL_FILE, ExportError, export_android
from quantize.android_metadata import packed_files, read_android_metadata
from tests.conftest import FIXTURE_DATA


def test_writes_the_folder_and_a_zip_of_it(android_export):
    assert sorted(p.name for p in android_export.iterdir()) == sorted(FILES)
    with zipfile.ZipFile(android_export.with_name("android.zip")) as archive:
        assert sorted(archive.namelist()) == sorted(f"android/{name}" for name in FILES)
        assert archive.read(f"android/{MODEL_FILE}") == (android_export / MODEL_FILE).read_bytes()


def test_sha256_file_matches(android_export):
    data = (android_export / MODEL_FILE).read_bytes()
    assert (
        android_export / f"{MODEL_FILE}.sha256"
    ).read_text() == f"{hashlib.sha256(data).hexdigest()}  {MODEL_FILE}\n"


def test_standard_tflite_metadata_reads_back(android_export, tiny_int8_model):
    content = (android_export / MODEL_FILE).read_bytes()
    metadata = read_android_metadata(content)
    source_metadata = read_metadata(tiny_int8_model.read_bytes())
    assert metadata.minParserVersion == b"1.0.0"
    assert metadata.version.decode() == source_metadata["model_version"]
    subgraph = metadata.subgraphMetadata[0]
    (image,), (probability,) = subgraph.inputTensorMetadata, subgraph.outputTensorMetadata
    assert b"gray-squash-equalize" in image.description
    assert image.content.contentPropertiesType == meta_fb.ContentProperties.FeatureProperties
    (labels,) = probability.associatedFiles
    assert labels.name == b"labels.txt" and labels.type == meta_fb.AssociatedFileType.TENSOR_AXIS_LABELS
    # one label per value of the output axis, packed in the model's zip tail and in the folder
    assert packed_files(content) == {"labels.txt": b"PNEUMONIA\n"}
    assert (android_export / "labels.txt").read_text() == "PNEUMONIA\n"
    assert read_metadata(content) == source_metadata


def test_exported_model_gives_the_source_models_outputs(android_export, tiny_int8_model):
    exported, source = TFLiteClassifier(android_export / MODEL_FILE), TFLiteClassifier(tiny_int8_model)
    for path in sorted(FIXTURE_DATA.rglob("*.jpeg"))[::6]:
        x = preprocess(path, source.input_size)
        assert exported.predict(x) == source.predict(x)


def test_test_vector_is_what_the_python_pipeline_computes(android_export):
    vector = json.loads((android_export / "test_vector.json").read_text())
    image = (android_export / "test_vector.png").read_bytes()
    classifier = TFLiteClassifier(android_export / MODEL_FILE)
    x = preprocess(image, classifier.input_size)
    tensor = classifier.input_tensor(x)
    assert hashlib.sha256(tensor.tobytes()).hexdigest() == vector["input_int8_sha256"]
    assert classifier.predict(x) == pytest.approx(vector["probability"])
    with Image.open(android_export / "test_vector.png") as decoded:
        assert decoded.mode == "L" and decoded.size == (vector["image_width"], vector["image_height"])
    guide = (android_export / "ANDROID.md").read_text()
    assert vector["input_int8_sha256"] in guide
    assert f"assertEquals({vector['output_int8']}, model.rawOutput(input))" in guide
    assert "```kotlin" in guide and "fun equalise" in guide


def test_model_card_is_exported(android_export):
    assert "## Known limitations" in (android_export / "model_card.md").read_text()


def test_a_float_model_is_refused(tiny_quantize_run, tmp_path):
    out = tmp_path / "android"
    result = CliRunner().invoke(
        export_cli.main, ["android", "--model", str(tiny_quantize_run / "float32.tflite"), "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "full int8" in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_file_that_is_not_a_tflite_model_is_refused(tmp_path):
    fake = tmp_path / "model.tflite"
    fake.write_bytes(b"\x00" * 64)
    with pytest.raises(ExportError, match="not a TFLite model"):
        export_android(fake, tmp_path / "android")


def test_a_second_export_replaces_the_first(tiny_int8_model, tmp_path):
    out = tmp_path / "android"
    out.mkdir()
    (out / "stale.txt").write_text("from an earlier export")
    export_android(tiny_int8_model, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["android", "android.zip"]
