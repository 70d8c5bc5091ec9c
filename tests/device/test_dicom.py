"""DICOM input: CR/DX radiographs read as a viewer shows them, everything else rejected with a reason.

Verdicts are compared with the shipped model, because the claim is about real
X-rays: a DICOM made from a sample JPEG must get that JPEG's verdict.
"""

from __future__ import annotations

import json
import sqlite3
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from pydicom.encaps import encapsulate
from pydicom.uid import JPEG2000Lossless, RLELossless

from edge_app.cli.main import main
from edge_app.inference.model_store import load_model
from edge_app.intake import dicom_input
from edge_app.intake.preprocess import preprocess, to_model_input
from edge_app.intake.quality import check_quality
from edge_app.package_data import SAMPLES_DIR
from edge_app.reasons import ImageRejected
from edge_app.scan.scanner import OK, REJECTED, ScanContext, collect_images, scan_file
from tests.dicom_factory import bundled_file, cr_dataset, dicom_bytes, write_dicom

SAMPLE_JPEGS = sorted(SAMPLES_DIR.glob("*.jpeg"))


@pytest.fixture(scope="module")
def shipped_model():
    return load_model()


def model_input_of(data: bytes) -> np.ndarray:
    image, _ = dicom_input.read_dicom(data)
    check_quality(image)
    return to_model_input(image)


@pytest.mark.parametrize("jpeg", SAMPLE_JPEGS, ids=lambda p: p.name)
def test_a_monochrome1_12_bit_cr_with_a_voi_lut_gets_the_same_verdict_as_its_jpeg(jpeg, shipped_model, tmp_path):
    dicom = write_dicom(cr_dataset(jpeg, monochrome1=True, bits=12, voi_lut=True), tmp_path / "xray.dcm")
    from_jpeg = scan_file(jpeg, shipped_model)
    from_dicom = scan_file(dicom, shipped_model)
    assert from_dicom.status == OK, from_dicom.message
    assert from_dicom.refer == from_jpeg.refer
    if from_jpeg.uncertain:  # a borderline sample sits at the threshold, where one int8 step moves the score ~4
        assert abs(from_dicom.score - from_jpeg.score) <= 10
    else:
        assert from_dicom.label == from_jpeg.label and abs(from_dicom.score - from_jpeg.score) <= 5


def test_the_dicom_model_input_matches_the_jpeg_one_and_skipping_the_inversion_would_not():
    jpeg = SAMPLE_JPEGS[0]
    reference = preprocess(jpeg)
    dicom_input_array = model_input_of(dicom_bytes(cr_dataset(jpeg, monochrome1=True)))
    assert np.corrcoef(dicom_input_array.ravel(), reference.ravel())[0, 1] > 0.99
    as_if_monochrome2 = cr_dataset(jpeg, monochrome1=True)
    as_if_monochrome2.PhotometricInterpretation = "MONOCHROME2"
    assert np.corrcoef(model_input_of(dicom_bytes(as_if_monochrome2)).ravel(), reference.ravel())[0, 1] < -0.9


def test_twelve_bit_detail_is_kept_not_cut_to_eight_bits():
    dataset = cr_dataset(SAMPLE_JPEGS[0], voi_lut=False, monochrome1=False)
    stored = np.frombuffer(dataset.PixelData, dtype=np.uint16).reshape(dataset.Rows, dataset.Columns)
    fine = np.clip(stored + np.random.default_rng(3).integers(0, 16, stored.shape), 0, 4095).astype(np.uint16)
    dataset.PixelData = fine.tobytes()  # detail below the 8-bit step of 16 levels
    image, _ = dicom_input.read_dicom(dicom_bytes(dataset))
    pixels = np.asarray(image)
    assert image.mode == "F"
    assert len(np.unique(pixels)) > 1000
    assert 0 <= pixels.min() and pixels.max() <= 4095


