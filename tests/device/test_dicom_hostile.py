"""DICOM files made to mislead or exhaust the reader: windows that clip the chest, headers that claim
gigapixels, garbage behind a valid preamble, side views named in other tags, odd patient IDs.

Verdicts are checked with the shipped model where the claim is about what a health worker is told.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import DeflatedExplicitVRLittleEndian, JPEG2000Lossless, JPEGBaseline8Bit, RLELossless

from edge_app.cli.main import main
from edge_app.inference.model_store import load_model
from edge_app.intake import dicom_input
from edge_app.intake.adjustments import FULL_RANGE, adjustments
from edge_app.package_data import SAMPLES_DIR
from edge_app.reasons import ImageRejected
from edge_app.scan.scanner import OK, REJECTED, scan_file
from tests.dicom_factory import cr_dataset, dicom_bytes, write_dicom

PNEUMONIA_JPEGS = sorted(SAMPLES_DIR.glob("person*.jpeg"))
ANY_JPEG = PNEUMONIA_JPEGS[0]


@pytest.fixture(scope="module")
def shipped_model():
    return load_model()


def rejection(data: bytes) -> ImageRejected:
    with pytest.raises(ImageRejected) as raised:
        dicom_input.read_dicom(data)
    return raised.value


def narrow_window(jpeg: Path, bits: int, monochrome1: bool, window: tuple[float, float]) -> Dataset:
    """A stored window (centre, width as shares of the stored range) showing only a slice of the values."""
    dataset = cr_dataset(jpeg, monochrome1=monochrome1, bits=bits, voi_lut=False)
    top = 2**bits - 1
    dataset.WindowCenter, dataset.WindowWidth = round(window[0] * top), round(window[1] * top)
    return dataset


def saturating_voi_lut(jpeg: Path, bits: int, monochrome1: bool, knee: float) -> Dataset:
    """A VOI LUT that climbs over the first `knee` of the stored range and is pure white after it."""
    dataset = cr_dataset(jpeg, monochrome1=monochrome1, bits=bits, voi_lut=True)
    entries = 2**bits
    ramp = np.minimum(np.arange(entries) / (knee * entries), 1.0)
    lut = np.round(65535 * ramp).astype("<u2")
    dataset.VOILUTSequence[0].add_new(
        "LUTData", "OW" if bits > 15 else "US", lut.tobytes() if bits > 15 else lut.tolist()
    )
    return dataset


WINDOWS = [(0.3, 1 / 32), (0.3, 1 / 8), (0.45, 1 / 4), (0.75, 1 / 8), (0.2, 1 / 16), (0.6, 1 / 16)]
CLIPPING_CASES = [
    pytest.param(narrow_window, bits, mono1, window, id=f"window-{bits}bit-{'M1' if mono1 else 'M2'}-{window}")
    for bits in (12, 16)
    for mono1 in (True, False)
    for window in WINDOWS
] + [
    pytest.param(saturating_voi_lut, bits, mono1, knee, id=f"voilut-{bits}bit-{'M1' if mono1 else 'M2'}-{knee}")
    for bits in (12, 16)
    for mono1 in (True, False)
    for knee in (0.1, 0.4)
]


@pytest.mark.parametrize("make, bits, monochrome1, where", CLIPPING_CASES)
def test_a_window_or_lut_that_clips_the_chest_is_replaced_by_the_full_range(make, bits, monochrome1, where):
    clipped = make(ANY_JPEG, bits, monochrome1, where)
    image, _ = dicom_input.read_dicom(dicom_bytes(clipped))
    assert FULL_RANGE in adjustments(image)
    full = cr_dataset(ANY_JPEG, monochrome1=monochrome1, bits=bits, voi_lut=False)
    full.WindowCenter, full.WindowWidth = 2 ** (bits - 1), 2**bits  # a window wider than all the values
    reference = np.asarray(dicom_input.read_dicom(dicom_bytes(full))[0])
    assert np.corrcoef(np.asarray(image).ravel(), reference.ravel())[0, 1] > 0.999


@pytest.mark.parametrize("jpeg", PNEUMONIA_JPEGS, ids=lambda p: p.name)
@pytest.mark.parametrize("make, bits, monochrome1, where", CLIPPING_CASES[::2])
def test_a_clipped_pneumonia_dicom_is_never_a_confident_normal_and_the_result_says_what_was_done(
    jpeg, make, bits, monochrome1, where, shipped_model, tmp_path
):
    result = scan_file(write_dicom(make(jpeg, bits, monochrome1, where), tmp_path / "x.dcm"), shipped_model)
    if result.status == OK:
        assert result.refer, (result.label, result.score)
        assert FULL_RANGE in result.correction.split("+")
        assert "full range" in result.message
    else:
        assert result.status == REJECTED


def test_a_window_that_clips_only_the_background_is_kept():
    dataset = cr_dataset(ANY_JPEG, voi_lut=True)
    image, _ = dicom_input.read_dicom(dicom_bytes(dataset))
    assert adjustments(image) == ()


def test_a_modality_lut_that_saturates_falls_back_to_the_stored_values():
    dataset = cr_dataset(ANY_JPEG, monochrome1=False, voi_lut=False)
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.ModalityLUTType = "US"
    item.add_new("LUTData", "US", np.where(np.arange(4096) < 300, np.arange(4096) * 100, 30000).tolist())
    dataset.ModalityLUTSequence = [item]
    dataset.WindowCenter, dataset.WindowWidth = 15000, 30000
    image, _ = dicom_input.read_dicom(dicom_bytes(dataset))
    assert FULL_RANGE in adjustments(image)
    plain = cr_dataset(ANY_JPEG, monochrome1=False, voi_lut=False)
    reference = np.asarray(dicom_input.read_dicom(dicom_bytes(plain))[0])
    assert np.corrcoef(np.asarray(image).ravel(), reference.ravel())[0, 1] > 0.999


def rle_bomb(rows: int, columns: int) -> bytes:
    """An RLE DICOM whose one segment is runs of zeros, 64 times smaller than the pixels it declares."""
    dataset = cr_dataset(ANY_JPEG, voi_lut=False, monochrome1=False)
    dataset.Rows, dataset.Columns = rows, columns
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 8, 8, 7
    header = (1).to_bytes(4, "little") + (64).to_bytes(4, "little") + bytes(56)
    dataset.PixelData = encapsulate([header + b"\x81\x00" * (rows * columns // 128)])
    dataset.file_meta.TransferSyntaxUID = RLELossless
    return dicom_bytes(dataset)


def deflate_bomb(pixel_bytes: int) -> bytes:
    """A deflated DICOM of a few hundred kilobytes whose dataset inflates to `pixel_bytes` of zeros."""
    dataset = cr_dataset(ANY_JPEG, voi_lut=False, monochrome1=False)
    dataset.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    written = dicom_bytes(dataset)
    head = written[: dicom_input._file_meta_end(written)]
    squeezer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = squeezer.compress(b"\x08\x00\x60\x00CS\x02\x00CR" + b"\xe0\x7f\x10\x00OW\x00\x00")
    body += squeezer.compress(pixel_bytes.to_bytes(4, "little"))
    zeros = bytes(1 << 24)
    body += b"".join(squeezer.compress(zeros) for _ in range(pixel_bytes >> 24)) + squeezer.flush()
    return head + body


MEASURE = """
import sys
from pathlib import Path
from edge_app.intake.decode import decode_input
from edge_app.reasons import ImageRejected
try:
    decode_input(Path(sys.argv[1]).read_bytes(), 224, sys.argv[1])
    print("decoded")
