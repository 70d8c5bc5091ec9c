"""Damaged image files never reach the model, and large or 16-bit images decode within bounds."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from benchmarks.fuzz import encode
from edge_app import reasons
from edge_app.intake import quality
from edge_app.intake.damage import DamagedImage, _ByteMarkers, check_file_structure
from edge_app.intake.preprocess import decode_image, grayscale_array, squash, to_model_input
from edge_app.reasons import ImageRejected
from tests.conftest import FIXTURE_DATA

XRAY = FIXTURE_DATA / "train" / "PNEUMONIA" / "person1002_bacteria_2933.jpeg"
EOI = b"\xff\xd9"


@pytest.fixture(scope="module")
def xray() -> Image.Image:
    return Image.open(XRAY).convert("L").resize((640, 560), Image.Resampling.BICUBIC)


def reason_for(data: bytes) -> str | None:
    try:
        decode_image(data)
    except ImageRejected as exc:
        return exc.reason
    return None


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.9, 0.97, 0.995])
@pytest.mark.parametrize("options", [{}, {"optimize": True}, {"subsampling": 2}, {"restart_marker_blocks": 8}])
def test_jpeg_cut_short_with_an_end_marker_appended_is_rejected(xray, fraction, options):
    """libjpeg fills the missing blocks with grey and Pillow reports success; the grey is not an X-ray."""
    mode = "RGB" if "subsampling" in options else "L"
    data = encode(xray.convert(mode), "JPEG", quality=90, **options)
    assert reason_for(data) is None
    assert reason_for(data[: int(len(data) * fraction)] + EOI) == reasons.CORRUPT_IMAGE


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.9, 0.99])
def test_jpeg_cut_short_without_an_end_marker_is_rejected(xray, fraction):
    data = encode(xray, "JPEG", quality=90)
    assert reason_for(data[: int(len(data) * fraction)]) == reasons.CORRUPT_IMAGE


def test_progressive_jpeg_missing_its_later_scans_is_rejected(xray):
    data = encode(xray, "JPEG", quality=90, progressive=True)
    assert reason_for(data) is None
    second_scan = data.find(b"\xff\xda", data.find(b"\xff\xda") + 2)
    assert reason_for(data[:second_scan] + EOI) == reasons.CORRUPT_IMAGE


@pytest.mark.parametrize("fraction", [0.2, 0.6, 0.95])
@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_progressive_jpeg_cut_inside_its_last_scan_is_rejected(xray, fraction, mode):
    """Every scan header is there and nothing is grey: only the bottom lacks its finest detail."""
    data = encode(xray.convert(mode), "JPEG", quality=90, progressive=True)
    last_scan = data.rfind(b"\xff\xda") + 12
    cut = last_scan + int((len(data) - last_scan) * fraction)  # a share of the way through the last scan
    assert reason_for(data) is None
    assert reason_for(data[:cut] + EOI) == reasons.CORRUPT_IMAGE


def test_jpeg_header_claiming_7000_by_7000_over_garbage_is_rejected(xray):
    data = encode(xray, "JPEG", quality=90)
    sof = data.find(b"\xff\xc0")
    header = data[: sof + 5] + struct.pack(">HH", 7000, 7000) + data[sof + 9 : data.find(b"\xff\xda") + 10]
    garbage = np.random.default_rng(3).integers(0, 255, 30_000, dtype=np.uint8).tobytes()  # no 0xFF: no markers
    assert reason_for(header + garbage + EOI) == reasons.CORRUPT_IMAGE


def test_png_with_a_zeroed_block_or_a_flipped_bit_is_rejected(xray):
    data = encode(xray, "PNG")
    middle = len(data) // 2
    assert reason_for(data[:middle] + bytes(256) + data[middle + 256 :]) == reasons.CORRUPT_IMAGE
    flipped = bytearray(data)
    flipped[middle] ^= 0x10
    assert reason_for(bytes(flipped)) == reasons.CORRUPT_IMAGE


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
def test_png_cut_short_is_rejected_even_with_its_end_chunk_appended(xray, fraction):
    data = encode(xray, "PNG")
    iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    cut = data[: int(len(data) * fraction)]
    assert reason_for(cut) == reasons.CORRUPT_IMAGE
    assert reason_for(cut + iend) == reasons.CORRUPT_IMAGE


def test_png_header_claiming_more_pixels_than_its_data_is_rejected(xray):
    data = encode(xray, "PNG")
    body = struct.pack(">II", 7000, 7000) + data[24:29]
    ihdr = struct.pack(">I", 13) + b"IHDR" + body + struct.pack(">I", zlib.crc32(b"IHDR" + body))
    assert reason_for(data[:8] + ihdr + data[33:]) == reasons.CORRUPT_IMAGE


def test_garbage_exif_counts_as_damage(xray):
    """Pillow only warns about corrupt EXIF; a decoder warning is treated as an error."""
    exif = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x05\x01\x12\x00\x03\x00\x00\x00\x01"
    assert reason_for(encode(xray, "JPEG", exif=exif)) == reasons.CORRUPT_IMAGE


def test_every_fixture_xray_passes_the_structure_checks():
    paths = sorted(FIXTURE_DATA.rglob("*.jpeg"))
    for path in paths:
        check_file_structure(path.read_bytes())
        check_file_structure(encode(Image.open(path), "PNG"))
    assert len(paths) == 36


def test_stray_bytes_between_jpeg_segments_are_damage(xray):
    data = encode(xray, "JPEG")
    with pytest.raises(DamagedImage):
        check_file_structure(data[:2] + b"\x00\x00" + data[2:])


def test_a_scan_ends_at_the_first_real_marker_and_counts_only_restart_markers_before_it():
    # stuffed zero, restart marker, fill byte before the end marker, then a restart marker after the end
    data = b"\x12\xff\x00\x34\xff\xd0\x56\xff\xd7\xff\xff\xd9\xff\xd1"
    markers = _ByteMarkers.of(data)
    assert markers.scan_end(0, len(data)) == 10  # the 0xFF right before 0xD9, not the fill byte
    assert markers.restarts_between(0, 10) == 2
    assert markers.scan_end(11, len(data)) == len(data)  # nothing after: the scan runs to the end
    assert markers.restarts_between(5, 10) == 1


def test_squash_in_bands_equals_one_whole_image_resize():
    """The bounded-memory squash must give exactly the pixels of the single resize it replaces."""
    rng = np.random.default_rng(5)
    for shape in ((2100, 1700), (130, 3000), (128, 128), (90, 60)):
        image = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))
        whole = Image.fromarray(grayscale_array(image), mode="F").resize((128, 128), Image.Resampling.BILINEAR)
        assert np.array_equal(squash(image, 128), np.asarray(whole, dtype=np.float32))


def sixteen_bit_png(image: Image.Image) -> bytes:
    return encode(image.convert("I").point(lambda value: value * 257).convert("I;16"), "PNG")


@pytest.mark.parametrize("side", [512, 1024, 2048])
def test_sixteen_bit_png_scans_like_its_eight_bit_copy(side):
    """DICOM exports are 16-bit grayscale PNGs; large ones used to crash the quality check."""
    eight = Image.open(XRAY).convert("L").resize((side, side), Image.Resampling.BICUBIC)
    image16 = decode_image(sixteen_bit_png(eight))
    image8 = decode_image(encode(eight, "PNG"))
    assert image16.mode.startswith("I;16")
    quality.check_quality(image16)
    assert np.abs(to_model_input(image16) - to_model_input(image8)).max() < 0.02
