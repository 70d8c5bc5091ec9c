"""The plain scan path (no CLI): model loading and verification, file collection, one result per image."""

from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edge_app import contract, reasons
from edge_app.inference import model_store
from edge_app.inference.model_store import ModelError, load_model
from edge_app.intake.preprocess import preprocess
from edge_app.scan.scanner import (
    ERROR,
    INFERENCE_FAILED,
    OK,
    REJECTED,
    UNREADABLE_FILE,
    ScanContext,
    classify,
    collect_images,
    scan_file,
    scan_prepared_files,
    threshold_score,
)
from edge_app.site.threshold_choice import resolve_threshold
from tests.conftest import FIXTURE_DATA

GOOD_IMAGES = (
    FIXTURE_DATA / "train" / "NORMAL" / "IM-0237-0001.jpeg",
    FIXTURE_DATA / "train" / "PNEUMONIA" / "person1002_bacteria_2933.jpeg",
    FIXTURE_DATA / "train" / "PNEUMONIA" / "person295_virus_612.jpeg",
)


def with_checksum(model: Path, folder: Path) -> Path:
    """A copy of `model` with its sha256sum-format sidecar, as the quantize step ships it."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "pneumoscan.tflite"
    shutil.copyfile(model, copy)
    digest = hashlib.sha256(copy.read_bytes()).hexdigest()
    model_store.sidecar_path(copy).write_text(f"{digest}  {copy.name}\n")
    return copy


def colour_photo() -> Image.Image:
    rng = np.random.default_rng(7)
    return Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((640, 480))


def make_mixed_batch(folder: Path) -> dict[str, str | None]:
    """Good X-rays and every kind of bad file a health worker may pick: file name -> expected reason (None = ok)."""
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, str | None] = {}
    for image in GOOD_IMAGES:
        shutil.copyfile(image, folder / image.name)
        expected[image.name] = None
    (folder / "empty.jpg").write_bytes(b"")
    expected["empty.jpg"] = reasons.EMPTY_FILE
    (folder / "notes.jpg").write_text("Patient notes, not an image.\n")
    expected["notes.jpg"] = reasons.NOT_AN_IMAGE
    large = io.BytesIO()
    Image.open(GOOD_IMAGES[0]).resize((600, 500)).save(large, "JPEG", quality=95)
    (folder / "truncated.jpeg").write_bytes(large.getvalue()[: large.tell() // 2])
    expected["truncated.jpeg"] = reasons.CORRUPT_IMAGE
    Image.open(GOOD_IMAGES[1]).resize((50, 50)).save(folder / "tiny.png")
    expected["tiny.png"] = reasons.TOO_SMALL
    colour_photo().save(folder / "holiday.jpg", quality=90)
    expected["holiday.jpg"] = reasons.COLOUR_PHOTO
    return expected


@pytest.fixture(scope="module")
def verified_model(tiny_int8_model, tmp_path_factory) -> Path:
    return with_checksum(tiny_int8_model, tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def model(verified_model):
    return load_model(verified_model)


# --- model loading and integrity ---


def test_a_verified_model_carries_its_metadata_threshold(model, verified_model):
    assert model.checksum_file == model_store.sidecar_path(verified_model)
    assert model.sha256 == hashlib.sha256(verified_model.read_bytes()).hexdigest()
    assert model.threshold == model.metadata["threshold"] and model.version == model.metadata["model_version"]
    assert model.input_size == 32


def test_a_verified_model_loads_with_fallbacks_when_it_has_no_metadata(bare_int8_model, tmp_path):
    bare = load_model(with_checksum(bare_int8_model, tmp_path))
    assert bare.metadata is None
    assert (bare.threshold, bare.labels, bare.version) == (0.5, contract.LABELS, "unversioned")


def test_a_tampered_model_is_refused(verified_model, tmp_path):
    tampered = with_checksum(verified_model, tmp_path)
    content = bytearray(tampered.read_bytes())
    content[len(content) // 2] ^= 0xFF
    tampered.write_bytes(bytes(content))
    with pytest.raises(ModelError, match="does not match its recorded SHA-256"):
        load_model(tampered)


def test_a_half_copied_model_is_refused(verified_model, tmp_path):
    half = with_checksum(verified_model, tmp_path)
    half.write_bytes(half.read_bytes()[: half.stat().st_size // 2])
    with pytest.raises(ModelError, match="damaged or was changed"):
        load_model(half)


def test_a_model_given_without_checksum_is_refused_unless_unverified_use_is_allowed(bare_int8_model):
    with pytest.raises(ModelError, match="--allow-unverified-model"):
        load_model(bare_int8_model)
    unverified = load_model(bare_int8_model, allow_unverified=True)
    assert unverified.checksum_file is None and not unverified.verified


def test_the_default_model_must_exist_and_carry_its_checksum(verified_model, tmp_path, monkeypatch):
    monkeypatch.setenv(model_store.MODEL_ENV, str(tmp_path / "missing.tflite"))
    with pytest.raises(ModelError, match="No model found"):
        load_model()
    bare = tmp_path / "bare.tflite"
    shutil.copyfile(verified_model, bare)
    monkeypatch.setenv(model_store.MODEL_ENV, str(bare))
    with pytest.raises(ModelError, match="checksum file bare.tflite.sha256 is missing"):
        load_model()
    monkeypatch.setenv(model_store.MODEL_ENV, str(verified_model))
    assert load_model().path == verified_model


def test_a_file_that_is_not_a_model_is_refused(tmp_path):
    fake = tmp_path / "model.tflite"
    fake.write_bytes(b"not a flatbuffer at all" * 10)
    with pytest.raises(ModelError, match="not a usable TensorFlow Lite model"):
        load_model(fake, allow_unverified=True)


def test_a_malformed_checksum_file_is_refused(verified_model, tmp_path):
    copy = with_checksum(verified_model, tmp_path)
    model_store.sidecar_path(copy).write_text("garbage\n")
    with pytest.raises(ModelError, match="not a SHA-256 checksum file"):
        load_model(copy)


def metadata(**overrides) -> dict:
    base = {
        "model_version": "2025.11-test",
        "labels": list(contract.LABELS),
        "threshold": 0.3,
        "threshold_method": "sensitivity>=0.95 on val",
        "input": {
            "size": 32,
            "channels": 1,
            "preprocessing": contract.PREPROCESSING_NAME,
            "preprocessing_version": contract.PREPROCESSING_VERSION,
        },
    }
    return base | overrides


def test_embedded_metadata_sets_threshold_and_version_and_the_flag_overrides_it(verified_model, monkeypatch):
    monkeypatch.setattr("edge_app.inference.runtime.read_metadata", lambda content: metadata())
    model = load_model(verified_model)
    assert (model.threshold, model.version) == (0.3, "2025.11-test")
    assert "sensitivity>=0.95" in model.threshold_detail and model.threshold_source == "model"
    overridden = model.using(resolve_threshold(model, 0.7))
    assert (overridden.threshold, overridden.threshold_source) == (0.7, "command_line")


def test_a_model_for_another_preprocessing_is_refused(verified_model, monkeypatch):
    other = metadata(input={"preprocessing": contract.PREPROCESSING_NAME, "preprocessing_version": 99})
    monkeypatch.setattr("edge_app.inference.runtime.read_metadata", lambda content: other)
    with pytest.raises(ModelError, match="expects preprocessing"):
        load_model(verified_model)


# --- choosing files ---


def test_collect_images_walks_folders_and_keeps_named_files(tmp_path):
    (tmp_path / "a" / "sub").mkdir(parents=True)
    (tmp_path / "a" / ".hidden").mkdir()
    for name in ("a/2.jpeg", "a/1.PNG", "a/sub/3.jpg", "a/scan.tif", "a/.hidden/4.jpg", "a/.5.jpg", "a/notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    named = tmp_path / "named.dat"
    named.write_bytes(b"x")
    found = collect_images([tmp_path / "a", named, tmp_path / "a" / "1.PNG"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a/1.PNG",
        "a/2.jpeg",
        "a/scan.tif",  # listed, so it is reported as unsupported rather than skipped
        "a/sub/3.jpg",
        "named.dat",  # named explicitly: always scanned (and rejected if not an image)
    ]
    assert [p.name for p in collect_images([tmp_path / "a"], recursive=False)] == ["1.PNG", "2.jpeg", "scan.tif"]


# --- the verdict ---


@pytest.mark.parametrize(
    ("probability", "label", "uncertain", "refer"),
    [
        (0.0, "NORMAL", False, False),
        (0.12, "NORMAL", False, False),  # score 24
        (0.20, "NORMAL", True, True),  # score 37: an uncertain NORMAL is referred (recall first)
        (0.30, "PNEUMONIA", True, True),  # at the threshold counts as positive (score 50)
        (0.45, "PNEUMONIA", True, True),  # score 66
        (0.60, "PNEUMONIA", False, True),  # score 78
    ],
)
def test_classify_refers_every_positive_and_every_uncertain_result(probability, label, uncertain, refer):
    assert classify(probability, 0.30, contract.LABELS) == (label, uncertain, refer)


@pytest.mark.parametrize("threshold", [0.05, 0.3, 0.5, 0.9])
def test_the_score_is_50_at_any_threshold_and_rises_with_the_probability(threshold):
    assert threshold_score(threshold, threshold) == pytest.approx(50.0)
    scores = [threshold_score(p, threshold) for p in (0.0, 0.01, 0.2, 0.5, 0.8, 0.99, 1.0)]
    assert scores == sorted(scores) and 0.0 <= scores[0] and scores[-1] <= 100.0


# --- scanning ---


def test_a_good_image_gets_exactly_the_models_prediction_on_the_shared_preprocessing(model):
    result = scan_file(GOOD_IMAGES[0], model, ScanContext("P-7", "Amina"))
    expected = model.classifier.predict(preprocess(GOOD_IMAGES[0], model.input_size))
    assert result.status == OK and result.reason is None
    assert result.probability == expected and result.score == round(threshold_score(expected, model.threshold))
    assert result.label in contract.LABELS and result.threshold == model.threshold
    assert result.sha256 == hashlib.sha256(GOOD_IMAGES[0].read_bytes()).hexdigest()
    assert (result.model_sha256, result.patient_id, result.operator) == (model.sha256, "P-7", "Amina")
    assert result.runtime.startswith("ai-edge-litert")


def test_a_mixed_batch_scans_the_good_and_rejects_each_bad_image_with_its_reason(model, tmp_path):
    expected = make_mixed_batch(tmp_path)
    results = {Path(s.result.path).name: s.result for s in scan_prepared_files(collect_images([tmp_path]), model)}
    assert {name: r.reason for name, r in results.items()} == expected
    for name, reason in expected.items():
        result = results[name]
        assert result.status == (OK if reason is None else REJECTED)
        assert (result.probability is None) == (reason is not None)
        assert result.sha256 == hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()


def test_an_unreadable_file_is_an_error_not_a_crash(model, tmp_path):
    (tmp_path / "plain.txt").write_text("not a folder")
    result = scan_file(tmp_path / "plain.txt" / "x.jpeg", model)  # the OS refuses: not a directory
    assert (result.status, result.reason, result.sha256) == (ERROR, UNREADABLE_FILE, None)


def test_a_model_failure_is_an_error_for_that_image_only(model, monkeypatch):
    def broken(x):
        raise RuntimeError("interpreter fault")

    monkeypatch.setattr(model.classifier, "predict", broken)
    result = scan_file(GOOD_IMAGES[0], model)
    assert (result.status, result.reason) == (ERROR, INFERENCE_FAILED)
    assert "interpreter fault" in result.message


def test_each_result_is_recorded_before_it_is_handed_on(model):
    recorded = []
    for count, scanned in enumerate(scan_prepared_files(GOOD_IMAGES, model, record=recorded.append), start=1):
        result = scanned.result
        assert len(recorded) == count and recorded[-1] is result


def test_a_file_name_that_is_not_utf8_is_scanned_printed_and_stored(model, tmp_path):
    import json
    import os

    from edge_app.storage import history

    odd = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.jpeg"))  # a Latin-1 name
    shutil.copyfile(GOOD_IMAGES[0], odd)
    result = scan_file(odd, model)
    assert result.status == OK and result.path.endswith("caf\\xe9.jpeg")
    json.dumps(result.as_dict())
    db = history.connect(tmp_path / "h.sqlite3")
    history.record(db, result)
    assert history.query(db)[0]["path"] == result.path