def test_window_centre_and_width_are_applied_when_there_is_no_voi_lut():
    dataset = cr_dataset(SAMPLE_JPEGS[0], voi_lut=False, monochrome1=False)
    stored = np.frombuffer(dataset.PixelData, dtype=np.uint16).reshape(dataset.Rows, dataset.Columns)
    low, high = np.percentile(stored, [4, 99])  # a window that clips only the darkest few percent and the top
    dataset.WindowCenter, dataset.WindowWidth = (low + high) / 2, high - low
    image, _ = dicom_input.read_dicom(dicom_bytes(dataset))
    pixels = np.asarray(image)
    assert dicom_input.FULL_RANGE not in image.info.get("pneumoscan_adjustments", ())
    assert np.all(pixels[stored < low - 5] == 0) and np.all(pixels[stored > high + 5] == 4095)
    inside = (stored > low + 10) & (stored < high - 10)
    assert inside.any() and np.all((pixels[inside] > 0) & (pixels[inside] < 4095))


def test_the_dicom_patient_id_is_used_unless_one_is_given_and_the_study_uid_is_recorded(shipped_model, tmp_path):
    dicom = write_dicom(cr_dataset(SAMPLE_JPEGS[0], patient_id="DCM-42", study_uid="1.2.3.4.5"), tmp_path / "a.dcm")
    from_tags = scan_file(dicom, shipped_model)
    assert (from_tags.patient_id, from_tags.study_uid) == ("DCM-42", "1.2.3.4.5")
    given = scan_file(dicom, shipped_model, ScanContext(patient_id="P-0001"))
    assert (given.patient_id, given.study_uid) == ("P-0001", "1.2.3.4.5")
    jpeg = scan_file(SAMPLE_JPEGS[0], shipped_model)
    assert (jpeg.patient_id, jpeg.study_uid) == (None, None)


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm"])
def test_a_ct_or_mr_dicom_is_rejected_as_the_wrong_modality(name, shipped_model):
    result = scan_file(bundled_file(name), shipped_model)
    assert (result.status, result.reason) == (REJECTED, "wrong_modality")
    assert "not a chest X-ray" in result.message and "frontal chest X-ray" in result.message


def as_mpeg2_video(dataset) -> None:
    """Relabel as MPEG-2 (a transfer syntax pydicom has no decoder for) with encapsulated frames."""
    dataset.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"
    dataset.PixelData = encapsulate([b"\x00\x00\x01\xb3" + bytes(60)])


@pytest.mark.parametrize(
    "change, reason, advice",
    [
        (lambda d: setattr(d, "ViewPosition", "LL"), "lateral_view", "PA or AP"),
        (lambda d: setattr(d, "ViewPosition", "LATERAL"), "lateral_view", "PA or AP"),
        (lambda d: setattr(d, "Modality", "US"), "wrong_modality", "frontal chest X-ray"),
        (lambda d: delattr(d, "PixelData"), "no_pixel_data", "Export the X-ray image"),
        (as_mpeg2_video, "no_decoder", "pneumoscan"),
    ],
    ids=["LL", "LATERAL", "ultrasound", "no-pixels", "MPEG2"],
)
def test_unscreenable_dicoms_are_rejected_with_a_reason_and_what_to_do(change, reason, advice):
    dataset = cr_dataset(SAMPLE_JPEGS[0])
    change(dataset)
    with pytest.raises(ImageRejected) as raised:
        dicom_input.read_dicom(dicom_bytes(dataset))
    assert raised.value.reason == reason
    assert advice in str(raised.value)


def test_a_multi_frame_dicom_is_rejected():
    with pytest.raises(ImageRejected) as raised:
        dicom_input.read_dicom(dicom_bytes(cr_dataset(SAMPLE_JPEGS[0], frames=3)))
    assert raised.value.reason == "multi_frame"
    assert "3 images" in str(raised.value)


