"""edge-export android on the tiny int8 model: folder, zip, standard metadata, identical outputs."""

from __future__ import annotations

import hashlib
import json
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from edge_app.model_metadata import read_metadata
from edge_app.preprocess import preprocess
from edge_app.runtime import TFLiteClassifier
from quantize import export_cli
from quantize import metadata_schema_py_generated as meta_fb
from quantize.android_export import FILES, MODEL_FILE, ExportError, export_android
from quantize.android_metadata import packed_files, read_android_metadata
from tests.conftest import FIXTURE_DATA


@pytest.fixture(scope="module")
def export(tiny_int8_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "android"
    result = CliRunner().invoke(export_cli.main, ["android", "--model", str(tiny_int8_model), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_writes_the_folder_and_a_zip_of_it(export):
    assert sorted(p.name for p in export.iterdir()) == sorted(FILES)
    with zipfile.ZipFile(export.with_name("android.zip")) as archive:
        assert sorted(archive.namelist()) == sorted(f"android/{name}" for name in FILES)
        assert archive.read(f"android/{MODEL_FILE}") == (export / MODEL_FILE).read_bytes()


def test_sha256_file_matches(export):
    data = (export / MODEL_FILE).read_bytes()
    assert (export / f"{MODEL_FILE}.sha256").read_text() == f"{hashlib.sha256(data).hexdigest()}  {MODEL_FILE}\n"


def test_standard_tflite_metadata_reads_back(export, tiny_int8_model):
    content = (export / MODEL_FILE).read_bytes()
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
    assert (export / "labels.txt").read_text() == "PNEUMONIA\n"
    assert read_metadata(content) == source_metadata


def test_exported_model_gives_the_source_models_outputs(export, tiny_int8_model):
    exported, source = TFLiteClassifier(export / MODEL_FILE), TFLiteClassifier(tiny_int8_model)
    for path in sorted(FIXTURE_DATA.rglob("*.jpeg"))[::6]:
        x = preprocess(path, source.input_size)
        assert exported.predict(x) == source.predict(x)


def test_test_vector_is_what_the_python_pipeline_computes(export):
    vector = json.loads((export / "test_vector.json").read_text())
    image = (export / "test_vector.png").read_bytes()
    classifier = TFLiteClassifier(export / MODEL_FILE)
    x = preprocess(image, classifier.input_size)
    tensor = classifier.input_tensor(x)
    assert hashlib.sha256(tensor.tobytes()).hexdigest() == vector["input_int8_sha256"]
    assert classifier.predict(x) == pytest.approx(vector["probability"])
    with Image.open(export / "test_vector.png") as decoded:
        assert decoded.mode == "L" and decoded.size == (vector["image_width"], vector["image_height"])
    guide = (export / "ANDROID.md").read_text()
    assert vector["input_int8_sha256"] in guide
    assert f"assertEquals({vector['output_int8']}, model.rawOutput(input))" in guide
    assert "```kotlin" in guide and "fun equalise" in guide


def test_model_card_is_exported(export):
    assert "## Known limitations" in (export / "model_card.md").read_text()


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


def _pillow_bilinear_port(pixels: np.ndarray, size: int) -> np.ndarray:
    """The resize algorithm ANDROID.md's Kotlin implements, transcribed line by line."""

    def kernel(in_size: int, out_size: int):
        scale = in_size / out_size
        filter_scale = max(scale, 1.0)
        support, ss = filter_scale, 1.0 / filter_scale
        result = []
        for xx in range(out_size):
            center = (xx + 0.5) * scale
            xmin = max(int(center - support + 0.5), 0)
            xmax = min(int(center + support + 0.5), in_size) - xmin
            k = [max(0.0, 1.0 - abs((x + xmin - center + 0.5) * ss)) for x in range(xmax)]
            total = sum(k)
            result.append((xmin, [w / total for w in k] if total else k))
        return result

    height, width = pixels.shape
    rows = np.zeros((height, size), np.float32)
    for xx, (start, k) in enumerate(kernel(width, size)):
        for y in range(height):
            ss = 0.0
            for x, w in enumerate(k):
                ss += float(pixels[y, start + x]) * w
            rows[y, xx] = ss
    out = np.zeros((size, size), np.float32)
    for yy, (start, k) in enumerate(kernel(height, size)):
        for x in range(size):
            ss = 0.0
            for y, w in enumerate(k):
                ss += float(rows[start + y, x]) * w
            out[yy, x] = ss
    return out


@pytest.mark.parametrize("shape", [(45, 37), (20, 16), (16, 16), (12, 9)])
def test_the_documented_resize_matches_pillow_exactly(shape):
    pixels = np.random.default_rng(1).integers(0, 256, shape).astype(np.float32)
    expected = np.asarray(Image.fromarray(pixels, mode="F").resize((16, 16), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(_pillow_bilinear_port(pixels, 16), expected)