except (ImageRejected, MemoryError) as exc:
    print(getattr(exc, "reason", type(exc).__name__))
# VmHWM is this process image's own peak: ru_maxrss would carry over the forking test runner's peak across exec.
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) // 1024)
"""


def peak_memory(data: bytes, tmp_path: Path) -> tuple[str, int]:
    """What reading the file ends in, and the peak memory in MB, in a process limited to 3 GB."""
    path = tmp_path / "bomb.dcm"
    path.write_bytes(data)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, preexec_fn=limit, timeout=300
    )
    lines = done.stdout.split()
    return (lines[0], int(lines[1])) if done.returncode == 0 and len(lines) == 2 else (done.stderr[-300:], -1)


@pytest.mark.parametrize(
    "bomb",
    [lambda: rle_bomb(20000, 20000), lambda: rle_bomb(9000, 9000), lambda: deflate_bomb(1 << 30)],
    ids=["rle-20000x20000", "rle-just-over-the-cap", "deflated-1GB"],
)
def test_a_dicom_claiming_gigapixels_is_refused_before_decoding(bomb, tmp_path):
    reason, peak_mb = peak_memory(bomb(), tmp_path)
    assert reason == "decompression_bomb"
    assert 0 < peak_mb < 300


def test_a_compressed_frame_claiming_more_pixels_than_its_header_is_refused():
    dataset = cr_dataset(ANY_JPEG, voi_lut=False, monochrome1=False)
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 8, 8, 7
    sof = b"\xff\xc0\x00\x0b\x08" + (60000).to_bytes(2, "big") * 2 + b"\x01\x01\x11\x00"
    dataset.PixelData = encapsulate([b"\xff\xd8" + sof + b"\xff\xd9"])
    dataset.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    assert rejection(dicom_bytes(dataset)).reason == "decompression_bomb"


def test_a_real_compressed_dicom_passes_the_frame_size_check():
    dataset = cr_dataset(ANY_JPEG)
    dataset.compress(JPEG2000Lossless)
    image, _ = dicom_input.read_dicom(dicom_bytes(dataset))
    assert image.size == (dataset.Columns, dataset.Rows)


@pytest.mark.parametrize(
    "body", [b"\x00" * 3000, bytes(range(256)) * 20, b"\xff\xfe" * 900], ids=["zeros", "bytes", "ff"]
)
def test_garbage_after_a_dicom_preamble_is_a_damaged_dicom_not_another_modality(body):
    data = dicom_bytes(cr_dataset(ANY_JPEG))
    assert rejection(data[:132] + body).reason == "corrupt_dicom"
    assert rejection(data[:140] + body).reason == "corrupt_dicom"


def test_random_garbage_after_the_preamble_is_a_damaged_dicom_and_pydicom_says_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PNEUMOSCAN_HOME", str(tmp_path / "home"))
    data = dicom_bytes(cr_dataset(ANY_JPEG))
    rng = np.random.default_rng(5)
    for index in range(20):
        (tmp_path / f"junk{index}.dcm").write_bytes(data[:132] + rng.bytes(4000))
    done = subprocess.run(
        [sys.executable, "-m", "edge_app", "scan", "--no-history", "--format", "json", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert {record["reason"] for record in records} == {"corrupt_dicom"}
    assert "Warning" not in done.stderr and "pydicom" not in done.stderr


@pytest.mark.parametrize(
    "keyword, value",
    [
        *[("ViewPosition", view) for view in ("LAO", "RAO", "LPO", "RPO", "LLD", "RLD", "OBLIQUE", "AP LLD")],
        ("SeriesDescription", "Chest lateral"),
        ("SeriesDescription", "CHEST LAT"),
        ("SeriesDescription", "Decubitus left"),
        ("ProtocolName", "Thorax oblique"),
    ],
)
def test_oblique_decubitus_and_side_views_named_anywhere_are_refused(keyword, value):
    dataset = cr_dataset(ANY_JPEG, view="")
    setattr(dataset, keyword, value)
    refused = rejection(dicom_bytes(dataset))
    assert refused.reason == "lateral_view"
    assert "frontal (PA or AP)" in str(refused)


def test_a_view_code_sequence_saying_lateral_is_refused():
    dataset = cr_dataset(ANY_JPEG, view="")
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "R-10232", "SRT", "lateral"
    dataset.ViewCodeSequence = [code]
    assert rejection(dicom_bytes(dataset)).reason == "lateral_view"


@pytest.mark.parametrize("view", ["PA", "AP", "", "AP ERECT"])
def test_frontal_views_are_still_read(view):
    dataset = cr_dataset(ANY_JPEG, view=view)
    dataset.SeriesDescription = "Chest PA"
    image, _ = dicom_input.read_dicom(dicom_bytes(dataset))
    assert image.size == (dataset.Columns, dataset.Rows)


@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("P-1\x1b[31m\r\nPNEUMONIA", "P-1 [31m PNEUMONIA"),
        ("\u202eP-2\u2066", "P-2"),
        ("=HYPERLINK(1)\x00", "=HYPERLINK(1)"),
        (b"P-3\xff\x07", "P-3\ufffd"),
        ("   ", None),
    ],
)
def test_dicom_patient_ids_are_cleaned_before_they_are_recorded(raw, cleaned, shipped_model, tmp_path):
    dataset = cr_dataset(ANY_JPEG)
    dataset.SpecificCharacterSet = "ISO_IR 192"  # UTF-8
    if isinstance(raw, bytes):
        dataset.add_new(0x00100020, "UN", raw)
    else:
        dataset.PatientID = raw
    result = scan_file(write_dicom(dataset, tmp_path / "x.dcm"), shipped_model)
    assert result.patient_id == cleaned


def test_cleaned_patient_ids_reach_the_history_and_fhir(tmp_path, monkeypatch):
    monkeypatch.setenv("PNEUMOSCAN_HOME", str(tmp_path / "home"))
    dataset = cr_dataset(ANY_JPEG, patient_id="P-9\x1b]0;owned\x07\nX")
    write_dicom(dataset, tmp_path / "x.dcm")
    assert CliRunner().invoke(main, ["scan", str(tmp_path / "x.dcm")]).exit_code == 0
    fhir = CliRunner().invoke(main, ["history", "--format", "fhir"]).stdout
    assert "\x1b" not in fhir and "\\u001b" not in fhir
    assert "P-9 ]0;owned X" in fhir


def test_the_report_says_the_stored_window_was_set_aside(shipped_model, tmp_path):
    from edge_app.outputs.clinic_outputs import ClinicOutputs
    from edge_app.outputs.html_report import render_report
    from edge_app.scan.scanner import scan_prepared_files

    path = write_dicom(narrow_window(PNEUMONIA_JPEGS[0], 12, False, (0.3, 1 / 32)), tmp_path / "x.dcm")
    explained = ClinicOutputs(shipped_model, None).add(
        next(scan_prepared_files([path], shipped_model, keep_images=True))
    )
    assert explained.result.correction == FULL_RANGE
    for language, words in (("en", "full range of its values"), ("fr", "toute l'étendue de ses valeurs")):
        page = render_report([explained], shipped_model, None, "2026-03-01", language)
        assert words in page.replace("&#x27;", "'")