def test_a_truncated_dicom_is_rejected_as_damaged(shipped_model, tmp_path):
    data = dicom_bytes(cr_dataset(SAMPLE_JPEGS[0]))
    path = tmp_path / "cut.dcm"
    path.write_bytes(data[: len(data) // 2])
    result = scan_file(path, shipped_model)
    assert (result.status, result.reason) == (REJECTED, "corrupt_dicom")


def test_without_the_extra_a_dicom_gets_the_install_command(shipped_model, tmp_path, monkeypatch):
    dicom = write_dicom(cr_dataset(SAMPLE_JPEGS[0]), tmp_path / "IMG0001")
    monkeypatch.setitem(sys.modules, "pydicom", None)  # import pydicom now raises ImportError
    result = scan_file(dicom, shipped_model)
    assert (result.status, result.reason) == (REJECTED, "dicom_support_missing")
    assert 'pip install "pneumoscan[dicom]"' in result.message


def test_folders_yield_dcm_and_extension_less_dicoms_but_not_dicomdir_or_other_files(tmp_path):
    write_dicom(cr_dataset(SAMPLE_JPEGS[0]), tmp_path / "a.dcm")
    write_dicom(cr_dataset(SAMPLE_JPEGS[1]), tmp_path / "IM000001")
    write_dicom(cr_dataset(SAMPLE_JPEGS[1]), tmp_path / "DICOMDIR")
    (tmp_path / "README").write_text("not an image")
    assert [p.name for p in collect_images([tmp_path])] == ["IM000001", "a.dcm"]


def test_edge_scan_scans_a_dicom_folder_and_saves_patient_and_study(tmp_path, monkeypatch):
    monkeypatch.setenv("PNEUMOSCAN_HOME", str(tmp_path / "home"))
    folder = tmp_path / "xrays"
    folder.mkdir()
    write_dicom(cr_dataset(SAMPLE_JPEGS[0], patient_id="DCM-9", study_uid="1.2.9"), folder / "IM000001")
    (folder / "ct.dcm").write_bytes(bundled_file("CT_small.dcm").read_bytes())
    result = CliRunner().invoke(main, ["scan", str(folder), "--format", "json"])
    assert result.exit_code == 1, result.output  # the CT is rejected, the X-ray still scanned
    records = {json.loads(line)["path"].rsplit("/", 1)[-1]: json.loads(line) for line in result.stdout.splitlines()}
    assert records["IM000001"]["status"] == OK
    assert (records["IM000001"]["patient_id"], records["IM000001"]["study_uid"]) == ("DCM-9", "1.2.9")
    assert records["ct.dcm"]["reason"] == "wrong_modality"
    db = sqlite3.connect(tmp_path / "home" / "history.sqlite3")
    stored = db.execute("SELECT study_uid FROM scans WHERE status = 'ok'").fetchall()
    assert stored == [("1.2.9",)]


@pytest.mark.parametrize("syntax", [JPEG2000Lossless, RLELossless], ids=lambda uid: uid.name)
def test_compressed_dicoms_decode_to_the_same_pixels_as_uncompressed(syntax):
    dataset = cr_dataset(SAMPLE_JPEGS[0])
    uncompressed = np.asarray(dicom_input.read_dicom(dicom_bytes(dataset))[0])
    dataset.compress(syntax)
    assert np.array_equal(np.asarray(dicom_input.read_dicom(dicom_bytes(dataset))[0]), uncompressed)


def test_a_rejected_dicom_is_still_filed_under_its_patient_and_study(shipped_model, tmp_path):
    lateral = cr_dataset(SAMPLE_JPEGS[0], view="LL", patient_id="DCM-LAT", study_uid="1.2.5")
    result = scan_file(write_dicom(lateral, tmp_path / "lateral.dcm"), shipped_model)
    assert (result.status, result.reason) == (REJECTED, "lateral_view")
    assert (result.patient_id, result.study_uid) == ("DCM-LAT", "1.2.5")


def test_a_dicom_failing_the_quality_gate_keeps_its_patient(shipped_model, tmp_path):
    dataset = cr_dataset(SAMPLE_JPEGS[0], voi_lut=False, monochrome1=False, patient_id="DCM-DARK")
    stored = np.frombuffer(dataset.PixelData, dtype=np.uint16)
    dataset.PixelData = np.where(stored > 4000, 4095, 0).astype(np.uint16).tobytes()  # black but for a few dots
    result = scan_file(write_dicom(dataset, tmp_path / "dark.dcm"), shipped_model)
    assert result.status == REJECTED and result.reason in ("blank_image", "saturated_image")
    assert result.patient_id == "DCM-DARK"
